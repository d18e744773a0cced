//! The HTTP API in-process (the router, every endpoint and error) and once over a real socket.
//! Two real indexes: the shared subset (relations, no vectors: the degraded path) and the
//! real-model vector index of `vector_search`.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use occusearch::index::OccuIndex;
use occusearch::search::Searcher;
use occusearch::server::{router, AppState, Loaded, ServerOptions};
use occusearch::types::{ConceptId, Kind, RelationType};

use crate::common::{shared_index_root, SOFTWARE_DEVELOPER};

/// The shared subset, text only (no vectors in it): relations, ESCO skills, materials.
fn text_state() -> Arc<AppState> {
    static STATE: OnceLock<Arc<AppState>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let searcher = Searcher::text_only(OccuIndex::open(shared_index_root()).unwrap());
            Arc::new(AppState::with(Loaded::new(searcher).unwrap()))
        })
        .clone()
}

/// The vector index with the real model.
fn vector_state() -> Arc<AppState> {
    static STATE: OnceLock<Arc<AppState>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let index = OccuIndex::open(crate::vector_search::root()).unwrap();
            let searcher = Searcher::new(index, Ok(crate::embedding::models())).unwrap();
            Arc::new(AppState::with(Loaded::new(searcher).unwrap()))
        })
        .clone()
}

fn app(state: Arc<AppState>) -> Router {
    router(state, ServerOptions::default())
}

