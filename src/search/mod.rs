//! Search: validates a request, retrieves from the text store (per-language documents collapsed
//! to one per concept) and from the vector store (label vectors aggregated to their concept),
//! fuses both lists, and explains each hit: which label in which language matched, on which query
//! words, and its text and vector ranks. Without vectors it answers from text and says so.

pub mod fusion;
pub mod matching;
pub mod query_cache;
pub mod ranker;
mod show;
pub mod similar;
pub mod suggest;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use fusion::Fusion;
pub use show::{find, show, ConceptView, LinkedConcept};

use crate::analyze::memo;
use crate::analyze::{analyze_query, fold, has_label_prefix, words as label_words, QueryWord};
use crate::embed::{Embedders, TextKind};
use crate::error::{Error, Result};
use crate::index::vectors::{EmbeddedField, EntryFilter, VectorConcept, VectorEntry};
use crate::index::{FieldWeights, OccuIndex, TextFilters, TextHit, VectorStore};
use crate::types::{ConceptId, Kind, Lang, VectorSpace};
use query_cache::QueryCache;
use ranker::Ranker;

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

/// The trigram closeness of a label of language `lang` to the query whose trigrams are
/// `query_grams` ([`ranker::trigram_dice`] of [`normalised`] texts; the label's word trigrams
/// from the memo of label words, the same as [`ranker::trigrams`] of the normalised label).
fn closeness(query_grams: &[[char; 3]], lang: &str, label: &str) -> f64 {
    ranker::trigram_dice(query_grams, &memo::label(lang, label).grams)
}

/// What the text side found in one candidate: the label that shares most query words (first
/// of equals), those words, and the best trigram closeness of any of its labels to the query.
#[derive(Debug, Clone, Default)]
struct Explanation {
    label: Option<String>,
    matched: Vec<String>,
    /// Best [`ranker::trigram_dice`] of the query with one of the candidate's labels.
    trigram_dice: f64,
}

/// Compares candidates' labels with one query. Each label's analysis (its words folded and
/// stemmed, its trigrams) comes with the hit ([`crate::index::text::HitLabels`]), made once per
/// document from the process-wide memo of labels ([`crate::analyze::memo`]): a hundred
/// candidates hold about a thousand labels, and the same documents come back from one query to
/// the next.
struct LabelMatcher<'q> {
    words: &'q [QueryWord],
    /// The query's trigrams ([`ranker::trigrams`] of the [`normalised`] query).
    query_grams: &'q [[char; 3]],
}

