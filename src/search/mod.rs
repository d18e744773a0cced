//! Search: validates a request, retrieves from the text store (per-language documents collapsed
//! to one per concept) and from the vector store (label vectors aggregated to their concept),
//! fuses both lists, and explains each hit: which label in which language matched, on which query
//! words, and its text and vector ranks. Without vectors it answers from text and says so.

pub mod fusion;
pub mod matching;
pub mod query_cache;
mod show;
pub mod similar;
pub mod suggest;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

pub use fusion::Fusion;
pub use show::{find, show, ConceptView, LinkedConcept};

use crate::analyze::{analyze_query, label_prefixes, Analyzer, QueryWord};
use crate::embed::{Embedder, TextKind};
use crate::error::{Error, Result};
use crate::index::vectors::{EmbeddedField, EntryFilter, VectorConcept, VectorEntry};
use crate::index::{FieldWeights, OccuIndex, TextFilters, TextHit, VectorStore};
use crate::types::{Kind, Lang};
use query_cache::QueryCache;

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
    /// `None`: hybrid where vectors are available, text otherwise.
    pub mode: Option<Mode>,
}

/// Retrieval mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Text,
    Vector,
    Hybrid,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "text" => Some(Mode::Text),
            "vector" => Some(Mode::Vector),
            "hybrid" => Some(Mode::Hybrid),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Text => "text",
            Mode::Vector => "vector",
            Mode::Hybrid => "hybrid",
        }
    }
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
    /// The English preferred label when the display label is in another language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub english_label: Option<String>,
    pub source: String,
    /// Fused score (text: BM25; vector: cosine; hybrid: the fusion's score).
    pub score: f64,
    /// The label that matched best (may differ from the display label), and its language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_lang: Option<String>,
    /// Query words found in the matched label (text side).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matched_terms: Vec<String>,
    /// Rank (from 1) and BM25 score in the text candidate list, when the text side found it.
    pub text_rank: Option<usize>,
    pub text_score: Option<f32>,
    /// Rank (from 1) in the vector candidate list, with the label that matched, when found.
    pub vector_rank: Option<usize>,
    pub vector: Option<VectorEvidence>,
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

/// The text side: one (best) document per concept, best first, `depth` concepts at most.
fn text_candidates(
    index: &OccuIndex,
    request: &SearchRequest,
    words: &[QueryWord],
    weights: &FieldWeights,
    depth: usize,
) -> Result<Vec<TextHit>> {
    let filters = TextFilters {
        kinds: request.kinds.clone(),
        lang: request.lang.clone(),
        source: request.source.clone(),
        isco: request.isco.clone(),
        eqf: request.eqf,
    };
    let fetch = if request.lang.is_some() {
        depth
    } else {
        (depth * 4 + 16).min(MAX_RESULTS * 4)
    };
    let documents = index.text.search(words, &filters, weights, fetch)?;
    let mut seen = HashSet::new();
    Ok(documents
        .into_iter()
        .filter(|document| seen.insert(document.id.clone()))
        .take(depth)
        .collect())
}

/// The best vector match of one concept, with the label (or text) that matched.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VectorEvidence {
    pub label: String,
    pub lang: String,
    pub field: EmbeddedField,
    /// Cosine similarity of the query and this text.
    pub similarity: f32,
}

