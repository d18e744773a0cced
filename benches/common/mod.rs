//! What the benchmarks share: the query set, where the index and model are, and opening them.
// Each benchmark is its own crate and uses part of this module.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use occusearch::embed::SessionPlan;
use occusearch::index::OccuIndex;
use occusearch::search::Searcher;

/// `$variable`, or `default` under the crate root.
pub fn path_from(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default))
}

/// The index `scripts/setup` builds (`index/`, or OCCUSEARCH_BENCH_INDEX), which must have
/// vectors, with the real model (`models/`, or OCCUSEARCH_MODELS).
pub fn open_vector_searcher() -> Searcher {
    open_vector_searcher_with(SessionPlan::default())
}

/// As [`open_vector_searcher`], with `plan` model sessions.
pub fn open_vector_searcher_with(plan: SessionPlan) -> Searcher {
    let index = OccuIndex::open(&path_from("OCCUSEARCH_BENCH_INDEX", "index"))
        .expect("no index: run scripts/setup first (or set OCCUSEARCH_BENCH_INDEX)");
    assert!(
        index.vectors.is_some(),
        "the benchmark index has no vectors: build it with --embed default or full"
    );
    // The models as the binary loads them (OCCUSEARCH_MODELS, OCCUSEARCH_MODEL, OCCUSEARCH_TITLE_MODEL).
    let config = occusearch::config::Config::load(None, &|key| std::env::var(key).ok()).expect("the configuration");
    let models = config
        .load_models(Some(&path_from("OCCUSEARCH_MODELS", "models")), plan)
        .expect("the models: run scripts/setup first");
    // The configured field weights, as `serve` and `eval` apply them.
    Searcher::new(index, Ok(models))
        .expect("opening the searcher")
        .with_weights(config.search.weights)
}

/// Prints p50/p90/p99/max of latencies in milliseconds over `distinct` queries asked.
pub fn print_percentiles(what: &str, distinct: usize, samples: &mut [f64]) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{what} latency over {} queries ({} distinct, top 10): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        samples.len(),
        distinct,
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

/// A mixed query set: 16 queries in 10 languages, with and without a language.
pub const QUERIES: &[(&str, Option<&str>)] = &[
    ("Softwareentwickler", Some("de")),
    ("Krankenpfleger", None),
    ("infirmier", Some("fr")),
    ("nurse", Some("en")),
    ("data scientist", None),
    ("penetration tester", None),
    ("remote sensing image analysis", None),
    ("slaugytojai", Some("lt")),
    ("programistów", Some("pl")),
    ("ηλεκτρολόγοι", Some("el")),
    ("manage a team of chefs in a restaurant kitchen", Some("en")),
    ("Lehrer Grundschule", Some("de")),
    ("desarrollador de aplicaciones móviles", Some("es")),
    ("cybersecurity risk management", None),
    ("Schweißer", None),
    ("vrachtwagenchauffeur", Some("nl")),
];

/// Every distinct MELO query text, shuffled with a fixed seed (a 64-bit LCG, Knuth's MMIX
/// constants) so runs are comparable.
pub fn melo_queries(dir: &Path) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut queries = Vec::new();
    let mut datasets: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set OCCUSEARCH_BENCH_QUERIES)", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path().join("queries.tsv")))
        .filter(|path| path.is_file())
        .collect();
    datasets.sort();
    for file in datasets {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for line in text.lines() {
            if let Some((_, query)) = line.split_once('\t') {
                let query = query.trim();
                if !query.is_empty() && seen.insert(query.to_string()) {
                    queries.push(query.to_string());
                }
            }
        }
    }
    let mut state: u64 = 42;
    for i in (1..queries.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        queries.swap(i, (state >> 33) as usize % (i + 1));
    }
    queries
}
