//! Real-model tests: the offline multilingual-e5-small that `scripts/setup` (and `.ci/run`)
//! installs under `models/`. They fail, not skip, when it is missing.

use std::io::Write;
use std::sync::OnceLock;

use occusearch::embed::{dot, Embedder, Embedders, EmbeddingCache, FastEmbedder, ModelPaths, SessionPlan, TextKind};
use occusearch::eval::{run_task, EvalSettings, EvalTask, Mode};

pub fn model() -> &'static FastEmbedder {
    static MODEL: OnceLock<FastEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        // One single-threaded session per core: the index builds of these tests embed many
        // short labels from parallel batches (as `occusearch index` does).
        FastEmbedder::load_with(&ModelPaths::under(&models), SessionPlan::per_core()).unwrap_or_else(|e| {
            panic!("{e}\nthe real-model tests need the model: run scripts/setup (or scripts/models/setup.sh models)")
        })
    })
}

/// The default model of job titles (occupations, ISCO groups): the ESCO-adapted one.
pub fn title_model() -> &'static FastEmbedder {
    static MODEL: OnceLock<FastEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| {
        let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let variant = occusearch::config::Config::default().title_model;
        FastEmbedder::load_with(&ModelPaths::variant_under(&models, variant), SessionPlan::per_core())
            .unwrap_or_else(|e| panic!("{e}\nthe real-model tests need the models: run scripts/setup"))
    })
}

/// The default models as the binary loads them: the base model, and the adapted one for job titles.
pub fn models() -> Embedders {
    Embedders::split(
        std::sync::Arc::new(SharedEmbedder(model)),
        std::sync::Arc::new(SharedEmbedder(title_model)),
    )
}

#[test]
fn several_sessions_answer_concurrent_queries_with_the_same_vectors() {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let plan = SessionPlan {
        sessions: 2,
        threads_per_session: Some(1),
    };
    let pooled = FastEmbedder::load_with(&ModelPaths::under(&models), plan).unwrap();
    let queries = [
        "Krankenpfleger",
        "infirmier",
        "welder",
        "data scientist",
        "Schweißer",
        "nurse",
    ];
    // Each text alone on both sides: the int8 graph quantizes activations per batch, so a text's
    // vector moves slightly (cosine ≥ 0.995) with the other texts of its batch.
    let expected: Vec<Vec<f32>> = queries
        .iter()
        .map(|q| model().embed(&[*q], TextKind::Query).unwrap().remove(0))
        .collect();
    let answered: Vec<Vec<f32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = queries
            .iter()
            .map(|q| scope.spawn(|| pooled.embed(&[*q], TextKind::Query).unwrap().remove(0)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((query, pooled), single) in queries.iter().zip(&answered).zip(&expected) {
        assert!(dot(pooled, single) > 0.9999, "{query}: {}", dot(pooled, single));
    }
    let zero = SessionPlan {
        sessions: 0,
        threads_per_session: None,
    };
    assert!(FastEmbedder::load_with(&ModelPaths::under(&models), zero).is_err());
}

#[test]
fn the_model_links_job_titles_across_languages() {
    let model = model();
    assert_eq!(model.dimensions(), 384);
    let english = ["nurse", "welder", "software developer", "baker", "lawyer"];
    let vectors = model.embed(&english, TextKind::Query).unwrap();
    for vector in &vectors {
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "not unit length: {norm}");
    }
    // Not every pair holds for this 4-bit small model: "panadero" (es) lands nearer "welder"
    // than "baker". The mini benchmark below measures quality; this checks the wiring.
    for (query, expected) in [("Krankenpfleger", 0), ("Schweißer", 1), ("développeur de logiciels", 2)] {
        let query_vector = &model.embed(&[query], TextKind::Query).unwrap()[0];
        let best = (0..english.len())
            .max_by(|&a, &b| dot(&vectors[a], query_vector).total_cmp(&dot(&vectors[b], query_vector)))
            .unwrap();
        assert_eq!(
            english[best], english[expected],
            "{query} is closest to {}",
            english[best]
        );
    }
}

/// A cross-lingual mini benchmark from real ESCO files: German preferred labels (v1.2.0) as
/// queries, English preferred labels (v1.1.1) of the same 150 occupations as the corpus.
#[test]
fn hybrid_beats_text_on_german_queries_against_english_labels() {
    let data = crate::common::data_dir().join("esco");
    let read = |path: &str| -> std::collections::HashMap<String, String> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(data.join(path))
            .unwrap();
        let headers = reader.headers().unwrap().clone();
        let (uri, label) = (
            headers.iter().position(|h| h == "conceptUri").unwrap(),
            headers.iter().position(|h| h == "preferredLabel").unwrap(),
        );
        reader
            .records()
            .map(|r| r.unwrap())
            .map(|r| (r[uri].to_string(), r[label].to_string()))
            .collect()
    };
    let english = read("v1.1.1/en/occupations_en.csv");
    let german = read("v1.2.0/de/occupations_de.csv");
    let mut shared: Vec<&String> = english.keys().filter(|uri| german.contains_key(*uri)).collect();
    shared.sort();
    let dir = tempfile::tempdir().unwrap();
    let (mut corpus, mut queries, mut qrels) = (Vec::new(), Vec::new(), Vec::new());
    for (index, uri) in shared.iter().step_by(20).take(150).enumerate() {
        writeln!(corpus, "C{index:06}_en_000\t{}", english[*uri]).unwrap();
        writeln!(queries, "Q{index:06}\t{}", german[*uri]).unwrap();
        writeln!(qrels, "Q{index:06}\t0\tC{index:06}_en_000\t1").unwrap();
    }
    for (name, bytes) in [
        ("corpus.tsv", &corpus),
        ("queries.tsv", &queries),
        ("qrels.tsv", &qrels),
    ] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let task = EvalTask {
        name: "esco_q_de_c_en".into(),
        corpus: dir.path().join("corpus.tsv"),
        queries: dir.path().join("queries.tsv"),
        qrels: dir.path().join("qrels.tsv"),
        query_lang: occusearch::types::Lang::parse("de"),
    };
    let cache = EmbeddingCache::open(&dir.path().join("cache.bin")).unwrap();
    let settings = |mode| EvalSettings {
        mode,
        weights: Default::default(),
        fusion: Default::default(),
        models: Some(models()),
        cache: Some(&cache),
        progress: &|_, _, _| {},
    };
    let text = run_task(&task, &settings(Mode::Text), dir.path()).unwrap().metrics;
    let hybrid = run_task(&task, &settings(Mode::Hybrid), dir.path()).unwrap().metrics;
    // The corpus is embedded through the cache (once per model, by the first build: job titles
    // are in the general space and in their own); queries go to the model through the
    // searcher, as in `serve`.
    assert_eq!(cache.len(), 2 * 150, "every corpus label embedded once per model");
    assert!(hybrid.mrr > 0.6, "hybrid {hybrid:?}");
    assert!(hybrid.mrr > text.mrr + 0.2, "hybrid {hybrid:?} vs text {text:?}");
}