async fn call(app: Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let request = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) }));
    (status, json)
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn health_stats_and_openapi() {
    let (status, body) = call(app(text_state()), "GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["vectors"], false);
    let (status, body) = call(app(text_state()), "GET", "/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["manifest"]["concepts"].as_u64().unwrap() > 10_000);
    let (status, body) = call(app(text_state()), "GET", "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["openapi"], "3.0.3");
    for path in [
        "/search",
        "/suggest",
        "/occupations/{id}",
        "/skills/{id}",
        "/profiles/{id}",
        "/materials/{id}",
        "/concepts/{id}",
        "/match",
        "/materials/for-skills",
        "/similar",
        "/duplicates",
        "/health",
        "/stats",
    ] {
        assert!(
            body["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test]
async fn without_an_index_every_endpoint_answers_503() {
    let empty = Arc::new(AppState::default());
    let (status, _) = call(app(empty.clone()), "GET", "/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, body) = call(app(empty.clone()), "GET", "/search?q=nurse", None).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "no_index");
    let (status, body) = call(app(empty), "POST", "/match", Some(json!({ "skills": ["python"] }))).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "no_index");
}

#[tokio::test]
async fn search_returns_hits_with_evidence_and_facets_over_all_candidates() {
    let (status, body) = call(app(vector_state()), "GET", "/search?q=Krankenpfleger&limit=5", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mode"], "hybrid");
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    for hit in hits {
        assert!(
            hit["matched_label"].is_string() && hit["matched_lang"].is_string(),
            "{hit}"
        );
        assert!(hit["text_rank"].is_u64() || hit["vector_rank"].is_u64(), "{hit}");
    }
    let total = body["total"].as_u64().unwrap();
    assert!(total > 5);
    let kinds: u64 = body["facets"]["kind"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(kinds, total, "every candidate has one kind");
    // Filters narrow the facets too.
    let (_, body) = call(
        app(vector_state()),
        "GET",
        "/search?q=remote%20sensing&kind=material",
        None,
    )
    .await;
    let kinds = body["facets"]["kind"].as_object().unwrap();
    assert_eq!(kinds.keys().collect::<Vec<_>>(), ["material"], "{body}");
    // Several kinds: repeated keys and a comma list ask the same thing, and only those kinds.
    let (_, body) = call(app(vector_state()), "GET", "/search?q=data&limit=50", None).await;
    let all_kinds: Vec<String> = body["facets"]["kind"].as_object().unwrap().keys().cloned().collect();
    assert!(all_kinds.len() >= 3, "a query over several kinds is needed: {body}");
    let wanted = &all_kinds[..2];
    let mut answers = Vec::new();
    for uri in [
        format!("/search?q=data&limit=50&kind={}&kind={}", wanted[0], wanted[1]),
        format!("/search?q=data&limit=50&kind={},{}", wanted[0], wanted[1]),
    ] {
        let (status, body) = call(app(vector_state()), "GET", &uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        let kinds: Vec<String> = body["facets"]["kind"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(kinds, wanted, "{uri}: {body}");
        answers.push(body["hits"].clone());
    }
    assert_eq!(answers[0], answers[1]);
    // Text mode on the index without vectors: degraded with a notice.
    let (status, body) = call(app(text_state()), "GET", "/search?q=nurse&mode=hybrid", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["mode"], "text");
    assert!(body["notice"].as_str().unwrap().contains("without vectors"), "{body}");
}

#[tokio::test]
async fn bad_search_parameters_are_400_with_a_stable_code() {
    for uri in [
        "/search",
        "/search?q=",
        "/search?q=nurse&limit=0",
        "/search?q=nurse&limit=1000",
        "/search?q=nurse&eqf=x",
        "/search?q=nurse&eqf=9",
        "/search?q=nurse&mode=fuzzy",
        "/search?q=nurse&kind=planet",
        "/search?q=nurse&kind=skill&kind=planet",
        "/search?q=nurse&q=welder",
        "/search?q=nurse&lang=english",
        "/search?q=nurse&isco=22x",
        "/search?q=nurse&unknown=1",
    ] {
        let (status, body) = call(app(text_state()), "GET", uri, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body["error"]["code"].is_string(), "{uri}: {body}");
    }
    let (status, body) = call(app(text_state()), "GET", "/nowhere", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn suggest_completes_prefixes_and_corrects_typos() {
    let (status, body) = call(app(text_state()), "GET", "/suggest?q=softw&lang=en", None).await;
    assert_eq!(status, StatusCode::OK);
    let labels: Vec<&str> = body["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert!(labels.iter().all(|l| l.to_lowercase().contains("softw")), "{labels:?}");
    assert!(labels.contains(&"software developer"), "{labels:?}");
    let (_, body) = call(app(text_state()), "GET", "/suggest?q=Softwareentw&lang=de", None).await;
    assert!(!body["suggestions"].as_array().unwrap().is_empty(), "{body}");
    let (_, body) = call(app(text_state()), "GET", "/suggest?q=sofware%20develo&lang=en", None).await;
    let first = &body["suggestions"][0];
    assert_eq!(first["label"], "software developer", "{body}");
    assert_eq!(first["corrected"], true);
}

#[tokio::test]
async fn entities_accept_uris_and_uuids_and_fall_back_to_english() {
    let encoded = encode(SOFTWARE_DEVELOPER);
    let (status, body) = call(
        app(text_state()),
        "GET",
        &format!("/occupations/{encoded}?lang=de"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lang"], "de");
    assert!(!body["essential_skills"].as_array().unwrap().is_empty());
    let uuid = SOFTWARE_DEVELOPER.rsplit('/').next().unwrap();
    let (status, body) = call(app(text_state()), "GET", &format!("/concepts/{uuid}?lang=lt"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["requested_lang"], "lt");
    assert_eq!(body["id"], SOFTWARE_DEVELOPER);
    // A known id of another kind, and an unknown id.
    let (status, body) = call(app(text_state()), "GET", &format!("/profiles/{encoded}"), None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = call(app(text_state()), "GET", "/skills/no-such-skill", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, _) = call(app(text_state()), "GET", "/profiles/ecsf%3Aciso", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn match_ranks_by_weighted_coverage_and_reports_the_gap() {
    let catalog = OccuIndex::open(shared_index_root()).unwrap().load_catalog().unwrap();
    let developer = ConceptId::new(SOFTWARE_DEVELOPER);
    let essential: Vec<String> = catalog
        .relations
        .iter()
        .filter(|r| r.from == developer && r.relation == RelationType::EssentialSkill)
        .map(|r| r.to.to_string())
        .collect();
    assert!(essential.len() >= 4);
    let (given, missing) = essential.split_at(essential.len() / 2);
    let mut skills: Vec<Value> = given.iter().map(|s| json!(s)).collect();
    skills.push(json!("computer programming"));
    let (status, body) = call(
        app(text_state()),
        "POST",
        "/match",
        Some(json!({ "skills": skills, "kind": ["occupation"], "limit": 20 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let resolved = body["resolved"].as_array().unwrap();
    assert!(resolved
        .iter()
        .any(|r| r["via"] == "search" && r["input"] == "computer programming"));
    let developer_match = body["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == SOFTWARE_DEVELOPER)
        .expect("software developer among the matches");
    let missing_ids: Vec<&str> = developer_match["missing_essential"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    for skill in missing {
        let covered_by_text = resolved.iter().any(|r| r["id"] == skill.as_str());
        assert!(
            covered_by_text || missing_ids.contains(&skill.as_str()),
            "{skill} not in the gap"
        );
    }
    let breakdown = &developer_match["breakdown"];
    let score = developer_match["score"].as_f64().unwrap();
    // The score is the harmonic mean of the two coverages the breakdown explains.
    let (target, user) = (
        breakdown["target_coverage"].as_f64().unwrap(),
        breakdown["user_coverage"].as_f64().unwrap(),
    );
    assert!(
        (0.0..=1.0).contains(&target) && (0.0..=1.0).contains(&user),
        "{breakdown}"
    );
    let expected = 2.0 * target * user / (target + user);
    assert!((score - expected).abs() < 1e-9, "{developer_match}");
    let scores: Vec<f64> = body["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    // Every essential skill: full coverage of the essentials, nothing missing.
    let all: Vec<Value> = essential.iter().map(|s| json!(s)).collect();
    let (_, body) = call(
        app(text_state()),
        "POST",
        "/match",
        Some(json!({ "skills": all, "limit": 100 })),
    )
    .await;
    let full = body["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == SOFTWARE_DEVELOPER)
        .unwrap();
    assert!(full["missing_essential"].as_array().unwrap().is_empty(), "{full}");
}

#[tokio::test]
async fn bad_bodies_are_400_and_oversized_ones_413() {
    let (status, body) = call(app(text_state()), "POST", "/match", Some(json!({ "skills": [] }))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parameter");
    let (status, body) = call(app(text_state()), "POST", "/match", Some(json!({ "skill": ["x"] }))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
    let huge = "x".repeat(100 * 1024);
    let (status, body) = call(app(text_state()), "POST", "/match", Some(json!({ "skills": [huge] }))).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (status, body) = call(
        app(text_state()),
        "POST",
        "/materials/for-skills",
        Some(json!({ "skills": ["gis"], "eqf": 12 })),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parameter");
    let (status, body) = call(
        app(vector_state()),
        "POST",
        "/similar",
        Some(json!({ "text": "a", "id": "b" })),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parameter");
}

#[tokio::test]
async fn materials_for_skills_use_relations_and_similarity() {
    let catalog = OccuIndex::open(shared_index_root()).unwrap().load_catalog().unwrap();
    let covers = catalog
        .relations
        .iter()
        .find(|r| r.relation == RelationType::Covers && catalog.concepts[&r.from].kind == Kind::Material)
        .expect("a material covering a concept");
    let (status, body) = call(
        app(text_state()),
        "POST",
        "/materials/for-skills",
        Some(json!({ "skills": [covers.to.to_string()] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let material = body["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == covers.from.to_string())
        .expect("the covering material");
    assert_eq!(material["covers"][0]["via"], "relation");
    assert_eq!(material["coverage"], 1.0);
    // With vectors, a free text reaches materials by similarity even where this corpus has no
    // skill for it (no confident skill here: it searches materials by itself).
    let (status, body) = call(
        app(vector_state()),
        "POST",
        "/materials/for-skills",
        Some(json!({ "skills": ["remote sensing"], "lang": "de" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = &body["materials"][0];
    assert!(first["id"].as_str().unwrap().starts_with("eo4geo:"), "{body}");
    assert!(first["covers"][0]["similarity"].as_f64().is_some(), "{body}");
}

#[tokio::test]
async fn similar_and_duplicates_give_evidence() {
    let (status, body) = call(
        app(vector_state()),
        "POST",
        "/similar",
        Some(json!({ "id": "ecsf:ciso", "kind": ["profile"], "limit": 3 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let similar = body["similar"].as_array().unwrap();
    assert_eq!(similar.len(), 3);
    assert!(similar.iter().all(|s| s["kind"] == "profile" && s["id"] != "ecsf:ciso"));
    assert!(similar[0]["shared_skills"].as_u64().is_some());
    let (status, body) = call(
        app(vector_state()),
        "POST",
        "/similar",
        Some(json!({ "text": "Ausbildung in Fernerkundung", "kind": ["material"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["similar"][0]["similarity"].as_f64().unwrap() > 0.8);
    let (status, body) = call(app(vector_state()), "POST", "/similar", Some(json!({ "id": "nope" }))).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = call(
        app(vector_state()),
        "GET",
        "/duplicates?kind=material&min_similarity=0.9&cross_source=false",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let clusters = body["clusters"].as_array().unwrap();
    assert!(!clusters.is_empty(), "{body}");
    for cluster in clusters {
        assert!(cluster["members"].as_array().unwrap().len() >= 2);
        for pair in cluster["pairs"].as_array().unwrap() {
            assert!(pair["similarity"].as_f64().unwrap() >= 0.9 - 1e-6, "{pair}");
        }
    }
    // The alliance's question across sources: ENISA's "Penetration Tester" and ESCO's "ethical
    // hacker" (no word in common) are found as one cluster.
    let (status, body) = call(
        app(vector_state()),
        "GET",
        "/duplicates?kind=profile,occupation&min_similarity=0.95",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pentester = body["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == "ecsf:pentester")
        })
        .unwrap_or_else(|| panic!("no cluster with ecsf:pentester: {body}"));
    assert!(
        pentester["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["source"] == "esco"),
        "{pentester}"
    );
    assert!(pentester["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["cross_source"] == true));
    let (status, body) = call(app(vector_state()), "GET", "/duplicates?min_similarity=2", None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_parameter");
    // Without vectors: 503 with a reason, not a wrong answer.
    let (status, body) = call(app(text_state()), "POST", "/similar", Some(json!({ "text": "gis" }))).await;
    assert_error(status, &body, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

#[tokio::test]
async fn a_real_socket_serves_json() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app(text_state())).await.unwrap();
    });
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /search?q=Softwareentwickler&lang=de&limit=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("application/json"), "{response}");
    assert!(response.contains(SOFTWARE_DEVELOPER), "{response}");
    server.abort();
}

#[tokio::test]
async fn free_texts_without_confident_evidence_come_back_unresolved_with_suggestions() {
    let skills = json!(["x", "asdf", "computer programming"]);
    let (status, body) = call(app(vector_state()), "POST", "/match", Some(json!({ "skills": skills }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unresolved: Vec<&str> = body["unresolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["input"].as_str().unwrap())
        .collect();
    assert_eq!(unresolved, vec!["x", "asdf"], "{body}");
    for entry in body["unresolved"].as_array().unwrap() {
        assert!(entry["suggestions"].as_array().unwrap().len() <= 3, "{entry}");
    }
    let resolved = body["resolved"].as_array().unwrap();
    assert!(resolved.iter().all(|r| r["input"] == "computer programming"), "{body}");
    assert!(resolved
        .iter()
        .all(|r| (0.9..=1.0).contains(&r["confidence"].as_f64().unwrap())));
}
