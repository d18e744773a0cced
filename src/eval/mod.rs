//! Evaluation on entity-linking benchmarks in the MELO layout (Avature/melo-benchmark): reads a
//! corpus (`id<TAB>surface form`), queries (`id<TAB>text`) and TREC qrels, indexes only that
//! corpus in a temporary index, runs every query, writes the top-100 run in TREC format and
//! computes the metrics of [`metrics`]. Nothing but the given files is used.

pub mod linking;
pub mod matching;
pub mod metrics;
pub mod training;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::embed::{Embedders, EmbeddingCache};
use crate::error::{Error, InputError, Position, Result};
use crate::index::{self, FieldWeights, OccuIndex};
use crate::ingest::{Catalog, IngestReport};
use crate::search::fusion::Fusion;
use crate::search::{SearchRequest, Searcher};
use crate::types::{Concept, ConceptId, Kind, Lang, LanguageLabels};
use metrics::{evaluate, trec_order, Qrels, QueryMetrics, Scored, RUN_DEPTH};

/// Reads a tab-separated file of `id<TAB>text` lines (no header, no quoting).
pub fn read_pairs(path: &Path) -> Result<Vec<(String, String)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut pairs = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io("cannot read", path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let located = |field: &str, message: &str| {
            Error::Input(InputError {
                file: path.to_path_buf(),
                position: Position::Line(index as u64 + 1),
                field: Some(field.into()),
                message: message.into(),
            })
        };
        let (id, text) = line
            .split_once('\t')
            .ok_or_else(|| located("text", "no tab after the id"))?;
        if id.trim().is_empty() {
            return Err(located("id", "empty"));
        }
        pairs.push((id.trim().to_string(), text.trim().to_string()));
    }
    Ok(pairs)
}

/// Reads TREC qrels (`query 0 doc grade`); grades above 0 are relevant.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut qrels = Qrels::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io("cannot read", path, e))?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let grade = match fields.as_slice() {
            [_, _, _, grade] => grade.parse::<i64>().ok(),
            _ => None,
        };
        let Some(grade) = grade else {
            return Err(Error::Input(InputError {
                file: path.to_path_buf(),
                position: Position::Line(index as u64 + 1),
                field: Some("grade".into()),
                message: "expected `query 0 document grade`".into(),
            }));
        };
        let relevant = qrels.entry(fields[0].to_string()).or_default();
        if grade > 0 {
            relevant.insert(fields[2].to_string());
        }
    }
    Ok(qrels)
}

/// The language of a MELO element id: `C000123_de_001` → `de`.
pub fn lang_of_element(id: &str) -> Option<Lang> {
    let mut parts = id.split('_');
    parts.next()?;
    Lang::parse(parts.next()?)
}

/// The query language of a MELO dataset name: `deu_q_de_c_en` → `de`.
pub fn query_lang_of_dataset(name: &str) -> Option<Lang> {
    let (_, rest) = name.split_once("_q_")?;
    Lang::parse(rest.split('_').next()?)
}

pub use crate::search::Mode;

/// What an evaluation runs with besides the files.
pub struct EvalSettings<'a> {
    pub mode: Mode,
    pub weights: FieldWeights,
    pub fusion: Fusion,
    /// Needed by the vector and hybrid modes.
    pub models: Option<Embedders>,
    pub cache: Option<&'a EmbeddingCache>,
    pub progress: &'a (dyn Fn(&str, usize, usize) + Sync),
}

/// One evaluation task: three files and the query language.
#[derive(Debug, Clone)]
pub struct EvalTask {
    pub name: String,
    pub corpus: PathBuf,
    pub queries: PathBuf,
    pub qrels: PathBuf,
    /// Language of the queries; `None`: taken as the corpus language.
    pub query_lang: Option<Lang>,
}

