//! The product benchmark: national job titles against the index a user is served. Each query of a
//! monolingual MELO folder (`<country>_q_<l>_c_<l>`) goes through the same [`Searcher`] as
//! `/search?q=…&kind=occupation,isco-group&limit=100` (no `lang`: a user rarely sets one), and
//! is judged by the rank of its gold ESCO concept (`annotations.tsv` → `concept_mapping.tsv`).
//!
//! Metrics are concept-level: reciprocal rank of the first gold concept (0 beyond the depth),
//! accuracy@k (a gold concept within the first k), averaged per country, then over countries
//! with equal weight (as MELO averages its datasets).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{query_lang_of_dataset, read_pairs};
use crate::error::{Error, InputError, Position, Result};
use crate::search::{Mode, SearchRequest, Searcher};
use crate::types::{ConceptId, Kind, Lang};

/// Hits asked for per query, as the benchmark's HTTP form (`limit=100`).
pub const LINKING_DEPTH: usize = 100;
/// Queries per country by default (fixed seed), as the search-quality issue measures.
pub const DEFAULT_SAMPLE: usize = 150;
pub const DEFAULT_SEED: u64 = 2024;

/// One job title and the concepts it links to.
#[derive(Debug, Clone)]
pub struct LinkingQuery {
    pub id: String,
    pub text: String,
    pub gold: BTreeSet<ConceptId>,
}

/// The queries of one country (one monolingual MELO folder).
#[derive(Debug, Clone)]
pub struct LinkingTask {
    /// The folder name, e.g. `deu_q_de_c_de`.
    pub name: String,
    pub lang: Lang,
    pub queries: Vec<LinkingQuery>,
}

/// splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014): a fixed-seed sample that is the same on every machine and in every release.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first `n` of a Fisher–Yates shuffle of `items` with `seed`; all of them when `n` is 0.
pub fn sample<T>(mut items: Vec<T>, n: usize, seed: u64) -> Vec<T> {
    if n == 0 || n >= items.len() {
        return items;
    }
    let mut state = seed;
    for i in 0..n {
        let j = i + (splitmix64(&mut state) % (items.len() - i) as u64) as usize;
        items.swap(i, j);
    }
    items.truncate(n);
    items
}

/// Reads one monolingual MELO folder: queries with their gold concept URIs.
pub fn read_task(dir: &Path) -> Result<LinkingTask> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lang = query_lang_of_dataset(&name).ok_or_else(|| {
        Error::InvalidRequest(format!(
            "{}: not a MELO folder name (<country>_q_<lang>_c_<lang>)",
            dir.display()
        ))
    })?;
    let mapping_path = dir.join("concept_mapping.tsv");
    let uri_of: HashMap<String, String> = read_pairs(&mapping_path)?.into_iter().collect();
    let qrels_path = dir.join("annotations.tsv");
    let qrels = super::read_qrels(&qrels_path)?;
    let mut queries = Vec::new();
    for (id, text) in read_pairs(&dir.join("queries.tsv"))? {
        let Some(elements) = qrels.get(&id) else { continue };
        let mut gold = BTreeSet::new();
        for element in elements {
            let uri = uri_of.get(element).ok_or_else(|| {
                Error::Input(InputError {
                    file: mapping_path.clone(),
                    position: Position::Line(0),
                    field: Some("element".into()),
                    message: format!(
                        "{element} (judged for {id} in {}) has no concept URI",
                        qrels_path.display()
                    ),
                })
            })?;
            gold.insert(ConceptId::new(uri.clone()));
        }
        if !gold.is_empty() {
            queries.push(LinkingQuery { id, text, gold });
        }
    }
    Ok(LinkingTask { name, lang, queries })
}

/// Every monolingual MELO folder under `dir` (query language = corpus language), sorted by
/// name, each sampled to `sample` queries (0: all) with `seed`.
pub fn linking_tasks(dir: &Path, sample_size: usize, seed: u64) -> Result<Vec<LinkingTask>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir, e))?;
    let mut folders: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("queries.tsv").is_file() && p.join("concept_mapping.tsv").is_file())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match name.split_once("_q_").and_then(|(_, rest)| rest.split_once("_c_")) {
                Some((query, corpus)) => query == corpus,
                None => false,
            }
        })
        .collect();
    folders.sort();
    if folders.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "no monolingual MELO folders (<country>_q_<l>_c_<l>) in {}",
            dir.display()
        )));
    }
    folders
        .iter()
        .map(|folder| {
            let mut task = read_task(folder)?;
            task.queries = sample(task.queries, sample_size, seed);
            Ok(task)
        })
        .collect()
}

