//! Search: validates a request, analyses the query, retrieves from the text store, collapses the
//! per-language documents of one concept into one hit, and explains each hit (which label in
//! which language matched, and on which query words).

pub mod fusion;
mod show;

use serde::Serialize;

pub use show::{show, ConceptView, LinkedConcept};

use crate::analyze::{analyze_query, label_prefixes, Analyzer, QueryWord};
use crate::error::{Error, Result};
use crate::index::{FieldWeights, OccuIndex, TextFilters, TextHit};
use crate::types::{Kind, Lang};

/// Most hits one request may ask for (offset + limit).
pub const MAX_RESULTS: usize = 1000;
/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub lang: Option<Lang>,
    pub kinds: Vec<Kind>,
    pub source: Option<String>,
    /// ISCO-08 group code at any level (`2`, `21`, `216`, `2166`).
    pub isco: Option<String>,
    pub eqf: Option<u8>,
    pub limit: usize,
    pub offset: usize,
}

impl SearchRequest {
    pub fn new(query: impl Into<String>) -> Self {
        SearchRequest {
            query: query.into(),
            limit: 10,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidRequest(message));
        if self.query.trim().is_empty() {
            return invalid("the query is empty".into());
        }
        if self.query.chars().count() > MAX_QUERY_CHARS {
            return invalid(format!("the query is longer than {MAX_QUERY_CHARS} characters"));
        }
        if self.limit == 0 || self.limit + self.offset > MAX_RESULTS {
            return invalid(format!(
                "limit must be at least 1 and offset + limit at most {MAX_RESULTS}"
            ));
        }
        if let Some(isco) = &self.isco {
            if isco.is_empty() || isco.len() > 4 || !isco.chars().all(|c| c.is_ascii_digit()) {
                return invalid(format!("isco must be an ISCO-08 code of 1 to 4 digits, not {isco:?}"));
            }
        }
        if let Some(eqf) = self.eqf {
            if !(1..=8).contains(&eqf) {
                return invalid(format!("eqf must be an EQF level from 1 to 8, not {eqf}"));
            }
        }
        Ok(())
    }
}

/// One ranked concept.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: String,
    pub kind: Option<Kind>,
    /// Display label in the language of the best-matching document.
    pub label: String,
    pub lang: String,
    pub source: String,
    pub score: f32,
    /// The label that matched best (may differ from the display label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_label: Option<String>,
    /// Query words found in the matched label.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matched_terms: Vec<String>,
}

/// How many documents to fetch so that, after collapsing languages, `wanted` concepts remain.
fn candidate_depth(request: &SearchRequest) -> usize {
    let wanted = request.offset + request.limit;
    if request.lang.is_some() {
        wanted
    } else {
        (wanted * 4 + 16).min(MAX_RESULTS * 4)
    }
}

/// The label of a document that shares most query words, with those words.
fn explain(hit: &TextHit, words: &[QueryWord]) -> (Option<String>, Vec<String>) {
    let Some(lang) = Lang::parse(&hit.lang) else {
        return (None, Vec::new());
    };
    let mut analyzer = Analyzer::for_lang(&lang);
    let mut best: Option<(usize, &String, Vec<String>)> = None;
    for label in &hit.labels {
        let stems = analyzer.stems(label);
        let prefixes = label_prefixes(label);
        let matched: Vec<String> = words
            .iter()
            .filter(|w| {
                w.stems.iter().any(|s| stems.contains(s)) || w.prefix.as_ref().is_some_and(|p| prefixes.contains(p))
            })
            .map(|w| w.word.clone())
            .collect();
        let better = match &best {
            None => !matched.is_empty(),
            Some((count, _, _)) => matched.len() > *count,
        };
        if better {
            best = Some((matched.len(), label, matched));
        }
    }
    match best {
        Some((_, label, matched)) => (Some(label.clone()), matched),
        None => (None, Vec::new()),
    }
}

/// Runs a text search and returns ranked concepts, one hit per concept.
pub fn search(index: &OccuIndex, request: &SearchRequest, weights: &FieldWeights) -> Result<Vec<Hit>> {
    request.validate()?;
    let words = analyze_query(&request.query, request.lang.as_ref());
    let filters = TextFilters {
        kinds: request.kinds.clone(),
        lang: request.lang.clone(),
        source: request.source.clone(),
        isco: request.isco.clone(),
        eqf: request.eqf,
    };
    let documents = index.text.search(&words, &filters, weights, candidate_depth(request))?;
    let mut seen = std::collections::HashSet::new();
    let hits = documents
        .into_iter()
        .filter(|document| seen.insert(document.id.clone()))
        .skip(request.offset)
        .take(request.limit)
        .map(|document| {
            let (matched_label, matched_terms) = explain(&document, &words);
            Hit {
                id: document.id,
                kind: document.kind,
                label: document.label,
                lang: document.lang,
                source: document.source,
                score: document.score,
                matched_label,
                matched_terms,
            }
        })
        .collect();
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_bad_parameter() {
        let mut request = SearchRequest::new("nurse");
        assert!(request.validate().is_ok());
        request.isco = Some("22x".into());
        assert!(request.validate().unwrap_err().to_string().contains("isco"));
        request.isco = None;
        request.eqf = Some(9);
        assert!(request.validate().unwrap_err().to_string().contains("eqf"));
        assert!(SearchRequest::new("   ").validate().is_err());
        let mut deep = SearchRequest::new("x");
        deep.offset = MAX_RESULTS;
        assert!(deep.validate().is_err());
    }
}