impl EvalTask {
    /// A MELO dataset folder (`corpus_elements.tsv`, `queries.tsv`, `annotations.tsv`).
    pub fn melo_folder(dir: &Path) -> EvalTask {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        EvalTask {
            query_lang: query_lang_of_dataset(&name),
            name,
            corpus: dir.join("corpus_elements.tsv"),
            queries: dir.join("queries.tsv"),
            qrels: dir.join("annotations.tsv"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    pub name: String,
    pub queries: usize,
    pub corpus: usize,
    pub metrics: QueryMetrics,
    pub seconds: f64,
    #[serde(skip)]
    pub run: BTreeMap<String, Vec<Scored>>,
}

/// The corpus as a catalogue: one concept per MELO concept (`C000123`), its surface forms as
/// labels (`_000`, the preferred one, first; the others alternative), so that ranking happens
/// on concepts exactly as in the served index.
fn corpus_catalog(elements: &[(String, String)], corpus_path: &Path) -> Result<(Catalog, Lang)> {
    let mut concepts: BTreeMap<&str, Concept> = BTreeMap::new();
    let mut corpus_lang = None;
    for (index, (id, text)) in elements.iter().enumerate() {
        let lang = lang_of_element(id).ok_or_else(|| {
            Error::Input(InputError {
                file: corpus_path.to_path_buf(),
                position: Position::Line(index as u64 + 1),
                field: Some("id".into()),
                message: format!("no language in element id {id:?} (expected e.g. C000123_de_001)"),
            })
        })?;
        corpus_lang.get_or_insert_with(|| lang.clone());
        let concept_id = concept_of_element(id);
        let concept = concepts
            .entry(concept_id)
            .or_insert_with(|| Concept::new(ConceptId::new(concept_id), Kind::Occupation, "eval"));
        let labels: &mut LanguageLabels = concept.labels.entry(lang).or_default();
        if labels.preferred.is_none() {
            labels.preferred = Some(text.clone());
        } else {
            labels.alternative.push(text.clone());
        }
    }
    let mut catalog = Catalog::default();
    for (_, mut concept) in concepts {
        concept.labels.values_mut().for_each(LanguageLabels::normalise);
        catalog.merge(concept);
    }
    let lang = corpus_lang
        .ok_or_else(|| Error::InvalidRequest(format!("{} holds no corpus elements", corpus_path.display())))?;
    Ok((catalog, lang))
}

/// The element of `concept` whose surface form is `label` (folded whitespace), else its first.
fn element_of<'a>(
    concept: &str,
    label: Option<&str>,
    elements_of_concept: &HashMap<&'a str, Vec<&'a str>>,
    text_of: &HashMap<&str, &str>,
) -> Option<&'a str> {
    let elements = elements_of_concept.get(concept)?;
    label
        .and_then(|label| {
            elements
                .iter()
                .find(|e| text_of.get(*e).is_some_and(|t| t.trim() == label))
        })
        .or_else(|| elements.first())
        .copied()
}

/// Concepts whose other surface forms are listed right after the diverse head of the run.
pub const EXPANDED_CONCEPTS: usize = 10;

/// Aggregates element hits to concepts (`C000123_de_001` → `C000123`, ranked by their best
/// element) and lays the run out for both metrics: first the best element of each concept, in
/// concept order, for the top [`EXPANDED_CONCEPTS`] concepts (so a wrong concept takes one rank,
/// not all its labels: that is what MRR sees); then every other surface form of those concepts
/// (every one is relevant when the concept is: that is what MAP sees); then the best element of
/// each further concept. Scores are rewritten to fall with the position, so that trec_eval keeps
/// this order.
pub fn aggregate_to_concepts(ranked: &[Scored], elements_of_concept: &HashMap<&str, Vec<&str>>) -> Vec<Scored> {
    let mut concepts: Vec<&str> = Vec::new();
    let mut best: HashMap<&str, &str> = HashMap::new();
    for scored in ranked {
        let concept = concept_of_element(&scored.doc);
        if !best.contains_key(concept) {
            best.insert(concept, &scored.doc);
            concepts.push(concept);
        }
    }
    let mut order: Vec<&str> = Vec::with_capacity(RUN_DEPTH);
    let head = concepts.len().min(EXPANDED_CONCEPTS);
    order.extend(concepts[..head].iter().map(|c| best[c]));
    for concept in &concepts[..head] {
        let others = elements_of_concept.get(concept).map(Vec::as_slice).unwrap_or_default();
        order.extend(others.iter().copied().filter(|e| *e != best[concept]));
    }
    order.extend(concepts[head..].iter().map(|c| best[c]));
    order.truncate(RUN_DEPTH);
    let length = order.len();
    order
        .into_iter()
        .enumerate()
        .map(|(position, doc)| Scored {
            doc: doc.to_string(),
            score: (length - position) as f64,
        })
        .collect()
}

/// Runs one task in a temporary index under `scratch`: the corpus becomes concepts, every
/// query goes through the same [`Searcher`] as `search` and `serve`, and the ranked concepts are
/// expanded to their surface forms only to write the run that trec_eval's metrics read.
pub fn run_task(task: &EvalTask, settings: &EvalSettings<'_>, scratch: &Path) -> Result<EvalResult> {
    let mode = settings.mode;
    let started = Instant::now();
    let elements = read_pairs(&task.corpus)?;
    let queries = read_pairs(&task.queries)?;
    let qrels = read_qrels(&task.qrels)?;
    let (catalog, corpus_lang) = corpus_catalog(&elements, &task.corpus)?;
    let mut elements_of_concept: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, _) in &elements {
        elements_of_concept.entry(concept_of_element(id)).or_default().push(id);
    }
    let text_of: HashMap<&str, &str> = elements.iter().map(|(id, t)| (id.as_str(), t.as_str())).collect();
    let root = scratch.join(if task.name.is_empty() { "task" } else { &task.name });
    let embedder = match mode {
        Mode::Text => None,
        Mode::Vector | Mode::Hybrid => match (&settings.models, settings.cache) {
            (Some(models), Some(cache)) => Some((models.clone(), cache)),
            _ => {
                return Err(Error::Model(format!(
                    "--mode {} needs the embedding model (run scripts/setup)",
                    mode.as_str()
                )))
            }
        },
    };
    let vector_build = embedder.as_ref().map(|(models, cache)| index::VectorBuild {
        models,
        cache,
        scope: index::EmbedScope::Default,
        // Exact cosine: the measure is of ranking, not of the graph's recall (`recall` measures that).
        hnsw: index::HnswParams {
            exact_below: usize::MAX,
            ..index::HnswParams::default()
        },
    });
    let corpus_total = elements.len();
    let progress = |done: u64| (settings.progress)("corpus", done as usize, corpus_total);
    index::build_from_catalog(
        &catalog,
        IngestReport::default(),
        &root,
        Instant::now(),
        vector_build.as_ref(),
        &EmbedProgress(&progress),
    )?;
    let opened = OccuIndex::open(&root)?;
    let searcher = match &embedder {
        Some((models, _)) => Searcher::new(opened, Ok(models.clone()))?,
        None => Searcher::text_only(opened),
    }
    .with_weights(settings.weights)
    .with_fusion(settings.fusion);
    let query_lang = task.query_lang.clone().unwrap_or_else(|| corpus_lang.clone());
    // Same language: that language's analyzer. Cross-lingual: every analyzer (the corpus holds one
    // language, so no filter is lost).
    let lang = (query_lang == corpus_lang).then_some(corpus_lang);
    let run: BTreeMap<String, Vec<Scored>> = queries
        .par_iter()
        .map(|(id, text)| {
            let mut request = SearchRequest::new(text.clone());
            request.lang = lang.clone();
            request.limit = RUN_DEPTH;
            request.mode = Some(mode);
            let hits = match searcher.search(&request) {
                Ok(results) => results.hits,
                // An empty or over-long query has no answer; it scores 0 like any miss.
                Err(Error::InvalidRequest(_)) => Vec::new(),
                Err(other) => return Err(other),
            };
            let ranked: Vec<Scored> = hits
                .iter()
                .filter_map(|hit| {
                    let label = hit
                        .vector
                        .as_ref()
                        .map(|v| v.label.as_str())
                        .or(hit.matched_label.as_deref());
                    element_of(&hit.id, label, &elements_of_concept, &text_of).map(|element| Scored {
                        doc: element.to_string(),
                        score: hit.score,
                    })
                })
                .collect();
            Ok((
                id.clone(),
                trec_order(aggregate_to_concepts(&ranked, &elements_of_concept)),
            ))
        })
        .collect::<Result<_>>()?;
    let (metrics, _) = evaluate(&run, &qrels);
    drop(searcher);
    let _ = std::fs::remove_dir_all(&root);
    Ok(EvalResult {
        name: task.name.clone(),
        queries: qrels.values().filter(|r| !r.is_empty()).count(),
        corpus: elements.len(),
        metrics,
        seconds: started.elapsed().as_secs_f64(),
        run,
    })
}

