//! Configuration, resolved once in this order: built-in defaults → config file (TOML) →
//! environment (`OCCUSEARCH_*`) → command-line flags (applied by the binary). The result is
//! validated and passed down typed; nothing below reads the environment.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use std::sync::Arc;

use crate::embed::{Embedder, Embedders, FastEmbedder, ModelPaths, ModelVariant, SessionPlan};
use crate::error::{Error, Result};
use crate::index::{FieldWeights, HnswParams};
use crate::search::Fusion;
use crate::server::{ConnectionLimits, ServerOptions};

pub const DEFAULT_CONFIG_FILE: &str = "occusearch.toml";
/// About 1.5 GiB of 384-dimensional vectors: beyond that a cache is a memory leak by another name.
const MAX_QUERY_CACHE: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Index root (holds generations and the `current` link).
    pub index_dir: PathBuf,
    /// Data directories or files read by `occusearch index`.
    pub data: Vec<PathBuf>,
    /// Embedding model and ONNX Runtime (`scripts/setup` fills `models/`), and the embedding cache.
    pub models_dir: PathBuf,
    /// Which copy of the embedding model to load (`int8`, the default, `q4`, `esco-int8` or `esco`).
    pub model: ModelVariant,
    /// The model of job titles (occupations, ISCO groups): `esco-int8` by default, a vector space
    /// of their own ([`crate::types::VectorSpace`]); the same as `model` for one space.
    pub title_model: ModelVariant,
    pub search: SearchConfig,
    pub hnsw: HnswParams,
}

impl Config {
    /// Loads the configured models: one, or a second for job titles when `title_model` differs.
    pub fn load_models(&self, models_dir: Option<&Path>, plan: SessionPlan) -> Result<Embedders> {
        let dir = models_dir.unwrap_or(&self.models_dir);
        let general: Arc<dyn Embedder> = Arc::new(FastEmbedder::load_with(
            &ModelPaths::variant_under(dir, self.model),
            plan,
        )?);
        if self.title_model == self.model {
            return Ok(Embedders::single(general));
        }
        let titles: Arc<dyn Embedder> = Arc::new(FastEmbedder::load_with(
            &ModelPaths::variant_under(dir, self.title_model),
            plan,
        )?);
        Ok(Embedders::split(general, titles))
    }
}

/// The `serve` command's flags as given (seconds as numbers), before they are checked.
#[derive(Debug, Clone)]
pub struct ServeFlags {
    pub timeout_s: u64,
    pub header_timeout_s: u64,
    pub max_connections: usize,
    /// `None`: the number of cores.
    pub max_heavy: Option<usize>,
    /// 0: never look for a new generation.
    pub reload_every_s: u64,
    pub admin_token_file: Option<PathBuf>,
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// `None`: one per core.
    pub model_sessions: Option<usize>,
    pub model_threads: usize,
}

/// What `occusearch serve` runs with, checked once: the service's limits and the model plan.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub options: ServerOptions,
    pub plan: SessionPlan,
}

impl ServeConfig {
    /// Checks the flags (no zero timeouts, limits or sessions) and reads the admin token from
    /// `--admin-token-file`, else from `admin_token_env` (`OCCUSEARCH_ADMIN_TOKEN`); a blank
    /// token means none (no admin routes).
    pub fn from_flags(flags: ServeFlags, admin_token_env: Option<String>) -> Result<ServeConfig> {
        if flags.timeout_s == 0 || flags.header_timeout_s == 0 {
            return Err(Error::InvalidRequest(
                "--timeout and --header-timeout must be at least 1 second".into(),
            ));
        }
        if flags.max_connections == 0 || flags.max_heavy == Some(0) {
            return Err(Error::InvalidRequest(
                "--max-connections and --max-heavy must be at least 1".into(),
            ));
        }
        if flags.model_sessions == Some(0) || flags.model_threads == 0 {
            return Err(Error::InvalidRequest(
                "--model-sessions and --model-threads must be at least 1".into(),
            ));
        }
        let admin_token = match &flags.admin_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("cannot read --admin-token-file {}: {e}", path.display())))?,
            ),
            None => admin_token_env,
        }
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty());
        let defaults = ServerOptions::default();
        let seconds = std::time::Duration::from_secs;
        Ok(ServeConfig {
            options: ServerOptions {
                request_timeout: seconds(flags.timeout_s),
                max_heavy: flags.max_heavy.unwrap_or(defaults.max_heavy),
                connections: ConnectionLimits {
                    header_timeout: seconds(flags.header_timeout_s),
                    max_connections: flags.max_connections,
                    ..defaults.connections
                },
                reload_every: (flags.reload_every_s > 0).then(|| seconds(flags.reload_every_s)),
                admin_token,
                cors_origins: flags.cors_origins,
                ..defaults
            },
            plan: SessionPlan {
                sessions: flags.model_sessions.unwrap_or(SessionPlan::per_core().sessions),
                threads_per_session: Some(flags.model_threads),
            },
        })
    }
}

