//! The OpenAPI 3.0 description of the HTTP API, served at `/openapi.json`.

use serde_json::{json, Value};

fn query(name: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({ "name": name, "in": "query", "required": required, "description": description, "schema": schema })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn integer(minimum: u32, maximum: u32) -> Value {
    json!({ "type": "integer", "minimum": minimum, "maximum": maximum })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn error_responses(mut responses: Value, statuses: &[&str]) -> Value {
    for status in statuses {
        let description = match *status {
            "400" => "Invalid parameter or body",
            "404" => "Unknown id",
            "401" => "Missing or wrong bearer token",
            "408" => "The request took longer than the server allows (its work stops too)",
            "413" => "Body too large",
            "503" => "No index loaded yet, vectors unavailable for this request, or (code `overloaded`, with Retry-After) too many expensive requests at once",
            _ => "Error",
        };
        responses[*status] = json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
        });
    }
    responses
}

fn entity_path(what: &str) -> Value {
    json!({
        "get": {
            "summary": format!("One {what} with its labels in `lang` (fallback English) and its relations"),
            "parameters": [
                { "name": "id", "in": "path", "required": true, "schema": string(),
                  "description": "ESCO URI (URL-encoded), bare ESCO UUID, or source id such as ecsf:ciso" },
                query("lang", "Language of labels (ISO 639-1); the response's `lang` says which was used", string(), false)
            ],
            "responses": error_responses(json!({ "200": ok("The concept", "Concept") }), &["400", "404", "503"])
        }
    })
}