/// Reports the embedding stage of a build as eval progress.
struct EmbedProgress<'a>(&'a (dyn Fn(u64) + Sync));

impl index::BuildProgress for EmbedProgress<'_> {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, done: u64) {
        (self.0)(done)
    }
    fn finish_stage(&self) {}
}

/// Writes a run in TREC format: `query Q0 document rank score run-name`.
pub fn write_run(run: &BTreeMap<String, Vec<Scored>>, run_name: &str, out: &mut dyn Write) -> std::io::Result<()> {
    for (query, ranked) in run {
        for (index, scored) in ranked.iter().enumerate() {
            writeln!(
                out,
                "{query} Q0 {} {} {:.6} {run_name}",
                scored.doc,
                index + 1,
                scored.score
            )?;
        }
    }
    Ok(())
}

/// Every dataset folder directly under `dir` that holds the three MELO files, sorted.
pub fn melo_tasks(dir: &Path) -> Result<Vec<EvalTask>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir, e))?;
    let mut tasks: Vec<EvalTask> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.join("corpus_elements.tsv").is_file()
                && p.join("queries.tsv").is_file()
                && p.join("annotations.tsv").is_file()
        })
        .map(|p| EvalTask::melo_folder(&p))
        .collect();
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    if tasks.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "no MELO dataset folders in {}",
            dir.display()
        )));
    }
    Ok(tasks)
}

