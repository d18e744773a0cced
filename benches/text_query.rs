//! Text-query latency on the full index built from `../shared/data`.
//!
//! `cargo bench --bench text_query` builds the index into `target/bench-index` on first use
//! (about 20 s; set OCCUSEARCH_BENCH_INDEX to reuse another), then runs criterion per query
//! class, then prints p50/p99 over a mixed set of queries in several languages.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use criterion::{criterion_group, Criterion};

use occusearch::index::{self, FieldWeights, OccuIndex};
use occusearch::ingest::IngestOptions;
use occusearch::search::{search, SearchRequest};
use occusearch::types::{Kind, Lang};

fn open_index() -> OccuIndex {
    let root = std::env::var_os("OCCUSEARCH_BENCH_INDEX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-index"));
    if OccuIndex::open(&root).is_err() {
        let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        let started = Instant::now();
        index::build(&[data], &root, IngestOptions::default(), None, &index::NoProgress)
            .expect("building the benchmark index");
        eprintln!("built the full index in {:.1} s", started.elapsed().as_secs_f64());
    }
    OccuIndex::open(&root).expect("opening the benchmark index")
}

fn request(query: &str, lang: Option<&str>) -> SearchRequest {
    let mut request = SearchRequest::new(query);
    request.lang = lang.and_then(Lang::parse);
    request
}

fn percentiles(index: &OccuIndex) {
    let weights = FieldWeights::default();
    let mut samples = Vec::new();
    for _ in 0..200 {
        for (query, lang) in common::QUERIES {
            let request = request(query, *lang);
            let started = Instant::now();
            let hits = search(index, &request, &weights).expect("search");
            samples.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(!hits.is_empty(), "{query}: no hit");
        }
    }
    common::print_percentiles("text query", common::QUERIES.len(), &mut samples);
}

fn bench(c: &mut Criterion) {
    let index = open_index();
    let weights = FieldWeights::default();
    let mut group = c.benchmark_group("text_query");
    group.bench_function("one_word_with_lang", |b| {
        b.iter(|| search(&index, &request("Softwareentwickler", Some("de")), &weights))
    });
    group.bench_function("one_word_all_languages", |b| {
        b.iter(|| search(&index, &request("Krankenpfleger", None), &weights))
    });
    group.bench_function("four_words_all_languages", |b| {
        b.iter(|| search(&index, &request("remote sensing image analysis", None), &weights))
    });
    group.bench_function("no_stemmer_language", |b| {
        b.iter(|| search(&index, &request("slaugytojai", Some("lt")), &weights))
    });
    group.bench_function("filtered_kind_material", |b| {
        let mut filtered = request("geographic information", None);
        filtered.kinds = vec![Kind::Material];
        b.iter(|| search(&index, &filtered, &weights))
    });
    group.finish();
    percentiles(&index);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
