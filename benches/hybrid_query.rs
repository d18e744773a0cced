//! Hybrid and vector query latency on an index with vectors and the real model.
//!
//! `cargo bench --bench hybrid_query` opens the index that `scripts/setup` builds (`index/`, or
//! OCCUSEARCH_BENCH_INDEX) and the model in `models/` (or OCCUSEARCH_MODELS). It runs criterion
//! for the stages (query embedding, vector search, whole hybrid query), then prints p50/p99 of
//! whole hybrid queries over a mixed set in several languages. Every query is embedded anew
//! (the query-vector cache is off here), so the numbers include the model; `http_load` measures
//! the service with its cache.

mod common;

use std::time::Instant;

use criterion::{criterion_group, Criterion};

use occusearch::index::vectors::{VectorConcept, VectorEntry};
use occusearch::search::{Mode, SearchRequest, Searcher};
use occusearch::types::{Kind, Lang};

fn open_searcher() -> Searcher {
    // No query-vector cache: every query is embedded anew, so the numbers include the model.
    common::open_vector_searcher().with_query_cache(0)
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
        for (query, lang) in common::QUERIES {
            let started = Instant::now();
            let results = searcher.search(&request(query, *lang, mode)).expect("search");
            samples.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(!results.hits.is_empty(), "{query}: no hit");
        }
    }
    common::print_percentiles(&format!("{} query", mode.as_str()), &mut samples);
}

fn bench(c: &mut Criterion) {
    let searcher = open_searcher();
    // Job titles' store and model (their own space in the default index).
    let store = searcher.index.store_of_kind(Kind::Occupation).expect("vectors");
    let space = searcher.index.space_of(Kind::Occupation);
    let mut group = c.benchmark_group("hybrid_query");
    group.bench_function("embed_query", |b| {
        b.iter(|| searcher.embed_query_in(space, "Krankenpfleger").expect("embedding"))
    });
    let query = searcher
        .embed_query_in(space, "Krankenpfleger")
        .expect("embedding")
        .expect("vectors available");
    group.bench_function("vector_search_top_200_labels", |b| {
        b.iter(|| store.search(&query, 200, None).expect("vector search"))
    });
    // The product's job-title search filters kinds (occupation, ISCO group): per-kind entry lists
    // instead of a filter tested on every stored vector.
    let job_kinds = [Kind::Occupation, Kind::IscoGroup];
    let kind_filter = |_: &VectorEntry, concept: &VectorConcept| job_kinds.contains(&concept.kind);
    group.bench_function("vector_search_top_200_labels_occupation_filter_closure", |b| {
        b.iter(|| store.search(&query, 200, Some(&kind_filter)).expect("vector search"))
    });
    group.bench_function("vector_search_top_200_labels_occupation_kinds", |b| {
        b.iter(|| {
            store
                .search_kinds(&query, 200, &job_kinds, None)
                .expect("vector search")
        })
    });
    group.bench_function("hybrid_one_word_occupation_kinds", |b| {
        let mut filtered = request("Krankenpfleger", None, Mode::Hybrid);
        filtered.kinds = job_kinds.to_vec();
        b.iter(|| searcher.search(&filtered))
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