/// Per-dataset metrics and their unweighted mean, as the MELO paper reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    pub datasets: BTreeMap<String, QueryMetrics>,
    pub mean: QueryMetrics,
}

pub fn summarise(results: &[EvalResult]) -> EvalSummary {
    let datasets: BTreeMap<String, QueryMetrics> = results.iter().map(|r| (r.name.clone(), r.metrics)).collect();
    let mean = QueryMetrics::mean(datasets.values());
    EvalSummary { datasets, mean }
}

/// The Markdown table `occusearch eval` prints: one row per dataset of `results`, then the mean
/// of `summary`.
pub fn write_table(results: &[EvalResult], summary: &EvalSummary, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "| dataset | queries | corpus | MRR | MAP | S@1 | S@5 | S@10 | R@10 |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let row = |name: &str, queries: String, corpus: String, m: &QueryMetrics| {
        format!(
            "| {name} | {queries} | {corpus} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.mrr, m.map, m.success_1, m.success_5, m.success_10, m.recall_10
        )
    };
    for result in results {
        writeln!(
            out,
            "{}",
            row(
                &result.name,
                result.queries.to_string(),
                result.corpus.to_string(),
                &result.metrics
            )
        )?;
    }
    writeln!(out, "{}", row("**mean**", String::new(), String::new(), &summary.mean))?;
    Ok(())
}

/// Element ids of the run grouped by the concept they name (`C000123_de_001` → `C000123`).
pub fn concept_of_element(id: &str) -> &str {
    id.split('_').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_dataset_names_give_languages() {
        assert_eq!(lang_of_element("C000123_de_001").unwrap().as_str(), "de");
        assert!(lang_of_element("C000123").is_none());
        assert_eq!(query_lang_of_dataset("deu_q_de_c_en").unwrap().as_str(), "de");
        assert_eq!(concept_of_element("C000123_de_001"), "C000123");
    }

    #[test]
    fn aggregation_lists_each_concept_once_then_expands_the_head() {
        let ranked = vec![
            Scored {
                doc: "C1_en_002".into(),
                score: 9.0,
            },
            Scored {
                doc: "C1_en_000".into(),
                score: 8.0,
            },
            Scored {
                doc: "C2_en_001".into(),
                score: 7.0,
            },
        ];
        let mut elements: HashMap<&str, Vec<&str>> = HashMap::new();
        elements.insert("C1", vec!["C1_en_000", "C1_en_001", "C1_en_002"]);
        elements.insert("C2", vec!["C2_en_000", "C2_en_001"]);
        let run = aggregate_to_concepts(&ranked, &elements);
        let docs: Vec<&str> = run.iter().map(|s| s.doc.as_str()).collect();
        assert_eq!(
            docs,
            vec!["C1_en_002", "C2_en_001", "C1_en_000", "C1_en_001", "C2_en_000"]
        );
        assert!(run.windows(2).all(|w| w[0].score > w[1].score));
    }

    #[test]
    fn run_format_is_trec() {
        let mut run = BTreeMap::new();
        run.insert(
            "Q1".to_string(),
            vec![Scored {
                doc: "C1_en_000".into(),
                score: 2.5,
            }],
        );
        let mut out = Vec::new();
        write_run(&run, "occusearch", &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Q1 Q0 C1_en_000 1 2.500000 occusearch\n"
        );
    }
}