impl<'q> LabelMatcher<'q> {
    fn new(query_grams: &'q [[char; 3]], words: &'q [QueryWord]) -> LabelMatcher<'q> {
        LabelMatcher { words, query_grams }
    }

    fn explain(&self, hit: &TextHit) -> Explanation {
        let mut best: Option<(usize, &String, Vec<String>)> = None;
        let mut best_dice = 0.0f64;
        for (label, analysis) in hit.labels.texts().iter().zip(hit.labels.analysed()) {
            best_dice = best_dice.max(ranker::trigram_dice(self.query_grams, &analysis.grams));
            let analysed = &analysis.words;
            // A label whose language is no valid code is not stemmed: no words matched.
            if analysed.first().is_some_and(|w| w.stem.is_none()) {
                continue;
            }
            let matched: Vec<String> = self
                .words
                .iter()
                .filter(|w| {
                    w.stems
                        .iter()
                        .any(|s| analysed.iter().any(|word| word.stem.as_deref() == Some(s.as_str())))
                        || w.prefix
                            .as_ref()
                            .is_some_and(|p| analysed.iter().any(|word| has_label_prefix(&word.folded, p)))
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
        let (label, matched) = match best {
            Some((_, label, matched)) => (Some(label.clone()), matched),
            None => (None, Vec::new()),
        };
        Explanation {
            label,
            matched,
            trigram_dice: best_dice,
        }
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
    index.text.search(words, &filters, weights, fetch, depth)
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

/// One concept the vector side found.
#[derive(Debug, Clone)]
struct VectorCandidate {
    id: String,
    kind: Kind,
    /// Its text nearest to the query.
    evidence: VectorEvidence,
    /// How many of its texts are among the nearest.
    labels: usize,
}

/// The vector side in one store: label hits of `kinds` (every kind of the store when empty)
/// aggregated to their concepts (a concept scores its best label), best first, `depth` concepts
/// at most.
fn vector_candidates(
    store: &VectorStore,
    query: &[f32],
    request: &SearchRequest,
    kinds: &[Kind],
    depth: usize,
) -> Result<Vec<VectorCandidate>> {
    // Kinds are answered from the store's per-kind entry lists; the other filters test concepts.
    let filter = |_: &VectorEntry, concept: &VectorConcept| {
        request.source.as_ref().is_none_or(|s| *s == concept.source)
            && request.isco.as_ref().is_none_or(|i| concept.isco_prefixes.contains(i))
            && request.eqf.is_none_or(|e| concept.eqf_levels.contains(&e))
    };
    let filtered = request.source.is_some() || request.isco.is_some() || request.eqf.is_some();
    // Several labels point to one concept: fetch twice as many entries as concepts wanted. The
    // graph's effort grows with this number (the walk's ef is at least it): on the product
    // benchmark 8x and 4x ranked no better (one model, 2026-11-23: 0.606 both, 2x 0.604), and
    // with two spaces 2x gives 0.623 / A@1 0.5425 against 0.623 / 0.542 at 4x (3x: 0.625 / 0.546),
    // with the job-title vector stage at 2.0 ms instead of 3.2 ms (README, Benchmarks).
    let entries = (depth * 2).max(64);
    let matches = store.search_kinds(query, entries, kinds, filtered.then_some(&filter as EntryFilter<'_>))?;
    // How many of a concept's texts are among the nearest: agreement across its labels and
    // languages is evidence of its own.
    let mut labels: HashMap<u32, usize> = HashMap::new();
    for m in &matches {
        *labels.entry(store.entries.entries[m.entry].concept).or_default() += 1;
    }
    let mut seen = HashSet::new();
    Ok(matches
        .into_iter()
        .filter(|m| seen.insert(store.entries.entries[m.entry].concept))
        .take(depth)
        .map(|m| {
            let entry = &store.entries.entries[m.entry];
            let concept = &store.entries.concepts[entry.concept as usize];
            VectorCandidate {
                id: concept.id.clone(),
                kind: concept.kind,
                evidence: VectorEvidence {
                    label: entry.text.clone(),
                    lang: entry.lang.clone(),
                    field: entry.field,
                    similarity: m.similarity,
                },
                labels: labels[&entry.concept],
            }
        })
        .collect())
}

/// Searches an opened index: text, vector or both fused, one hit per concept. Holds the query
/// embedder when the index has vectors and the model loaded; otherwise answers from text and
/// says why in every response.
pub struct Searcher {
    pub index: OccuIndex,
    /// The query models, one per vector space of the index.
    models: Option<Embedders>,
    /// Why vector search is unavailable, when it is.
    vector_unavailable: Option<String>,
    pub weights: FieldWeights,
    pub fusion: Fusion,
    /// Recent query vectors, one cache per vector space (their models differ).
    query_caches: [QueryCache; 2],
    /// Cores of this machine: whether the text side's explanation can run beside the models.
    cores: usize,
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
    /// Where this search spent its time (the benchmarks print it per stage).
    #[serde(skip)]
    pub timings: StageTimes,
}

impl SearchResults {
    /// The hits as `occusearch search` prints them, ranks counted from `offset + 1`: score, kind,
    /// label, id, then the evidence (ranks on both sides, the matched label and the nearest
    /// vector's label when they differ from the shown one).
    pub fn write_text(&self, out: &mut dyn std::io::Write, offset: usize) -> std::io::Result<()> {
        if self.hits.is_empty() {
            writeln!(out, "no match")?;
        }
        for (rank, hit) in self.hits.iter().enumerate() {
            let kind = hit.kind.map_or("?", Kind::as_str);
            writeln!(
                out,
                "{:>3}. {:>7.3}  [{kind}/{}] {}  <{}>",
                rank + 1 + offset,
                hit.score,
                hit.lang,
                hit.label,
                hit.id
            )?;
            if let Some(english) = &hit.english_label {
                writeln!(out, "               en: {english}")?;
            }
            let rank_text = |rank: Option<usize>| rank.map_or("-".to_string(), |r| r.to_string());
            let mut evidence = format!(
                "               text #{} vector #{}",
                rank_text(hit.text_rank),
                rank_text(hit.vector_rank)
            );
            if let Some(label) = hit.matched_label.as_ref().filter(|l| **l != hit.label) {
                let lang = hit.matched_lang.as_deref().unwrap_or("?");
                evidence.push_str(&format!("  matched [{lang}] {}", shorten(label, 80)));
            }
            if let Some(vector) = hit
                .vector
                .as_ref()
                .filter(|v| Some(&v.label) != hit.matched_label.as_ref())
            {
                evidence.push_str(&format!(
                    "  vector [{}] {} ({:.3})",
                    vector.lang,
                    shorten(&vector.label, 80),
                    vector.similarity
                ));
            }
            writeln!(out, "{evidence}")?;
        }
        Ok(())
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Wall-clock time of each stage of one search. The text side runs on its own thread beside the
/// vector side, so `text` overlaps `embed` + `vector`; with two vector spaces, both spaces' times
/// are summed although they run side by side.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// Text candidates: the tantivy query and the stored documents read.
    pub text: Duration,
    /// Embedding the query (zero when the query cache had it).
    pub embed: Duration,
    /// Vector candidates: graph walk or scan, labels folded to concepts.
    pub vector: Duration,
    /// Which label of each text candidate matched which query words, and its trigram closeness
    /// (on the text side's thread, beside the vector side), then the vector candidates' closeness.
    pub explain: Duration,
    /// Fusion features and the ranking.
    pub fusion: Duration,
    /// The returned page's hits (labels, explanations).
    pub hits: Duration,
    pub total: Duration,
}

impl Searcher {
    /// `models` are the loaded query models, or why they could not be loaded. A model other than
    /// the one a vector space was built with is refused (the vectors would be meaningless); an
    /// index without a title space uses the general model for every kind.
    pub fn new(index: OccuIndex, models: Result<Embedders>) -> Result<Searcher> {
        let (models, vector_unavailable) = match (&index.manifest.vectors, models) {
            (None, _) => (
                None,
                Some("the index was built without vectors (`--embed none`)".to_string()),
            ),
            (Some(_), Err(error)) => (None, Some(format!("the embedding model is unavailable: {error}"))),
            (Some(built), Ok(models)) => {
                let general = models.of(VectorSpace::General);
                built.check_model(&index.dir, general.model_id(), general.dimensions())?;
                match &index.manifest.title_vectors {
                    Some(titles) if models.is_split() => {
                        let model = models.of(VectorSpace::Titles);
                        titles.check_model(&index.dir, model.model_id(), model.dimensions())?;
                        (Some(models), None)
                    }
                    Some(titles) => {
                        return Err(Error::IncompatibleIndex {
                            path: index.dir.clone(),
                            reason: format!(
                                "its job titles were embedded with {}, but no title model is loaded",
                                titles.model_id
                            ),
                        })
                    }
                    None => (Some(models.without_titles()), None),
                }
            }
        };
        if let Some(reason) = &vector_unavailable {
            tracing::warn!("vector search off, answering from text: {reason}");
        }
        Ok(Searcher {
            index,
            models,
            vector_unavailable,
            weights: FieldWeights::default(),
            fusion: Fusion::default(),
            query_caches: [
                QueryCache::new(DEFAULT_QUERY_CACHE),
                QueryCache::new(DEFAULT_QUERY_CACHE),
            ],
            cores: std::thread::available_parallelism().map_or(1, usize::from),
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
        self.query_caches = [QueryCache::new(entries), QueryCache::new(entries)];
        self
    }

    pub fn vectors_available(&self) -> bool {
        self.models.is_some()
    }

    pub fn vector_unavailable(&self) -> Option<&str> {
        self.vector_unavailable.as_deref()
    }

    /// The query models, when loaded.
    pub fn models(&self) -> Option<&Embedders> {
        self.models.as_ref()
    }

    /// Embeds `text` as a query for the general space (skills, profiles, materials; every kind
    /// in an index of one model); see [`Searcher::embed_query_in`].
    pub fn embed_query(&self, text: &str) -> Result<Option<Vec<f32>>> {
        self.embed_query_in(VectorSpace::General, text)
    }

    /// Embeds `text` as a query (unit length) with the model of `space`, from the query cache
    /// when it was seen lately; `None` when vectors are unavailable.
    pub fn embed_query_in(&self, space: VectorSpace, text: &str) -> Result<Option<Vec<f32>>> {
        let Some(models) = &self.models else {
            return Ok(None);
        };
        let (embedder, cache) = match (space, models.is_split()) {
            (VectorSpace::Titles, true) => (models.of(VectorSpace::Titles), &self.query_caches[1]),
            _ => (models.of(VectorSpace::General), &self.query_caches[0]),
        };
        // Keyed by what the model sees: `Krankenpfleger` and `krankenpfleger` share an entry.
        let text = crate::embed::model_input(text);
        if let Some(vector) = cache.get(&text) {
            return Ok(Some(vector.as_ref().clone()));
        }
        let Some(vector) = embedder.embed(&[&text], TextKind::Query)?.pop() else {
            return Ok(None);
        };
        cache.insert(&text, Arc::new(vector.clone()));
        Ok(Some(vector))
    }

    /// Concepts of `kinds` (every kind when empty) nearest in meaning to `text` by the general
    /// model, best first, `depth` at most, with their similarity: what compares skills with
    /// occupations (matching by meaning) uses the model that embeds skills, also where job
    /// titles have a model of their own (the general store holds them too).
    /// Empty without vectors.
    pub fn nearest_by_general_model(&self, text: &str, kinds: &[Kind], depth: usize) -> Result<Vec<(ConceptId, f32)>> {
        let (Some(store), Some(query)) = (self.index.vectors.as_ref(), self.embed_query(text)?) else {
            return Ok(Vec::new());
        };
        let request = SearchRequest::new(text);
        Ok(vector_candidates(store, &query, &request, kinds, depth)?
            .into_iter()
            .map(|c| (ConceptId::new(c.id), c.evidence.similarity))
            .collect())
    }

    /// Both retrievers' candidates for a request, before any ranking.
    fn retrieve(&self, request: &SearchRequest) -> Result<Retrieved> {
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
        // Each store searched with the query embedded by its own model, for the kinds it holds;
        // both lists are on the base model's scale ([`SimilarityScale`]), so they merge by
        // similarity.
        let asked: &[Kind] = if request.kinds.is_empty() {
            &Kind::ALL
        } else {
            &request.kinds
        };
        // Each kind is answered by its own space: the general store also holds the job titles
        // (for matching by meaning), which are searched in theirs.
        let searches: Vec<(VectorSpace, &VectorStore, Vec<Kind>)> = match mode {
            Mode::Text => Vec::new(),
            _ => self
                .index
                .vector_stores()
                .filter_map(|(space, store)| {
                    let mut kinds: Vec<Kind> = asked
                        .iter()
                        .copied()
                        .filter(|k| self.index.space_of(*k) == space)
                        .collect();
                    kinds.sort();
                    kinds.dedup();
                    match kinds.len() {
                        0 => None,
                        // Every kind of a one-model index: no kind filter at all.
                        n if n == Kind::ALL.len() => Some((space, store, Vec::new())),
                        _ => Some((space, store, kinds)),
                    }
                })
                .collect(),
        };
        let vector_side = || -> Result<(Vec<VectorCandidate>, StageTimes)> {
            if searches.is_empty() {
                return Ok((Vec::new(), StageTimes::default()));
            }
            // One space's candidates, with the time its model and its store took.
            let search_in = |(space, store, kinds): &(VectorSpace, &VectorStore, Vec<Kind>)| {
                let started = Instant::now();
                let query = self.embed_query_in(*space, &request.query)?;
                let embedded = started.elapsed();
                let found = match query {
                    Some(query) => vector_candidates(store, &query, request, kinds, depth)?,
                    None => Vec::new(),
                };
                Ok::<_, Error>((found, embedded, started.elapsed() - embedded))
            };
            // Two spaces (a search over every kind): two models embed the query, each on its
            // own thread, so the second does not wait for the first.
            let spaces: Vec<(Vec<VectorCandidate>, Duration, Duration)> = match searches.as_slice() {
                [first, second] => std::thread::scope(|scope| {
                    let other = scope.spawn(|| search_in(second));
                    let first = search_in(first)?;
                    let second = other
                        .join()
                        .unwrap_or_else(|_| Err(Error::Internal("the vector search thread panicked".into())))?;
                    Ok::<_, Error>(vec![first, second])
                })?,
                searches => searches.iter().map(search_in).collect::<Result<_>>()?,
            };
            let mut times = StageTimes::default();
            let mut found = Vec::new();
            for (candidates, embedded, searched) in spaces {
                found.extend(candidates);
                times.embed += embedded;
                times.vector += searched;
            }
            found.sort_by(|a, b| b.evidence.similarity.total_cmp(&a.evidence.similarity));
            found.truncate(depth);
            Ok((found, times))
        };
        // Which label of each text candidate matched which query words: evidence for the learned
        // fusion and the explanation shown with a hit. On the text side's thread, while the
        // models embed the query, when a core is free for it (one model on two cores); with every
        // core embedding, after them: measured slower beside them (README, Benchmarks).
        let explain_beside = searches.len() < self.cores;
        let query_grams = ranker::trigrams(&normalised(&request.query));
        let explain = |found: &[TextHit]| {
            let matcher = LabelMatcher::new(&query_grams, &words);
            found.iter().map(|h| matcher.explain(h)).collect::<Vec<Explanation>>()
        };
        let text_side = || {
            let started = Instant::now();
            let found = text_candidates(&self.index, request, &words, &self.weights, depth)?;
            let searched = started.elapsed();
            let explanations = explain_beside.then(|| explain(&found));
            Ok::<_, Error>((found, explanations, searched, started.elapsed() - searched))
        };
        let nothing = || Ok((Vec::new(), StageTimes::default()));
        let no_text = || Ok((Vec::new(), Some(Vec::new()), Duration::ZERO, Duration::ZERO));
        let (text, vector) = match mode {
            Mode::Text => (text_side(), nothing()),
            Mode::Vector => (no_text(), vector_side()),
            Mode::Hybrid => std::thread::scope(|scope| {
                let text = scope.spawn(text_side);
                let vector = vector_side();
                let text = text
                    .join()
                    .unwrap_or_else(|_| Err(Error::Internal("the text search thread panicked".into())));
                (text, vector)
            }),
        };
        let ((text, explanations, text_time, explain_time), (vector, mut times)) = (text?, vector?);
        times.text = text_time;
        let started = Instant::now();
        let explanations = explanations.unwrap_or_else(|| explain(&text));
        let vector_dice: Vec<f64> = vector
            .iter()
            .map(|c| closeness(&query_grams, &c.evidence.lang, &c.evidence.label))
            .collect();
        times.explain = explain_time + started.elapsed();
        Ok(Retrieved {
            mode,
            notice,
            words,
            text,
            explanations,
            vector,
            vector_dice,
            query_grams,
            times,
        })
    }

    /// Every candidate of a request with its learned-fusion features, in no particular order
    /// (what `train-ranker` learns from: the same retrieval as [`Searcher::search`]).
    pub fn candidate_features(&self, request: &SearchRequest) -> Result<Vec<(String, [f64; ranker::FEATURES])>> {
        let retrieved = self.retrieve(request)?;
        Ok(retrieved.features())
    }

    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let started = Instant::now();
        // A language the index holds no labels in would filter every text hit away: search every
        // language instead, and say so.
        let unknown_lang = request
            .lang
            .as_ref()
            .filter(|lang| !self.index.manifest.counts.labels_per_lang.contains_key(*lang));
        let mut retrieved = match unknown_lang {
            Some(_) => self.retrieve(&SearchRequest {
                lang: None,
                ..request.clone()
            })?,
            None => self.retrieve(request)?,
        };
        if let Some(lang) = unknown_lang {
            let known: Vec<&str> = self
                .index
                .manifest
                .counts
                .labels_per_lang
                .keys()
                .map(Lang::as_str)
                .collect();
            let notice = format!(
                "the index holds no labels in {lang:?}; labels are shown in English or the language that matched (languages held: {})",
                known.join(", ")
            );
            retrieved.notice = Some(match retrieved.notice.take() {
                Some(earlier) => format!("{earlier}; {notice}"),
                None => notice,
            });
        }
        let Retrieved {
            mode,
            ref text,
            ref vector,
            ..
        } = retrieved;
        let text_list: Vec<(String, f64)> = text.iter().map(|h| (h.id.clone(), f64::from(h.score))).collect();
        let vector_list: Vec<(String, f64)> = vector
            .iter()
            .map(|c| (c.id.clone(), f64::from(c.evidence.similarity)))
            .collect();
        let fusion_started = Instant::now();
        let fused = match (mode, self.fusion) {
            (Mode::Text, _) => fusion::ranked(&text_list, true),
            (Mode::Vector, _) => fusion::ranked(&vector_list, false),
            (Mode::Hybrid, Fusion::Learned) => {
                fusion::learned(&retrieved.features(), &text_list, &vector_list, Ranker::builtin())
            }
            (Mode::Hybrid, other) => fusion::fuse(&text_list, &vector_list, other),
        };
        let candidates = fused.len();
        let mut timings = retrieved.times;
        timings.fusion = fusion_started.elapsed();
        let hits_started = Instant::now();
        let candidate_ids: Vec<String> = fused.iter().map(|f| f.id.clone()).collect();
        let text_by_id: HashMap<&str, usize> = text.iter().enumerate().map(|(i, h)| (h.id.as_str(), i)).collect();
        let vector_by_id: HashMap<&str, &VectorEvidence> =
            vector.iter().map(|c| (c.id.as_str(), &c.evidence)).collect();
        let hits = fused
            .into_iter()
            .skip(request.offset)
            .take(request.limit)
            .filter_map(|f| {
                let text_position = text_by_id.get(f.id.as_str()).copied();
                let text_hit = text_position.map(|i| &text[i]);
                let vector_hit = vector_by_id.get(f.id.as_str()).copied();
                let concept = self.index.vector_concept(&f.id).map(|(_, c)| c);
                let (matched_label, matched_terms) = text_position
                    .map(|i| {
                        let explanation = &retrieved.explanations[i];
                        (explanation.label.clone(), explanation.matched.clone())
                    })
                    .unwrap_or_default();
                // The label that matched: the text side's or the vector side's, whichever is closer
                // to the query in characters (a Polish "programista" that the vector side found
                // as itself beats a Portuguese "Programador…" that the text side matched on a
                // prefix), with its language.
                let closeness = |(label, lang): &(String, String)| closeness(&retrieved.query_grams, lang, label);
                let from_text = matched_label.clone().zip(text_hit.map(|h| h.lang.clone()));
                let from_vector = vector_hit.map(|e| (e.label.clone(), e.lang.clone()));
                let (matched_label, matched_lang) = match (from_text, from_vector) {
                    (Some(t), Some(v)) if closeness(&v) > closeness(&t) => (Some(v.0), Some(v.1)),
                    (Some(t), _) => (Some(t.0), Some(t.1)),
                    (None, Some(v)) => (Some(v.0), Some(v.1)),
                    (None, None) => (None, None),
                };
                // The label in the language asked for, else in the language of the label that
                // matched (the query's own language, most likely), else English.
                let wanted = request
                    .lang
                    .as_ref()
                    .map(|l| l.as_str().to_string())
                    .or_else(|| matched_lang.clone());
                let display = concept.and_then(|c| c.label_in(wanted.as_deref()));
                let (label, lang) = match (text_hit, display) {
                    (_, Some((lang, label))) => (label.to_string(), lang.to_string()),
                    (Some(h), None) => (h.label.clone(), h.lang.clone()),
                    (None, None) => return None,
                };
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
                    vector: vector_hit.cloned(),
                })
            })
            .collect();
        timings.hits = hits_started.elapsed();
        timings.total = started.elapsed();
        Ok(SearchResults {
            hits,
            mode: retrieved.mode,
            notice: retrieved.notice.clone(),
            candidates,
            candidate_ids,
            timings,
        })
    }
}

/// What both retrievers found for one request.
struct Retrieved {
    mode: Mode,
    notice: Option<String>,
    words: Vec<QueryWord>,
    /// One document per concept, best first.
    text: Vec<TextHit>,
    /// Per text hit: the label that matched most query words, those words, its trigram closeness.
    explanations: Vec<Explanation>,
    /// The vector side's concepts, best first (both spaces merged).
    vector: Vec<VectorCandidate>,
    /// Per vector candidate: the trigram closeness of the text that matched to the query.
    vector_dice: Vec<f64>,
    /// The query's trigrams ([`ranker::trigrams`] of the [`normalised`] query).
    query_grams: Vec<[char; 3]>,
    /// Time spent so far.
    times: StageTimes,
}

/// A text folded and re-joined word by word: `Krankenpfleger` and `krankenpfleger ` agree.
fn normalised(text: &str) -> String {
    label_words(text).map(fold).collect::<Vec<_>>().join(" ")
}

impl Retrieved {
    /// The learned fusion's features of every candidate (see [`ranker::features`]).
    fn features(&self) -> Vec<(String, [f64; ranker::FEATURES])> {
        let mut dice: HashMap<&str, f64> = HashMap::new();
        for (hit, explanation) in self.text.iter().zip(&self.explanations) {
            dice.insert(hit.id.as_str(), explanation.trigram_dice);
        }
        for (candidate, value) in self.vector.iter().zip(&self.vector_dice) {
            let entry = dice.entry(candidate.id.as_str()).or_insert(0.0);
            *entry = entry.max(*value);
        }
        let query_words = self.words.len().max(1) as f64;
        let best_text = self.text.first().map_or(1.0, |h| f64::from(h.score).max(1e-9));
        let mut text_evidence: HashMap<&str, ranker::TextEvidence> = HashMap::new();
        for (position, (hit, explanation)) in self.text.iter().zip(&self.explanations).enumerate() {
            text_evidence.insert(
                hit.id.as_str(),
                ranker::TextEvidence {
                    rank: position + 1,
                    relative_score: f64::from(hit.score) / best_text,
                    words_matched: explanation.matched.len() as f64 / query_words,
                },
            );
        }
        let mut vector_evidence: HashMap<&str, ranker::VectorSide> = HashMap::new();
        for (position, candidate) in self.vector.iter().enumerate() {
            vector_evidence.insert(
                candidate.id.as_str(),
                ranker::VectorSide {
                    rank: position + 1,
                    similarity: f64::from(candidate.evidence.similarity),
                    labels: candidate.labels,
                },
            );
        }
        let list = (!self.vector.is_empty()).then(|| ranker::VectorListFacts {
            best: f64::from(self.vector[0].evidence.similarity),
            floor: self
                .vector
                .iter()
                .map(|c| f64::from(c.evidence.similarity))
                .fold(f64::INFINITY, f64::min),
            length: self.vector.len(),
        });
        let mut kinds: HashMap<&str, Kind> = self.vector.iter().map(|c| (c.id.as_str(), c.kind)).collect();
        kinds.extend(self.text.iter().filter_map(|h| h.kind.map(|k| (h.id.as_str(), k))));
        let mut ids: Vec<&str> = self.text.iter().map(|h| h.id.as_str()).collect();
        ids.extend(self.vector.iter().map(|c| c.id.as_str()));
        let mut seen = HashSet::new();
        ids.retain(|id| seen.insert(*id));
        ids.into_iter()
            .map(|id| {
                let isco_group = kinds.get(id) == Some(&Kind::IscoGroup);
                let x = ranker::features(
                    text_evidence.get(id),
                    vector_evidence.get(id),
                    list.as_ref(),
                    self.text.len(),
                    isco_group,
                    dice.get(id).copied().unwrap_or(0.0),
                );
                (id.to_string(), x)
            })
            .collect()
    }
}

/// Runs a text-only search (the eval's text mode and callers without a model).
pub fn search(index: &OccuIndex, request: &SearchRequest, weights: &FieldWeights) -> Result<Vec<Hit>> {
    request.validate()?;
    let words = analyze_query(&request.query, request.lang.as_ref());
    let text = text_candidates(index, request, &words, weights, request.offset + request.limit)?;
    let query_grams = ranker::trigrams(&normalised(&request.query));
    let matcher = LabelMatcher::new(&query_grams, &words);
    let explanations: Vec<Explanation> = text.iter().skip(request.offset).map(|d| matcher.explain(d)).collect();
    Ok(text
        .into_iter()
        .enumerate()
        .skip(request.offset)
        .zip(explanations)
        .map(|((position, document), explanation)| {
            let Explanation {
                label: matched_label,
                matched: matched_terms,
                ..
            } = explanation;
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
    fn printed_hits_show_rank_from_the_offset_and_the_evidence_that_differs() {
        let hit = Hit {
            id: "esco:occupation:1".into(),
            kind: Some(Kind::Occupation),
            label: "Krankenpfleger".into(),
            lang: "de".into(),
            english_label: Some("nurse responsible for general care".into()),
            source: "esco".into(),
            score: 1.5,
            matched_label: Some("Gesundheits- und Krankenpfleger".into()),
            matched_lang: Some("de".into()),
            matched_terms: vec!["krankenpfleger".into()],
            text_rank: Some(1),
            text_score: Some(12.0),
            vector_rank: None,
            vector: Some(VectorEvidence {
                label: "Krankenpfleger".repeat(10),
                lang: "de".into(),
                field: EmbeddedField::Alternative,
                similarity: 0.91,
            }),
        };
        let results = SearchResults {
            hits: vec![hit],
            mode: Mode::Hybrid,
            notice: None,
            candidates: 1,
            candidate_ids: Vec::new(),
            timings: StageTimes::default(),
        };
        let mut out = Vec::new();
        results.write_text(&mut out, 10).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            " 11.   1.500  [occupation/de] Krankenpfleger  <esco:occupation:1>"
        );
        assert_eq!(lines[1].trim(), "en: nurse responsible for general care");
        assert!(lines[2]
            .trim()
            .starts_with("text #1 vector #-  matched [de] Gesundheits- und Krankenpfleger"));
        // A long label is cut at 80 characters, whatever their width in bytes.
        assert!(
            lines[2].ends_with(&format!("{}… (0.910)", &"Krankenpfleger".repeat(10)[..80])),
            "{}",
            lines[2]
        );
        let mut out = Vec::new();
        SearchResults {
            hits: Vec::new(),
            ..results
        }
        .write_text(&mut out, 0)
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "no match\n");
        assert_eq!(shorten("Gärtnerin", 3), "Gär…");
        assert_eq!(shorten("Gärtnerin", 9), "Gärtnerin");
    }

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
