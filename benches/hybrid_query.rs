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
use occusearch::search::{Mode, SearchRequest, Searcher, StageTimes};
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

/// Latency percentiles of `mode` over [`common::QUERIES`] × 20 (`kinds` asked, every kind when
/// empty), and the mean time of each stage of a search ([`StageTimes`]).
fn percentiles(searcher: &Searcher, mode: Mode, kinds: &[Kind]) {
    let mut samples = Vec::new();
    let mut stages: Vec<StageTimes> = Vec::new();
    for _ in 0..20 {
        for (query, lang) in common::QUERIES {
            let mut asked = request(query, *lang, mode);
            asked.kinds = kinds.to_vec();
            let started = Instant::now();
            let results = searcher.search(&asked).expect("search");
            samples.push(started.elapsed().as_secs_f64() * 1e3);
            stages.push(results.timings);
            assert!(!results.hits.is_empty(), "{query}: no hit");
        }
    }
    let what = match kinds {
        [] => format!("{} query", mode.as_str()),
        kinds => format!("{} query, kinds {kinds:?},", mode.as_str()),
    };
    print_stages(&what, common::QUERIES.len(), &mut samples, &stages);
}

/// The product's workload without HTTP: 400 distinct national job titles of MELO dev (the same
/// shuffled list as `http_load`'s, `../shared/eval/melo-dev` or OCCUSEARCH_BENCH_QUERIES), each
/// asked once with kinds occupation and ISCO group and no language, as `http_load`'s job-title
/// phase asks them: latency percentiles and the mean time of each stage.
fn unseen_job_titles(searcher: &Searcher) {
    let queries = common::melo_queries(&common::path_from(
        "OCCUSEARCH_BENCH_QUERIES",
        "../shared/eval/melo-dev",
    ));
    let mut samples = Vec::new();
    let mut stages: Vec<StageTimes> = Vec::new();
    for query in queries.iter().take(400) {
        let mut asked = request(query, None, Mode::Hybrid);
        asked.kinds = vec![Kind::Occupation, Kind::IscoGroup];
        let started = Instant::now();
        let results = searcher.search(&asked).expect("search");
        samples.push(started.elapsed().as_secs_f64() * 1e3);
        stages.push(results.timings);
    }
    let what = "hybrid query, unseen MELO job titles (kinds occupation, ISCO group),";
    print_stages(what, samples.len(), &mut samples, &stages);
}

/// Percentiles of `samples` and the mean time of each stage of `stages`.
fn print_stages(what: &str, distinct: usize, samples: &mut [f64], stages: &[StageTimes]) {
    common::print_percentiles(what, distinct, samples);
    let mean = |stage: fn(&StageTimes) -> std::time::Duration| {
        stages.iter().map(|t| stage(t).as_secs_f64() * 1e3).sum::<f64>() / stages.len() as f64
    };
    println!(
        "  mean per stage: text {:.2} ms (beside the vector side), embed {:.2} ms, vector {:.2} ms, \
         explain {:.2} ms, fusion {:.2} ms, hits {:.2} ms; total {:.2} ms",
        mean(|t| t.text),
        mean(|t| t.embed),
        mean(|t| t.vector),
        mean(|t| t.explain),
        mean(|t| t.fusion),
        mean(|t| t.hits),
        mean(|t| t.total),
    );
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
    percentiles(&searcher, Mode::Hybrid, &[]);
    percentiles(&searcher, Mode::Hybrid, &job_kinds);
    percentiles(&searcher, Mode::Vector, &[]);
    percentiles(&searcher, Mode::Text, &[]);
    unseen_job_titles(&searcher);
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