/// The fusions `eval --fusion` can name; their parameters come from their own flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FusionName {
    Learned,
    Rrf,
    Weighted,
}

impl FusionName {
    pub fn parse(text: &str) -> Option<FusionName> {
        match text {
            "learned" => Some(FusionName::Learned),
            "rrf" => Some(FusionName::Rrf),
            "weighted" => Some(FusionName::Weighted),
            _ => None,
        }
    }

    /// The fusion with its parameters: RRF's `k` and vector weight (the text list weighs 1), or
    /// the weighted blend's vector share.
    pub fn with(self, rrf_k: f64, vector_weight: f64, vector_ratio: f64) -> Fusion {
        match self {
            FusionName::Learned => Fusion::Learned,
            FusionName::Rrf => Fusion::Rrf {
                k: rrf_k,
                text_weight: 1.0,
                vector_weight,
            },
            FusionName::Weighted => Fusion::Weighted { vector_ratio },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchConfig {
    pub default_limit: usize,
    pub weights: FieldWeights,
    /// How hybrid search fuses; `None`: the default ([`Fusion::Learned`]).
    pub fusion: Option<Fusion>,
    /// Query vectors kept in memory (0: embed every query anew).
    pub query_cache: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            index_dir: PathBuf::from("index"),
            data: vec![PathBuf::from("../shared/data")],
            models_dir: PathBuf::from("models"),
            model: ModelVariant::default(),
            title_model: ModelVariant::EscoInt8,
            search: SearchConfig {
                default_limit: 10,
                weights: FieldWeights::default(),
                fusion: None,
                query_cache: crate::search::DEFAULT_QUERY_CACHE,
            },
            hnsw: HnswParams::default(),
        }
    }
}

/// The file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    index_dir: Option<PathBuf>,
    data: Option<Vec<PathBuf>>,
    models_dir: Option<PathBuf>,
    model: Option<ModelVariant>,
    title_model: Option<ModelVariant>,
    #[serde(default)]
    search: FileSearchConfig,
    hnsw: Option<HnswParams>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSearchConfig {
    default_limit: Option<usize>,
    weights: Option<FieldWeights>,
    fusion: Option<Fusion>,
    query_cache: Option<usize>,
}

impl Config {
    /// Defaults, then `file` (or `occusearch.toml` in the working directory when it exists),
    /// then the environment as `env` reports it.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let mut config = Config::default();
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env("OCCUSEARCH_CONFIG").map(PathBuf::from));
        let implicit = Path::new(DEFAULT_CONFIG_FILE);
        let chosen = file.or_else(|| implicit.is_file().then(|| implicit.to_path_buf()));
        if let Some(path) = chosen {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io("cannot read config file", &path, e))?;
            let parsed: FileConfig =
                toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            if let Some(dir) = parsed.index_dir {
                config.index_dir = dir;
            }
            if let Some(data) = parsed.data {
                config.data = data;
            }
            if let Some(limit) = parsed.search.default_limit {
                config.search.default_limit = limit;
            }
            if let Some(weights) = parsed.search.weights {
                config.search.weights = weights;
            }
            if let Some(fusion) = parsed.search.fusion {
                config.search.fusion = Some(fusion);
            }
            if let Some(entries) = parsed.search.query_cache {
                config.search.query_cache = entries;
            }
            if let Some(dir) = parsed.models_dir {
                config.models_dir = dir;
            }
            if let Some(model) = parsed.model {
                config.model = model;
            }
            if let Some(model) = parsed.title_model {
                config.title_model = model;
            }
            if let Some(hnsw) = parsed.hnsw {
                config.hnsw = hnsw;
            }
        }
        if let Some(dir) = env("OCCUSEARCH_INDEX") {
            config.index_dir = PathBuf::from(dir);
        }
        if let Some(dir) = env("OCCUSEARCH_MODELS") {
            config.models_dir = PathBuf::from(dir);
        }
        if let Some(model) = env("OCCUSEARCH_MODEL") {
            config.model = ModelVariant::parse(&model)
                .ok_or_else(|| Error::Config(format!("OCCUSEARCH_MODEL={model:?} is not {}", ModelVariant::NAMES)))?;
        }
        if let Some(model) = env("OCCUSEARCH_TITLE_MODEL") {
            config.title_model = ModelVariant::parse(&model).ok_or_else(|| {
                Error::Config(format!(
                    "OCCUSEARCH_TITLE_MODEL={model:?} is not {}",
                    ModelVariant::NAMES
                ))
            })?;
        }
        if let Some(data) = env("OCCUSEARCH_DATA") {
            config.data = std::env::split_paths(&data).collect();
        }
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        if self.index_dir.as_os_str().is_empty() {
            return Err(Error::Config("index_dir is empty".into()));
        }
        if !(1..=crate::search::MAX_RESULTS).contains(&self.search.default_limit) {
            return Err(Error::Config(format!(
                "search.default_limit must be 1..={}",
                crate::search::MAX_RESULTS
            )));
        }
        self.hnsw.validate()?;
        if self.search.query_cache > MAX_QUERY_CACHE {
            return Err(Error::Config(format!(
                "search.query_cache must be at most {MAX_QUERY_CACHE} entries"
            )));
        }
        match self.search.fusion.unwrap_or_default() {
            Fusion::Rrf {
                k,
                text_weight,
                vector_weight,
            } if !(k.is_finite() && k >= 0.0 && text_weight >= 0.0 && vector_weight >= 0.0) => {
                return Err(Error::Config(
                    "search.fusion: rrf k and weights must be finite and non-negative".into(),
                ))
            }
            Fusion::Weighted { vector_ratio } if !(0.0..=1.0).contains(&vector_ratio) => {
                return Err(Error::Config("search.fusion: vector_ratio must be within 0..=1".into()))
            }
            _ => {}
        }
        let w = &self.search.weights;
        let all = [
            w.preferred,
            w.alternative,
            w.hidden,
            w.description,
            w.prefix,
            w.grams,
            w.tie_breaker,
        ];
        if all.iter().any(|v| !v.is_finite() || *v < 0.0) || w.tie_breaker > 1.0 {
            return Err(Error::Config(
                "search.weights must be finite and non-negative, tie_breaker at most 1".into(),
            ));
        }
        if !(w.grams_max_df > 0.0 && w.grams_max_df <= 1.0) {
            return Err(Error::Config(
                "search.weights.grams_max_df is a share of the documents: above 0, at most 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn layers_apply_in_order() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "index_dir = \"from-file\"\ndata = [\"a\", \"b\"]\n[search]\ndefault_limit = 5"
        )
        .unwrap();
        let env = |key: &str| (key == "OCCUSEARCH_INDEX").then(|| "from-env".to_string());
        let config = Config::load(Some(file.path()), &env).unwrap();
        assert_eq!(config.index_dir, PathBuf::from("from-env"));
        assert_eq!(config.data, vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(config.search.default_limit, 5);
        config.validate().unwrap();
    }

    #[test]
    fn the_readme_example_configuration_loads() {
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Configuration").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &section[start..start + section[start..].find("```").unwrap()];
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(example.as_bytes()).unwrap();
        let config = Config::load(Some(file.path()), &|_| None).unwrap();
        config.validate().unwrap();
        assert_eq!(config.search.fusion, Some(Fusion::Learned));
        assert_eq!(config.model, ModelVariant::Int8);
        assert_eq!(config.title_model, ModelVariant::EscoInt8);
        assert_eq!(config.hnsw.ef_search, 128);
        assert_eq!(config.search.query_cache, 4096);
        let mut too_big = config.clone();
        too_big.search.query_cache = MAX_QUERY_CACHE + 1;
        assert!(too_big.validate().is_err());
    }

    fn serve_flags() -> ServeFlags {
        ServeFlags {
            timeout_s: 10,
            header_timeout_s: 10,
            max_connections: 1024,
            max_heavy: None,
            reload_every_s: 0,
            admin_token_file: None,
            cors_origins: Vec::new(),
            model_sessions: Some(2),
            model_threads: 1,
        }
    }

    #[test]
    fn serve_flags_are_checked_and_typed_once() {
        let serve = ServeConfig::from_flags(serve_flags(), Some("  secret\n".into())).unwrap();
        assert_eq!(serve.options.request_timeout, std::time::Duration::from_secs(10));
        assert_eq!(serve.options.reload_every, None);
        assert_eq!(serve.options.admin_token.as_deref(), Some("secret"));
        assert_eq!(
            serve.plan,
            SessionPlan {
                sessions: 2,
                threads_per_session: Some(1)
            }
        );
        // Without --model-sessions: one single-threaded session per core.
        let per_core = ServeFlags {
            model_sessions: None,
            ..serve_flags()
        };
        assert_eq!(
            ServeConfig::from_flags(per_core, None).unwrap().plan,
            SessionPlan::per_core()
        );
        assert_eq!(SessionPlan::per_core().threads_per_session, Some(1));
        // A blank token is no token: the admin routes stay closed.
        let blank = ServeConfig::from_flags(serve_flags(), Some(" ".into())).unwrap();
        assert_eq!(blank.options.admin_token, None);
        // The file wins over the environment; a missing file names itself.
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "from-file").unwrap();
        let with_file = ServeFlags {
            admin_token_file: Some(file.path().to_path_buf()),
            ..serve_flags()
        };
        let serve = ServeConfig::from_flags(with_file, Some("from-env".into())).unwrap();
        assert_eq!(serve.options.admin_token.as_deref(), Some("from-file"));
        let missing = ServeFlags {
            admin_token_file: Some(PathBuf::from("/nonexistent/token")),
            ..serve_flags()
        };
        let error = ServeConfig::from_flags(missing, None).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/token"), "{error}");
        for zero in [
            ServeFlags {
                timeout_s: 0,
                ..serve_flags()
            },
            ServeFlags {
                max_heavy: Some(0),
                ..serve_flags()
            },
            ServeFlags {
                model_sessions: Some(0),
                ..serve_flags()
            },
            ServeFlags {
                model_threads: 0,
                ..serve_flags()
            },
        ] {
            assert!(matches!(
                ServeConfig::from_flags(zero, None),
                Err(Error::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn fusion_names_parse_and_carry_their_parameters() {
        assert_eq!(
            FusionName::parse("learned").map(|f| f.with(60.0, 1.0, 0.8)),
            Some(Fusion::Learned)
        );
        assert_eq!(
            FusionName::parse("rrf").map(|f| f.with(30.0, 0.5, 0.8)),
            Some(Fusion::Rrf {
                k: 30.0,
                text_weight: 1.0,
                vector_weight: 0.5
            })
        );
        assert_eq!(
            FusionName::parse("weighted").map(|f| f.with(60.0, 1.0, 0.7)),
            Some(Fusion::Weighted { vector_ratio: 0.7 })
        );
        assert_eq!(FusionName::parse("linear"), None);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "index_directory = \"x\"").unwrap();
        let error = Config::load(Some(file.path()), &|_| None).unwrap_err().to_string();
        assert!(error.contains("index_directory"), "{error}");
        let mut config = Config::default();
        config.search.weights.prefix = -1.0;
        assert!(config.validate().is_err());
        for share in [0.0, 1.5, f32::NAN] {
            let mut config = Config::default();
            config.search.weights.grams_max_df = share;
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains("grams_max_df"), "{error}");
        }
        let mut config = Config::default();
        config.search.weights.grams_max_df = 1.0;
        assert!(config.validate().is_ok());
    }
}
