//! Training data for the learned fusion ([`crate::search::ranker`]), from the index's own data
//! only: alternative labels of occupations and ISCO groups, in every language, asked for as
//! queries whose answer is their concept (ISCO groups have no alternative labels in the shared
//! data, so in practice every answer is an occupation; README, "Why Sweden"). Half of them are
//! held out of a temporary index: a held-out label resembles a job title that ESCO does not list
//! word for word. The other half stay in the index: users also type titles that ESCO lists, and
//! without such queries an exact label match would only ever be seen on a wrong concept (another
//! concept sharing the label) and be learned as evidence against. Which half is fixed by the
//! seed, not tuned. No evaluation file (MELO) is read here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::linking::sample;
use crate::embed::{Embedders, EmbeddingCache};
use crate::error::{Error, Result};
use crate::index::{self, EmbedScope, HnswParams, OccuIndex, VectorBuild};
use crate::ingest::{ingest, IngestOptions};
use crate::search::ranker::{Ranker, FEATURES};
use crate::search::{SearchRequest, Searcher};
use crate::types::{ConceptId, Kind};

/// How `train-ranker` samples and fits.
#[derive(Debug, Clone)]
pub struct TrainingSettings {
    /// Concepts sampled (each gives `per_concept` labels as queries).
    pub queries: usize,
    /// Labels asked for per sampled concept, each in another language.
    pub per_concept: usize,
    /// Sample only these concepts (URIs): with an adapted model, the occupations its training
    /// held out (`scripts/models/esco-lora/held_out.txt`), so that the fusion learns from labels
    /// the model has not seen, as a user's title is.
    pub concepts: Option<std::collections::HashSet<String>>,
    pub seed: u64,
    /// L2 penalty on the standardised weights.
    pub l2: f64,
    pub iterations: usize,
}

impl Default for TrainingSettings {
    fn default() -> Self {
        TrainingSettings {
            queries: 4000,
            per_concept: 1,
            concepts: None,
            seed: 7,
            l2: 1e-3,
            iterations: 400,
        }
    }
}

/// What training measured, for the README and the weights file.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingReport {
    pub queries: usize,
    /// Queries whose concept was among the candidates (the others teach nothing).
    pub answerable: usize,
    /// On the held-out fifth of the queries, fitted on the other four fifths.
    pub validation_accuracy_1: f64,
    pub validation_mrr: f64,
    pub seconds: f64,
}

/// Reads a list of concept URIs, one per line (blank lines and `#` comments skipped).
pub fn read_concept_list(path: &Path) -> Result<std::collections::HashSet<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read the concept list", path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// A held-out label: the query text, its language and the concept it names.
#[derive(Debug, Clone)]
struct HeldOut {
    text: String,
    concept: ConceptId,
}

type Example = (Vec<[f64; FEATURES]>, usize);

fn rank_metrics(ranker: &Ranker, examples: &[Example]) -> (f64, f64) {
    let n = examples.len().max(1) as f64;
    let (mut first, mut reciprocal) = (0.0, 0.0);
    for (candidates, gold) in examples {
        let gold_score = ranker.score(&candidates[*gold]);
        let above = candidates.iter().filter(|x| ranker.score(x) > gold_score).count();
        if above == 0 {
            first += 1.0;
        }
        reciprocal += 1.0 / (above + 1) as f64;
    }
    (first / n, reciprocal / n)
}