/// The vector side: label hits aggregated to their concepts (a concept scores its best label),
/// best first, `depth` concepts at most; with the concept's position in the store.
fn vector_candidates(
    store: &VectorStore,
    query: &[f32],
    request: &SearchRequest,
    depth: usize,
) -> Result<Vec<(usize, VectorEvidence)>> {
    let kinds = &request.kinds;
    let filter = |_: &VectorEntry, concept: &VectorConcept| {
        (kinds.is_empty() || kinds.contains(&concept.kind))
            && request.source.as_ref().is_none_or(|s| *s == concept.source)
            && request.isco.as_ref().is_none_or(|i| concept.isco_prefixes.contains(i))
            && request.eqf.is_none_or(|e| concept.eqf_levels.contains(&e))
    };
    let filtered = !kinds.is_empty() || request.source.is_some() || request.isco.is_some() || request.eqf.is_some();
    // Several labels point to one concept: fetch more entries than concepts wanted, in
    // proportion to the labels per concept (about 1 in the default build, many in a full one).
    // The graph's search effort grows with this number, so it is not a constant 8x.
    let labels_per_concept = store.len().div_ceil(store.entries.concepts.len().max(1));
    let entries = (depth * (2 * labels_per_concept).clamp(2, 8)).max(64);
    let matches = store.search(query, entries, filtered.then_some(&filter as EntryFilter<'_>))?;
    let mut seen = HashSet::new();
    Ok(matches
        .into_iter()
        .filter(|m| seen.insert(store.entries.entries[m.entry].concept))
        .take(depth)
        .map(|m| {
            let entry = &store.entries.entries[m.entry];
            (
                entry.concept as usize,
                VectorEvidence {
                    label: entry.text.clone(),
                    lang: entry.lang.clone(),
                    field: entry.field,
                    similarity: m.similarity,
                },
            )
        })
        .collect())
}

/// Searches an opened index: text, vector or both fused, one hit per concept. Holds the query
/// embedder when the index has vectors and the model loaded; otherwise answers from text and
/// says why in every response.
pub struct Searcher {
    pub index: OccuIndex,
    embedder: Option<Arc<dyn Embedder>>,
    /// Why vector search is unavailable, when it is.
    vector_unavailable: Option<String>,
    pub weights: FieldWeights,
    pub fusion: Fusion,
    query_cache: QueryCache,
}

/// Query vectors kept in memory by default (1.5 KiB each with 384 dimensions: about 6 MiB).
pub const DEFAULT_QUERY_CACHE: usize = 4096;

/// Hits plus how they were produced.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    /// The mode that produced the hits (text when the vector side was unavailable).
    pub mode: Mode,
    /// Set when the answer is degraded (e.g. vectors unavailable): what happened and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// Concepts in the fused candidate list (an upper bound for paging).
    pub candidates: usize,
    /// Ids of every fused candidate, best first (for facet counts beyond the page).
    #[serde(skip)]
    pub candidate_ids: Vec<String>,
}

impl Searcher {
    /// `embedder` is the loaded query model, or why it could not be loaded. A model other than the
    /// one the index was built with is refused (the vectors would be meaningless).
    pub fn new(index: OccuIndex, embedder: Result<Arc<dyn Embedder>>) -> Result<Searcher> {
        let (embedder, vector_unavailable) = match (&index.manifest.vectors, embedder) {
            (None, _) => (
                None,
                Some("the index was built without vectors (`--embed none`)".to_string()),
            ),
            (Some(_), Err(error)) => (None, Some(format!("the embedding model is unavailable: {error}"))),
            (Some(built), Ok(embedder)) => {
                built.check_model(&index.dir, embedder.model_id(), embedder.dimensions())?;
                (Some(embedder), None)
            }
        };
        let every_label_embedded = index
            .manifest
            .vectors
            .as_ref()
            .is_some_and(|v| v.scope == crate::index::vectors::EmbedScope::Full);
        if let Some(reason) = &vector_unavailable {
            tracing::warn!("vector search off, answering from text: {reason}");
        }
        Ok(Searcher {
            index,
            embedder,
            vector_unavailable,
            weights: FieldWeights::default(),
            fusion: Fusion::for_index(every_label_embedded),
            query_cache: QueryCache::new(DEFAULT_QUERY_CACHE),
        })
    }

    /// A searcher that only ever answers from text.
    pub fn text_only(index: OccuIndex) -> Searcher {
        Searcher::new(index, Err(Error::Model("not loaded".into()))).unwrap_or_else(|_| unreachable!())
    }

    pub fn with_weights(mut self, weights: FieldWeights) -> Searcher {
        self.weights = weights;
        self
    }

    pub fn with_fusion(mut self, fusion: Fusion) -> Searcher {
        self.fusion = fusion;
        self
    }

    /// Keeps up to `entries` query vectors in memory; 0 embeds every query anew.
    pub fn with_query_cache(mut self, entries: usize) -> Searcher {
        self.query_cache = QueryCache::new(entries);
        self
    }

    pub fn vectors_available(&self) -> bool {
        self.embedder.is_some()
    }

    pub fn vector_unavailable(&self) -> Option<&str> {
        self.vector_unavailable.as_deref()
    }

    /// The query model, when loaded.
    pub fn embedder(&self) -> Option<&dyn Embedder> {
        self.embedder.as_deref()
    }

    /// Embeds `text` as a query (unit length), from the query cache when it was seen lately;
    /// `None` when vectors are unavailable.
    pub fn embed_query(&self, text: &str) -> Result<Option<Vec<f32>>> {
        let Some(embedder) = &self.embedder else {
            return Ok(None);
        };
        if let Some(vector) = self.query_cache.get(text) {
            return Ok(Some(vector.as_ref().clone()));
        }
        let Some(vector) = embedder.embed(&[text], TextKind::Query)?.pop() else {
            return Ok(None);
        };
        self.query_cache.insert(text, Arc::new(vector.clone()));
        Ok(Some(vector))
    }

    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        request.validate()?;
        let wanted = request.mode.unwrap_or(Mode::Hybrid);
        let (mode, notice) = match (wanted, &self.vector_unavailable) {
            (Mode::Text, _) => (Mode::Text, None),
            (_, None) => (wanted, None),
            (_, Some(reason)) => (
                Mode::Text,
                Some(format!(
                    "answered from text only ({} search unavailable: {reason})",
                    wanted.as_str()
                )),
            ),
        };
        // At least 100 candidates: fusion needs depth, and facets count over the candidates.
        let depth = (request.offset + request.limit).max(100);
        let words = analyze_query(&request.query, request.lang.as_ref());
        // The two sides are independent: the text side runs on a scoped thread while the model
        // embeds the query, which is most of a hybrid query's time. Not on rayon: the caller may
        // be a blocking-pool thread, and the model's lock must not park rayon's workers.
        let vector_side = || match (mode, &self.index.vectors) {
            (Mode::Text, _) | (_, None) => Ok(Vec::new()),
            (_, Some(store)) => match self.embed_query(&request.query)? {
                Some(query) => vector_candidates(store, &query, request, depth),
                None => Ok(Vec::new()),
            },
        };
        let text_side = || text_candidates(&self.index, request, &words, &self.weights, depth);
        let (text, vector) = match mode {
            Mode::Text => (text_side(), Ok(Vec::new())),
            Mode::Vector => (Ok(Vec::new()), vector_side()),
            Mode::Hybrid => std::thread::scope(|scope| {
                let text = scope.spawn(text_side);
                let vector = vector_side();
                let text = text
                    .join()
                    .unwrap_or_else(|_| Err(Error::Internal("the text search thread panicked".into())));
                (text, vector)
            }),
        };
        let (text, vector) = (text?, vector?);
        let text_list: Vec<(String, f64)> = text.iter().map(|h| (h.id.clone(), f64::from(h.score))).collect();
        let store = self.index.vectors.as_ref();
        let vector_list: Vec<(String, f64)> = match store {
            Some(store) => vector
                .iter()
                .map(|(c, e)| (store.entries.concepts[*c].id.clone(), f64::from(e.similarity)))
                .collect(),
            None => Vec::new(),
        };
        let fused = match mode {
            Mode::Text => fusion::ranked(&text_list, true),
            Mode::Vector => fusion::ranked(&vector_list, false),
            Mode::Hybrid => fusion::fuse(&text_list, &vector_list, self.fusion),
        };
        let candidates = fused.len();
        let candidate_ids: Vec<String> = fused.iter().map(|f| f.id.clone()).collect();
        let text_by_id: HashMap<&str, &TextHit> = text.iter().map(|h| (h.id.as_str(), h)).collect();
        let vector_by_id: HashMap<&str, &(usize, VectorEvidence)> = vector_list
            .iter()
            .zip(&vector)
            .map(|((id, _), found)| (id.as_str(), found))
            .collect();
        let hits = fused
            .into_iter()
            .skip(request.offset)
            .take(request.limit)
            .filter_map(|f| {
                let text_hit = text_by_id.get(f.id.as_str()).copied();
                let vector_hit = vector_by_id.get(f.id.as_str()).copied();
                let concept = store.and_then(|s| s.concept(&f.id));
                let (matched_label, matched_terms) = text_hit.map(|h| explain(h, &words)).unwrap_or_default();
                let display = concept.and_then(|c| c.label_in(request.lang.as_ref().map(Lang::as_str)));
                let (label, lang) = match (text_hit, display) {
                    (Some(h), _) if request.lang.is_none() || display.is_none() => (h.label.clone(), h.lang.clone()),
                    (_, Some((lang, label))) => (label.to_string(), lang.to_string()),
                    (Some(h), None) => (h.label.clone(), h.lang.clone()),
                    (None, None) => return None,
                };
                let matched_lang = match (&matched_label, text_hit, vector_hit) {
                    (Some(_), Some(h), _) => Some(h.lang.clone()),
                    (None, _, Some((_, evidence))) => Some(evidence.lang.clone()),
                    _ => None,
                };
                let matched_label = matched_label.or_else(|| vector_hit.map(|(_, e)| e.label.clone()));
                let english_label = concept
                    .filter(|_| lang != "en")
                    .and_then(|c| c.label_in(Some("en")))
                    .filter(|(l, _)| *l == "en")
                    .map(|(_, label)| label.to_string());
                Some(Hit {
                    english_label,
                    id: f.id,
                    kind: text_hit.and_then(|h| h.kind).or(concept.map(|c| c.kind)),
                    label,
                    lang,
                    source: text_hit.map_or_else(
                        || concept.map(|c| c.source.clone()).unwrap_or_default(),
                        |h| h.source.clone(),
                    ),
                    score: f.score,
                    matched_label,
                    matched_lang,
                    matched_terms,
                    text_rank: f.text_rank,
                    text_score: text_hit.map(|h| h.score),
                    vector_rank: f.vector_rank,
                    vector: vector_hit.map(|(_, e)| e.clone()),
                })
            })
            .collect();
        Ok(SearchResults {
            hits,
            mode,
            notice,
            candidates,
            candidate_ids,
        })
    }
}

/// Runs a text-only search (the eval's text mode and callers without a model).
pub fn search(index: &OccuIndex, request: &SearchRequest, weights: &FieldWeights) -> Result<Vec<Hit>> {
    request.validate()?;
    let words = analyze_query(&request.query, request.lang.as_ref());
    let text = text_candidates(index, request, &words, weights, request.offset + request.limit)?;
    Ok(text
        .into_iter()
        .enumerate()
        .skip(request.offset)
        .map(|(position, document)| {
            let (matched_label, matched_terms) = explain(&document, &words);
            Hit {
                english_label: None,
                matched_lang: matched_label.as_ref().map(|_| document.lang.clone()),
                id: document.id,
                kind: document.kind,
                label: document.label,
                lang: document.lang,
                source: document.source,
                score: f64::from(document.score),
                matched_label,
                matched_terms,
                text_rank: Some(position + 1),
                text_score: Some(document.score),
                vector_rank: None,
                vector: None,
            }
        })
        .collect())
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