/// Concept-level metrics over a set of queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LinkingMetrics {
    pub queries: usize,
    pub mrr: f64,
    pub accuracy_1: f64,
    pub accuracy_5: f64,
    pub accuracy_10: f64,
}

impl LinkingMetrics {
    /// From the rank (from 1) of the first gold concept of each query, `None` when not found.
    pub fn from_ranks(ranks: &[Option<usize>]) -> LinkingMetrics {
        let n = ranks.len().max(1) as f64;
        let within = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
        LinkingMetrics {
            queries: ranks.len(),
            mrr: ranks.iter().map(|r| r.map_or(0.0, |r| 1.0 / r as f64)).sum::<f64>() / n,
            accuracy_1: within(1),
            accuracy_5: within(5),
            accuracy_10: within(10),
        }
    }

    /// Unweighted mean over countries.
    pub fn mean<'a>(all: impl Iterator<Item = &'a LinkingMetrics>) -> LinkingMetrics {
        let all: Vec<&LinkingMetrics> = all.collect();
        let n = all.len().max(1) as f64;
        let avg = |f: fn(&LinkingMetrics) -> f64| all.iter().map(|m| f(m)).sum::<f64>() / n;
        LinkingMetrics {
            queries: all.iter().map(|m| m.queries).sum(),
            mrr: avg(|m| m.mrr),
            accuracy_1: avg(|m| m.accuracy_1),
            accuracy_5: avg(|m| m.accuracy_5),
            accuracy_10: avg(|m| m.accuracy_10),
        }
    }
}

/// One query's outcome (for `--details`-style inspection and tests).
#[derive(Debug, Clone, Serialize)]
pub struct LinkingOutcome {
    pub id: String,
    pub query: String,
    pub rank: Option<usize>,
    pub top: Option<String>,
}

/// Which kind of concept a query's gold is: an ISCO group when every gold concept is one (the
/// annotators found no ESCO occupation close enough), else an occupation.
pub fn gold_kind(gold: &BTreeSet<ConceptId>) -> Kind {
    if !gold.is_empty() && gold.iter().all(ConceptId::is_isco_group) {
        Kind::IscoGroup
    } else {
        Kind::Occupation
    }
}

/// The benchmark's result: per country and the mean.
#[derive(Debug, Clone, Serialize)]
pub struct LinkingReport {
    pub mode: Mode,
    pub countries: BTreeMap<String, LinkingMetrics>,
    pub mean: LinkingMetrics,
    /// Per country, the metrics of the queries whose gold is an occupation and of those whose
    /// gold is an ISCO group ([`gold_kind`]): the two need opposite things of a ranking.
    pub by_gold_kind: BTreeMap<String, BTreeMap<Kind, LinkingMetrics>>,
    /// Every query's rank and first hit, per country (what `--json` adds to the table).
    pub outcomes: BTreeMap<String, Vec<LinkingOutcome>>,
}

impl LinkingReport {
    /// A Markdown table: one row per country, then the mean.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "mode: {}", self.mode.as_str())?;
        writeln!(out, "| country | queries | MRR | A@1 | A@5 | A@10 |")?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
        let row = |out: &mut dyn Write, name: &str, m: &LinkingMetrics| {
            writeln!(
                out,
                "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
                m.queries, m.mrr, m.accuracy_1, m.accuracy_5, m.accuracy_10
            )
        };
        for (name, metrics) in &self.countries {
            row(out, name, metrics)?;
        }
        row(out, "**mean**", &self.mean)?;
        writeln!(out)?;
        writeln!(out, "by the kind of the gold concept (queries, MRR, A@1):")?;
        writeln!(out, "| country | gold occupation | gold ISCO group |")?;
        writeln!(out, "|---|---:|---:|")?;
        for (name, kinds) in &self.by_gold_kind {
            let cell = |kind: Kind| {
                kinds.get(&kind).map_or_else(
                    || "0".to_string(),
                    |m| format!("{}, {:.3}, {:.3}", m.queries, m.mrr, m.accuracy_1),
                )
            };
            writeln!(
                out,
                "| {name} | {} | {} |",
                cell(Kind::Occupation),
                cell(Kind::IscoGroup)
            )?;
        }
        Ok(())
    }
}