/// Builds the held-out index under `scratch`, asks every held-out label, and fits the ranker on
/// the candidates' features. Returns the weights (with `trained` filled) and what was measured.
pub fn train_ranker(
    data: &[PathBuf],
    models: Embedders,
    cache: &EmbeddingCache,
    settings: TrainingSettings,
    scratch: &Path,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<(Ranker, TrainingReport)> {
    let started = Instant::now();
    let (mut catalog, report) = ingest(data, IngestOptions::default(), &|_| {})?;
    // One alternative label per sampled concept, in a language drawn among those it has.
    let eligible: Vec<ConceptId> = catalog
        .concepts
        .values()
        .filter(|c| matches!(c.kind, Kind::Occupation | Kind::IscoGroup))
        .filter(|c| c.labels.values().any(|l| !l.alternative.is_empty()))
        .map(|c| c.id.clone())
        .collect();
    let eligible: Vec<ConceptId> = match &settings.concepts {
        Some(wanted) => eligible.into_iter().filter(|id| wanted.contains(id.as_str())).collect(),
        None => eligible,
    };
    let chosen = sample(eligible, settings.queries, settings.seed);
    let mut held_out = Vec::with_capacity(chosen.len() * settings.per_concept);
    for (position, id) in chosen.iter().enumerate() {
        let Some(concept) = catalog.concepts.get_mut(id) else {
            continue;
        };
        // Distinct languages drawn among those with alternative labels, one label in each.
        let langs: Vec<_> = concept
            .labels
            .iter()
            .filter(|(_, l)| !l.alternative.is_empty())
            .map(|(lang, _)| lang.clone())
            .collect();
        let drawn = sample(
            (0..langs.len()).collect(),
            settings.per_concept,
            settings.seed ^ position as u64,
        );
        for (round, lang_index) in drawn.into_iter().enumerate() {
            let Some(labels) = concept.labels.get_mut(&langs[lang_index]) else {
                continue;
            };
            let pick = sample(
                (0..labels.alternative.len()).collect(),
                1,
                settings
                    .seed
                    .wrapping_add(position as u64)
                    .wrapping_add(round as u64 * 7919),
            )[0];
            let text = if held_out.len() % 2 == 0 {
                labels.alternative.remove(pick)
            } else {
                labels.alternative[pick].clone()
            };
            held_out.push(HeldOut {
                text,
                concept: id.clone(),
            });
        }
    }
    let root = scratch.join("held-out-index");
    let build = VectorBuild {
        models: &models,
        cache,
        scope: EmbedScope::Default,
        // Exact scan: training should not learn the graph's misses.
        hnsw: HnswParams {
            exact_below: usize::MAX,
            ..HnswParams::default()
        },
    };
    index::build_from_catalog(
        &catalog,
        report,
        &root,
        Instant::now(),
        Some(&build),
        &index::NoProgress,
    )?;
    drop(catalog);
    let searcher = Searcher::new(OccuIndex::open(&root)?, Ok(models))?.with_query_cache(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = held_out.len();
    let examples: Vec<Option<Example>> = held_out
        .par_iter()
        .map(|query| {
            let mut request = SearchRequest::new(query.text.clone());
            request.kinds = vec![Kind::Occupation, Kind::IscoGroup];
            request.limit = super::linking::LINKING_DEPTH;
            let candidates = match searcher.candidate_features(&request) {
                Ok(candidates) => candidates,
                Err(Error::InvalidRequest(_)) => return Ok(None),
                Err(other) => return Err(other),
            };
            progress(
                "queries",
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
                total,
            );
            let gold = candidates.iter().position(|(id, _)| id == query.concept.as_str());
            Ok(gold.map(|gold| (candidates.into_iter().map(|(_, x)| x).collect(), gold)))
        })
        .collect::<Result<_>>()?;
    drop(searcher);
    let _ = std::fs::remove_dir_all(&root);
    let examples: Vec<Example> = examples.into_iter().flatten().collect();
    if examples.len() < 50 {
        return Err(Error::InvalidRequest(format!(
            "only {} held-out labels found their concept among the candidates: too few to train on",
            examples.len()
        )));
    }
    // Validation: fit on four fifths, measure on the last fifth (the order is already random).
    let split = examples.len() * 4 / 5;
    let partial = Ranker::fit(&examples[..split], settings.l2, settings.iterations);
    let (validation_accuracy_1, validation_mrr) = rank_metrics(&partial, &examples[split..]);
    let mut ranker = Ranker::fit(&examples, settings.l2, settings.iterations);
    let report = TrainingReport {
        queries: held_out.len(),
        answerable: examples.len(),
        validation_accuracy_1,
        validation_mrr,
        seconds: started.elapsed().as_secs_f64(),
    };
    let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
    for example in &held_out {
        *sources
            .entry(if example.concept.is_isco_group() {
                Kind::IscoGroup.as_str()
            } else {
                Kind::Occupation.as_str()
            })
            .or_default() += 1;
    }
    ranker.trained = format!(
        "occusearch train-ranker --queries {} --per-concept {}{} --seed {}: {} alternative labels asked for, every other one held out of the index ({:?}), {} with their concept among the candidates; validation (fit on 4/5, tested on 1/5) A@1 {:.3}, MRR {:.3}; l2 {}, {} iterations",
        settings.queries,
        settings.per_concept,
        settings
            .concepts
            .as_ref()
            .map_or_else(String::new, |c| format!(" --concepts FILE ({} listed)", c.len())),
        settings.seed,
        report.queries,
        sources,
        report.answerable,
        validation_accuracy_1,
        validation_mrr,
        settings.l2,
        settings.iterations
    );
    Ok((ranker, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_concept_list_skips_blanks_and_comments_and_names_a_missing_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(
            &mut file,
            b"# held out\nhttp://data.europa.eu/esco/occupation/a\n\n  http://data.europa.eu/esco/occupation/b \n",
        )
        .unwrap();
        let list = read_concept_list(file.path()).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.contains("http://data.europa.eu/esco/occupation/b"));
        let missing = read_concept_list(Path::new("/nonexistent/held_out.txt")).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/held_out.txt"), "{missing}");
    }
}