/// A real-model index (default embedding scope, default HNSW) over `files` with only the labels
/// in `langs` kept, and a searcher over it that embeds queries with the shared model. The
/// directory lives as long as the returned guard.
pub fn real_model_index(
    files: &[std::path::PathBuf],
    langs: &[&str],
) -> (tempfile::TempDir, occusearch::search::Searcher) {
    use occusearch::index::{self, EmbedScope, HnswParams, OccuIndex, VectorBuild};
    use occusearch::ingest::{ingest, IngestOptions};
    use occusearch::types::Lang;

    let (mut catalog, report) = ingest(files, IngestOptions::default(), &|_| {}).unwrap();
    let keep: Vec<Lang> = langs.iter().filter_map(|l| Lang::parse(l)).collect();
    for concept in catalog.concepts.values_mut() {
        concept.labels.retain(|lang, _| keep.contains(lang));
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = EmbeddingCache::open(&dir.path().join("cache.bin")).unwrap();
    let models = models();
    let build = VectorBuild {
        models: &models,
        cache: &cache,
        scope: EmbedScope::Default,
        hnsw: HnswParams::default(),
    };
    let root = dir.path().join("index");
    index::build_from_catalog(
        &catalog,
        report,
        &root,
        std::time::Instant::now(),
        Some(&build),
        &index::NoProgress,
    )
    .unwrap();
    let searcher = occusearch::search::Searcher::new(OccuIndex::open(&root).unwrap(), Ok(models)).unwrap();
    (dir, searcher)
}

/// One of the process-wide models above behind an `Arc<dyn Embedder>`: a searcher owns its
/// embedders, and the tests share one loaded copy of each model.
pub struct SharedEmbedder(pub fn() -> &'static FastEmbedder);

impl Embedder for SharedEmbedder {
    fn model_id(&self) -> &str {
        (self.0)().model_id()
    }
    fn dimensions(&self) -> usize {
        (self.0)().dimensions()
    }
    fn embed(&self, texts: &[&str], kind: TextKind) -> occusearch::Result<Vec<Vec<f32>>> {
        (self.0)().embed(texts, kind)
    }
}
