//! Hybrid and vector query latency on an index with vectors and the real model.
//!
//! `cargo bench --bench hybrid_query` opens the index that `scripts/setup` builds (`index/`, or
//! OCCUSEARCH_BENCH_INDEX) and the model in `models/` (or OCCUSEARCH_MODELS). It runs criterion
//! for the stages (query embedding, vector search, whole hybrid query), then prints p50/p99 of
//! whole hybrid queries over a mixed set in several languages. Every query is embedded anew
//! (the query-vector cache is off here), so the numbers include the model; `http_load` measures
//! the service with its cache.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, Criterion};

use occusearch::embed::{Embedder, FastEmbedder, ModelPaths};
use occusearch::index::OccuIndex;
use occusearch::search::{Mode, SearchRequest, Searcher};
use occusearch::types::Lang;

const QUERIES: &[(&str, Option<&str>)] = &[
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

fn path_from(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default))
}

fn open_searcher() -> Searcher {
    let index = OccuIndex::open(&path_from("OCCUSEARCH_BENCH_INDEX", "index"))
        .expect("no index with vectors: run scripts/setup first (or set OCCUSEARCH_BENCH_INDEX)");
    assert!(
        index.vectors.is_some(),
        "the benchmark index has no vectors: build it with --embed default or full"
    );
    let model = FastEmbedder::load(&ModelPaths::under(&path_from("OCCUSEARCH_MODELS", "models")))
        .expect("the model: run scripts/setup first");
    let model: Arc<dyn Embedder> = Arc::new(model);
    // No query-vector cache: every query is embedded anew, so the numbers include the model.
    Searcher::new(index, Ok(model))
        .expect("opening the searcher")
        .with_query_cache(0)
}

fn request(query: &str, lang: Option<&str>, mode: Mode) -> SearchRequest {
    let mut request = SearchRequest::new(query);
    request.lang = lang.and_then(Lang::parse);
    request.mode = Some(mode);
    request
}

fn percentiles(searcher: &Searcher, mode: Mode) {
    let mut samples = Vec::new();
    for _ in 0..20 {
        for (query, lang) in QUERIES {
            let started = Instant::now();
            let results = searcher.search(&request(query, *lang, mode)).expect("search");
            samples.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(!results.hits.is_empty(), "{query}: no hit");
        }
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{} query latency over {} queries ({} distinct, top 10): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        mode.as_str(),
        samples.len(),
        QUERIES.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn bench(c: &mut Criterion) {
    let searcher = open_searcher();
    let store = searcher.index.vectors.as_ref().expect("vectors");
    let mut group = c.benchmark_group("hybrid_query");
    group.bench_function("embed_query", |b| {
        b.iter(|| searcher.embed_query("Krankenpfleger").expect("embedding"))
    });
    let query = searcher
        .embed_query("Krankenpfleger")
        .expect("embedding")
        .expect("vectors available");
    group.bench_function("vector_search_top_200_labels", |b| {
        b.iter(|| store.search(&query, 200, None).expect("vector search"))
    });
    group.bench_function("hybrid_one_word", |b| {
        b.iter(|| searcher.search(&request("Krankenpfleger", None, Mode::Hybrid)))
    });
    group.bench_function("hybrid_four_words", |b| {
        b.iter(|| searcher.search(&request("remote sensing image analysis", None, Mode::Hybrid)))
    });
    group.finish();
    percentiles(&searcher, Mode::Hybrid);
    percentiles(&searcher, Mode::Vector);
    percentiles(&searcher, Mode::Text);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