/// Runs every task through `searcher` in `mode` (`None`: the searcher's default, hybrid where
/// vectors are available), kinds occupation and ISCO group, no language, depth 100.
pub fn run_linking(
    searcher: &Searcher,
    tasks: &[LinkingTask],
    mode: Option<Mode>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<LinkingReport> {
    let total: usize = tasks.iter().map(|t| t.queries.len()).sum();
    let mut done = 0;
    let mut countries = BTreeMap::new();
    let mut outcomes = BTreeMap::new();
    let mut by_gold_kind = BTreeMap::new();
    let mut answered_mode = mode.unwrap_or(Mode::Hybrid);
    for task in tasks {
        let mut ranks = Vec::with_capacity(task.queries.len());
        let mut details = Vec::with_capacity(task.queries.len());
        for query in &task.queries {
            let mut request = SearchRequest::new(query.text.clone());
            request.kinds = vec![Kind::Occupation, Kind::IscoGroup];
            request.limit = LINKING_DEPTH;
            request.mode = mode;
            let (rank, top) = match searcher.search(&request) {
                Ok(results) => {
                    answered_mode = results.mode;
                    let rank = results
                        .hits
                        .iter()
                        .position(|hit| query.gold.contains(&ConceptId::new(hit.id.clone())))
                        .map(|p| p + 1);
                    (rank, results.hits.first().map(|h| h.label.clone()))
                }
                // An empty or over-long title has no answer; it scores 0 like any miss.
                Err(Error::InvalidRequest(_)) => (None, None),
                Err(other) => return Err(other),
            };
            ranks.push(rank);
            details.push(LinkingOutcome {
                id: query.id.clone(),
                query: query.text.clone(),
                rank,
                top,
            });
            done += 1;
            progress(done, total);
        }
        let mut ranks_by_kind: BTreeMap<Kind, Vec<Option<usize>>> = BTreeMap::new();
        for (query, rank) in task.queries.iter().zip(&ranks) {
            ranks_by_kind.entry(gold_kind(&query.gold)).or_default().push(*rank);
        }
        by_gold_kind.insert(
            task.name.clone(),
            ranks_by_kind
                .into_iter()
                .map(|(kind, ranks)| (kind, LinkingMetrics::from_ranks(&ranks)))
                .collect(),
        );
        countries.insert(task.name.clone(), LinkingMetrics::from_ranks(&ranks));
        outcomes.insert(task.name.clone(), details);
    }
    let mean = LinkingMetrics::mean(countries.values());
    Ok(LinkingReport {
        mode: answered_mode,
        countries,
        mean,
        by_gold_kind,
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_fixed_by_its_seed_and_draws_without_repeats() {
        let items: Vec<u32> = (0..1000).collect();
        let a = sample(items.clone(), 150, 7);
        let b = sample(items.clone(), 150, 7);
        let c = sample(items.clone(), 150, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let distinct: BTreeSet<u32> = a.iter().copied().collect();
        assert_eq!(distinct.len(), 150);
        assert_eq!(sample(items.clone(), 0, 7).len(), 1000);
        // The first draws of splitmix64 from seed 0 are published test vectors.
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn a_query_is_scored_as_an_isco_group_one_only_when_every_gold_concept_is_a_group() {
        let gold = |uris: &[&str]| uris.iter().map(|u| ConceptId::new(*u)).collect::<BTreeSet<_>>();
        let group = "http://data.europa.eu/esco/isco/C6210";
        let occupation = "http://data.europa.eu/esco/occupation/e68dcbae-3f54-4b5e-9bd3-0ab36a3b9c5d";
        assert_eq!(gold_kind(&gold(&[group])), Kind::IscoGroup);
        assert_eq!(gold_kind(&gold(&[group, occupation])), Kind::Occupation);
        assert_eq!(gold_kind(&gold(&[occupation])), Kind::Occupation);
        assert_eq!(gold_kind(&gold(&[])), Kind::Occupation);
    }

    #[test]
    fn metrics_follow_their_definitions() {
        let m = LinkingMetrics::from_ranks(&[Some(1), Some(2), None, Some(6)]);
        assert!((m.mrr - (1.0 + 0.5 + 0.0 + 1.0 / 6.0) / 4.0).abs() < 1e-12);
        assert_eq!((m.accuracy_1, m.accuracy_5, m.accuracy_10), (0.25, 0.5, 0.75));
        let mean = LinkingMetrics::mean([m, LinkingMetrics::from_ranks(&[Some(1)])].iter());
        assert!((mean.accuracy_1 - 0.625).abs() < 1e-12);
        assert_eq!(mean.queries, 5);
    }

    #[test]
    fn the_dev_folders_read_with_gold_uris() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval/melo-dev");
        let tasks = linking_tasks(&dir, 150, DEFAULT_SEED).expect("melo-dev");
        assert_eq!(
            tasks.len(),
            8,
            "{:?}",
            tasks.iter().map(|t| &t.name).collect::<Vec<_>>()
        );
        for task in &tasks {
            assert_eq!(task.queries.len(), 150, "{}", task.name);
            assert!(task.queries.iter().all(|q| q
                .gold
                .iter()
                .all(|g| g.as_str().starts_with("http://data.europa.eu/esco/"))));
        }
    }
}