fn skills_body(extra: Value) -> Value {
    let mut properties = json!({
        "skills": { "type": "array", "items": string(), "minItems": 1, "maxItems": 100,
                    "description": "Skill ids or free texts in any language" },
        "lang": string(),
        "limit": integer(1, 100)
    });
    if let (Some(target), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    json!({ "required": true, "content": { "application/json": { "schema": {
        "type": "object", "required": ["skills"], "additionalProperties": false, "properties": properties
    } } } })
}

pub fn document() -> Value {
    let kinds = json!({
        "type": "array",
        "items": { "type": "string" },
        "description": "Repeated (kind=a&kind=b) or comma-separated (kind=a,b): occupation, skill, isco-group, skill-group, profile, concept, material"
    });
    let object = json!({ "type": "object", "additionalProperties": true });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "occusearch",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Search European occupations, skills, profiles and training materials across languages (full-text and multilingual embeddings)."
        },
        "paths": {
            "/search": { "get": {
                "summary": "Ranked concepts for a query, with per-hit evidence and facet counts",
                "parameters": [
                    query("q", "The query, any language", string(), true),
                    query("lang", "Query language (analysis and display)", string(), false),
                    query("kind", "Kinds to return", kinds.clone(), false),
                    query("isco", "ISCO-08 group, 1 to 4 digits", string(), false),
                    query("source", "Source (esco, ecsf, eo4geo, digcomp, e-cf, ...)", string(), false),
                    query("eqf", "EQF level", integer(1, 8), false),
                    query("mode", "text, vector or hybrid (default hybrid)", json!({ "type": "string", "enum": ["text", "vector", "hybrid"] }), false),
                    query("limit", "Hits per page", integer(1, 100), false),
                    query("offset", "Hits to skip", integer(0, 1000), false)
                ],
                "responses": error_responses(json!({ "200": ok("Hits and facets", "SearchResponse") }), &["400", "408", "503"])
            } },
            "/suggest": { "get": {
                "summary": "Autocomplete (prefix and typo tolerant)",
                "parameters": [
                    query("q", "Typed text", string(), true),
                    query("lang", "Label language (default en)", string(), false),
                    query("kind", "Kinds to suggest", kinds.clone(), false),
                    query("limit", "Suggestions", integer(1, 100), false)
                ],
                "responses": error_responses(json!({ "200": ok("Suggestions", "SuggestResponse") }), &["400", "503"])
            } },
            "/occupations/{id}": entity_path("occupation"),
            "/skills/{id}": entity_path("skill"),
            "/profiles/{id}": entity_path("profile"),
            "/materials/{id}": entity_path("material"),
            "/concepts/{id}": entity_path("concept"),
            "/match": { "post": {
                "summary": "Occupations and profiles ranked by weighted coverage of the given skills, with the gap",
                "requestBody": skills_body(json!({ "kind": { "type": "array", "items": string() } })),
                "responses": error_responses(json!({ "200": ok("Resolved skills and ranked matches", "MatchResponse") }), &["400", "408", "413", "503"])
            } },
            "/materials/for-skills": { "post": {
                "summary": "Training materials covering the given skills, ranked by coverage and relevance",
                "requestBody": skills_body(json!({ "eqf": integer(1, 8) })),
                "responses": error_responses(json!({ "200": ok("Resolved skills and ranked materials", "MaterialsResponse") }), &["400", "408", "413", "503"])
            } },
            "/similar": { "post": {
                "summary": "Concepts nearest to a text or to a concept, with evidence",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "additionalProperties": false,
                    "properties": { "text": string(), "id": string(), "kind": { "type": "array", "items": string() }, "lang": string(), "limit": integer(1, 100) }
                } } } },
                "responses": error_responses(json!({ "200": ok("Similar concepts", "SimilarResponse") }), &["400", "404", "408", "413", "503"])
            } },
            "/duplicates": { "get": {
                "summary": "Clusters of near-duplicate profiles, materials or tools",
                "parameters": [
                    query("kind", "Kinds to compare (default profile,material)", kinds, false),
                    query("min_similarity", "Cosine similarity a pair must reach (default 0.93)", json!({ "type": "number", "minimum": 0, "maximum": 1 }), false),
                    query("cross_source", "Only pairs from different sources (default true)", json!({ "type": "boolean" }), false)
                ],
                "responses": error_responses(json!({ "200": ok("Clusters", "DuplicatesResponse") }), &["400", "408", "503"])
            } },
            "/admin/reload": { "post": {
                "summary": "Load the current index generation now (the server also notices a new one by itself within seconds). Present only when the server has an admin token",
                "security": [ { "adminToken": [] } ],
                "responses": error_responses(json!({ "200": ok("`status` reloaded or unchanged, and the `generation` served", "Object") }), &["401", "503"])
            } },
            "/health": { "get": {
                "summary": "Liveness and readiness, and the index generation served",
                "responses": { "200": ok("Ready", "Object"), "503": ok("Still loading", "Object") }
            } },
            "/stats": { "get": {
                "summary": "The index generation served, its manifest and counts",
                "responses": error_responses(json!({ "200": ok("Manifest", "Object") }), &["503"])
            } },
            "/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": ok("OpenAPI 3 document", "Object") }
            } }
        },
        "components": {
          "securitySchemes": { "adminToken": { "type": "http", "scheme": "bearer",
            "description": "The token of `occusearch serve --admin-token-file` or OCCUSEARCH_ADMIN_TOKEN" } },
          "schemas": {
            "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                "type": "object", "required": ["code", "message"],
                "properties": { "code": { "type": "string", "description": "Stable snake_case code" }, "message": string() }
            } } },
            "Hit": { "type": "object", "required": ["id", "label", "lang", "score"], "properties": {
                "id": string(), "kind": string(), "label": string(), "lang": string(), "english_label": string(),
                "source": string(), "score": { "type": "number" },
                "matched_label": string(), "matched_lang": string(),
                "matched_terms": { "type": "array", "items": string() },
                "text_rank": { "type": "integer", "nullable": true }, "text_score": { "type": "number", "nullable": true },
                "vector_rank": { "type": "integer", "nullable": true },
                "vector": { "type": "object", "nullable": true, "properties": {
                    "label": string(), "lang": string(), "field": string(), "similarity": { "type": "number" } } }
            } },
            "SearchResponse": { "type": "object", "required": ["query", "mode", "total", "hits", "facets"], "properties": {
                "query": string(), "mode": string(), "notice": string(), "total": { "type": "integer" },
                "offset": { "type": "integer" }, "limit": { "type": "integer" },
                "hits": { "type": "array", "items": { "$ref": "#/components/schemas/Hit" } },
                "facets": { "type": "object", "additionalProperties": { "type": "object", "additionalProperties": { "type": "integer" } } }
            } },
            "SuggestResponse": { "type": "object", "properties": {
                "query": string(), "lang": string(),
                "suggestions": { "type": "array", "items": { "type": "object", "properties": {
                    "id": string(), "kind": string(), "label": string(), "lang": string(), "corrected": { "type": "boolean" } } } }
            } },
            "Concept": object.clone(),
            "MatchResponse": object.clone(),
            "MaterialsResponse": object.clone(),
            "SimilarResponse": object.clone(),
            "DuplicatesResponse": object.clone(),
            "Object": object
        } }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_reference_points_to_a_defined_schema() {
        let document = super::document();
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for reference in text.split("#/components/schemas/").skip(1) {
            let name: String = reference.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "undefined schema {name}");
        }
        assert_eq!(document["openapi"], "3.0.3");
    }
}
