//! Request and response bodies of the HTTP API (the library's types stay free of HTTP).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::search::matching::{MaterialMatch, ResolvedSkill, SkillMatch, UnresolvedSkill};
use crate::search::similar::{DuplicateCluster, Similar};
use crate::search::suggest::Suggestion;
use crate::search::{Hit, Mode};
use crate::types::{Kind, Lang};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    pub q: String,
    pub lang: Option<String>,
    /// Kinds, comma-separated, repeated (`kind=a&kind=b`) or both.
    #[serde(default)]
    pub kind: Vec<String>,
    pub isco: Option<String>,
    pub source: Option<String>,
    pub eqf: Option<u8>,
    pub mode: Option<String>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// Counts over every candidate of the query (not only the page), after its filters.
#[derive(Debug, Default, Serialize)]
pub struct Facets {
    pub kind: BTreeMap<String, usize>,
    /// Languages the matching concepts have labels in.
    pub lang: BTreeMap<String, usize>,
    pub source: BTreeMap<String, usize>,
    /// ISCO-08 major group (first digit) of occupations and ISCO groups.
    pub isco_major: BTreeMap<String, usize>,
    pub eqf: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct SearchResponse {
    pub query: String,
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// Candidates found (the facets count these).
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestParams {
    pub q: String,
    pub lang: Option<String>,
    #[serde(default)]
    pub kind: Vec<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct SuggestResponse {
    pub query: String,
    pub lang: String,
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityParams {
    pub lang: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchBody {
    /// Skill ids or free texts in any language.
    pub skills: Vec<String>,
    pub lang: Option<String>,
    pub kind: Option<Vec<String>>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct MatchResponse {
    pub resolved: Vec<ResolvedSkill>,
    pub unresolved: Vec<UnresolvedSkill>,
    pub matches: Vec<SkillMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialsBody {
    pub skills: Vec<String>,
    pub lang: Option<String>,
    pub eqf: Option<u8>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct MaterialsResponse {
    pub resolved: Vec<ResolvedSkill>,
    pub unresolved: Vec<UnresolvedSkill>,
    pub materials: Vec<MaterialMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarBody {
    pub text: Option<String>,
    pub id: Option<String>,
    pub kind: Option<Vec<String>>,
    pub lang: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct SimilarResponse {
    pub similar: Vec<Similar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicatesParams {
    #[serde(default)]
    pub kind: Vec<String>,
    pub min_similarity: Option<f32>,
    /// Only pairs from different sources (default true: the alliance's question).
    pub cross_source: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct DuplicatesResponse {
    pub kinds: Vec<Kind>,
    pub min_similarity: f32,
    pub cross_source: bool,
    pub clusters: Vec<DuplicateCluster>,
}

/// Most hits, suggestions or matches one request may ask for.
pub const MAX_LIMIT: usize = 100;

pub fn parse_lang(value: Option<&str>, default: &str) -> Result<Lang, ApiError> {
    let text = value.unwrap_or(default);
    Lang::parse(text).ok_or_else(|| ApiError::bad_request(format!("lang {text:?} is not an ISO 639-1 code")))
}

pub fn parse_kinds<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> Result<Vec<Kind>, ApiError> {
    values
        .into_iter()
        .flat_map(|v| v.as_ref().split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .map(|v| {
            Kind::parse(&v).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::bad_request(format!("kind {v:?} is not one of {}", known.join(", ")))
            })
        })
        .collect()
}

pub fn parse_limit(value: Option<usize>, default: usize) -> Result<usize, ApiError> {
    let limit = value.unwrap_or(default);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(format!(
            "limit must be 1 to {MAX_LIMIT}, not {limit}"
        )))
    }
}
