//! The `occusearch` command: parses arguments, resolves configuration, calls the library and maps
//! errors to exit codes (2: the user must fix something, 3: I/O, 1: internal).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use occusearch::config::{Config, FusionName, ServeConfig, ServeFlags};
use occusearch::embed::{Embedders, EmbeddingCache, SessionPlan};
use occusearch::eval;
use occusearch::index::{self, BuildProgress, EmbedScope, OccuIndex};
use occusearch::ingest::Catalog;
use occusearch::ingest::IngestOptions;
use occusearch::search::fusion::Fusion;
use occusearch::search::matching::{self, MatchQuery, MaterialsRequest, RelationGraph};
use occusearch::search::similar::{self, SimilarRequest, SimilarTo};
use occusearch::search::{self, Mode, SearchRequest, Searcher};
use occusearch::types::{Deadline, Kind, Lang};
use occusearch::Error;

/// The embedding cache, relative to the models directory.
const CACHE_FILE: &str = "cache/embeddings.bin";

#[derive(Parser)]
#[command(
    name = "occusearch",
    version,
    about = "Search European occupations, skills, profiles and training materials"
)]
struct Cli {
    /// Configuration file (TOML); default: ./occusearch.toml when present.
    #[arg(long, global = true, env = "OCCUSEARCH_CONFIG")]
    config: Option<PathBuf>,
    /// Index directory [default: index, or OCCUSEARCH_INDEX].
    #[arg(long, global = true)]
    index: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read data files and build a new index generation, then make it current.
    Index(IndexArgs),
    /// Search the index.
    Search(SearchArgs),
    /// Show one concept with its relations, in a language.
    Show(ShowArgs),
    /// Evaluate retrieval on MELO-style files (a temporary index over the given corpus only).
    Eval(EvalArgs),
    /// Serve the HTTP API over the index (JSON; see /openapi.json).
    Serve(ServeArgs),
    /// Measure the HNSW graph's recall@k against an exact scan on the index's own vectors.
    Recall(RecallArgs),
    /// Rank occupations and profiles for a set of skills, with the gap and materials for it.
    Match(MatchArgs),
    /// Rank training materials by how many of a set of skills they cover.
    Materials(MaterialsArgs),
    /// Concepts similar to a text or to a concept, with the evidence.
    Similar(SimilarArgs),
    /// Clusters of near-duplicate profiles, materials and tools across sources.
    Duplicates(DuplicatesArgs),
    /// Fit the learned fusion on held-out alternative labels of the data (never on MELO) and
    /// write its weights (compiled in from src/search/ranker.json).
    TrainRanker(TrainArgs),
}

#[derive(Args)]
struct MatchArgs {
    /// Skills: ESCO URIs or source ids, or free texts in any language (quote each text).
    #[arg(required = true)]
    skills: Vec<String>,
    /// Language of the labels shown (ISO 639-1).
    #[arg(long, default_value = "en", value_parser = lang_arg)]
    lang: Lang,
    /// Kinds ranked: occupation, profile; repeatable or comma-separated [default: both].
    #[arg(long, value_parser = kind_arg, value_delimiter = ',')]
    kind: Vec<Kind>,
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Print the answer of POST /match as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct MaterialsArgs {
    /// Skills: ids or free texts in any language (quote each text).
    #[arg(required = true)]
    skills: Vec<String>,
    /// Only materials at this EQF level (1-8).
    #[arg(long)]
    eqf: Option<u8>,
    /// Language of the labels shown (ISO 639-1).
    #[arg(long, default_value = "en", value_parser = lang_arg)]
    lang: Lang,
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Print the answer of POST /materials/for-skills as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SimilarArgs {
    /// A title and description, any language (e.g. a planned profile).
    #[arg(long, required_unless_present = "id", conflicts_with = "id")]
    text: Option<String>,
    /// A concept's ESCO URI, UUID or source id (ecsf:ciso, ...).
    #[arg(long)]
    id: Option<String>,
    /// Kinds of the answers; repeatable or comma-separated [default: every kind].
    #[arg(long, value_parser = kind_arg, value_delimiter = ',')]
    kind: Vec<Kind>,
    /// Language of the labels shown (ISO 639-1).
    #[arg(long, default_value = "en", value_parser = lang_arg)]
    lang: Lang,
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Print the answer of POST /similar as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DuplicatesArgs {
    /// Kinds compared; repeatable or comma-separated [default: profile and material].
    #[arg(long, value_parser = kind_arg, value_delimiter = ',')]
    kind: Vec<Kind>,
    /// Least label similarity that links two concepts.
    #[arg(long, default_value_t = search::similar::DEFAULT_DUPLICATE_SIMILARITY)]
    min_similarity: f32,
    /// Link concepts of one source too (default: only across sources, the alliance's question).
    #[arg(long)]
    same_source: bool,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Print the answer of GET /duplicates as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TrainArgs {
    /// Data directory or file; repeat for several [default: ../shared/data, or OCCUSEARCH_DATA].
    #[arg(long = "data")]
    data: Vec<PathBuf>,
    /// Concepts to sample; each gives --per-concept held-out labels.
    #[arg(long, default_value_t = eval::training::TrainingSettings::default().queries)]
    queries: usize,
    /// Held-out labels per sampled concept, each in another language.
    #[arg(long, default_value_t = eval::training::TrainingSettings::default().per_concept)]
    per_concept: usize,
    /// Sample only the concepts listed in this file (one URI per line), e.g. the occupations the
    /// embedding adapter held out: scripts/models/esco-lora/held_out.txt.
    #[arg(long)]
    concepts: Option<PathBuf>,
    #[arg(long, default_value_t = eval::training::TrainingSettings::default().seed)]
    seed: u64,
    /// Where to write the weights.
    #[arg(long, default_value = "src/search/ranker.json")]
    out: PathBuf,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "OCCUSEARCH_ADDR")]
    addr: std::net::SocketAddr,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Longest a request may take, in seconds; expensive work stops at it.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Longest wait for a request's headers, and for the next request on an idle keep-alive
    /// connection, in seconds.
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Open connections at most; more wait in the kernel's backlog.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Expensive requests (match, materials, similar, duplicates) computed at once; more get
    /// 503 overloaded [default: the number of cores].
    #[arg(long)]
    max_heavy: Option<usize>,
    /// Seconds between looks for a new current index generation (0: never; reload by restart
    /// or POST /admin/reload).
    #[arg(long, default_value_t = 2)]
    reload_every: u64,
    /// File holding the bearer token of POST /admin/reload (or set OCCUSEARCH_ADMIN_TOKEN);
    /// without a token the admin routes do not exist.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Model sessions answering query embeddings in parallel, per model [default: one per
    /// core]. With one thread each they beat one session spanning every core both in latency and
    /// in throughput (README, Benchmarks).
    #[arg(long, env = "OCCUSEARCH_MODEL_SESSIONS")]
    model_sessions: Option<usize>,
    /// ONNX Runtime threads per model session.
    #[arg(long, default_value_t = 1, env = "OCCUSEARCH_MODEL_THREADS")]
    model_threads: usize,
    /// Print the OpenAPI 3 document of the API (as GET /openapi.json serves it) and exit.
    #[arg(long)]
    openapi: bool,
    /// Origin of another site whose pages may call the API (CORS), e.g. https://example.org;
    /// repeat for several, `*` for any. Off by default: the page at / needs none.
    #[arg(long = "cors-origin", value_parser = occusearch::server::parse_cors_origin)]
    cors_origins: Vec<axum::http::HeaderValue>,
}

#[derive(Args)]
struct RecallArgs {
    /// Stored vectors used as queries, spread evenly over the store.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Search width to measure instead of the one the index was built with.
    #[arg(long)]
    ef_search: Option<usize>,
}

#[derive(Args)]
struct EvalArgs {
    /// Corpus file: `id<TAB>surface form`, language in the id (`C000123_de_001`).
    #[arg(long, requires_all = ["queries", "qrels"], conflicts_with = "melo_dir")]
    corpus: Option<PathBuf>,
    /// Queries file: `id<TAB>text`.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// TREC qrels: `query 0 document grade`.
    #[arg(long)]
    qrels: Option<PathBuf>,
    /// Language of the queries when it differs from the corpus's.
    #[arg(long, value_parser = lang_arg)]
    query_lang: Option<Lang>,
    /// Run every MELO dataset folder inside this directory (corpus-only: a temporary index each).
    #[arg(long, required_unless_present_any = ["corpus", "linking", "matching"])]
    melo_dir: Option<PathBuf>,
    /// Product benchmark: the job titles of every monolingual MELO folder in this directory against
    /// the served index (--index), kinds occupation and isco-group, scored by their ESCO concept.
    #[arg(long, conflicts_with_all = ["melo_dir", "corpus"])]
    linking: Option<PathBuf>,
    /// Matching benchmark: ESCO occupations' essential skills typed as free texts in the
    /// --skill-langs (k = 3, 5, 8; preferred or alternative labels; a noisy variant) through the /match
    /// path over the served index (--index), scored by the rank of the source occupation.
    #[arg(long, conflicts_with_all = ["melo_dir", "corpus", "linking"])]
    matching: bool,
    /// With --matching: the languages the skills are typed in (each sampled occupation has six
    /// essential skills labelled in all of them).
    #[arg(long, value_delimiter = ',', default_value = "fr,es", value_parser = lang_arg)]
    skill_langs: Vec<Lang>,
    /// With --matching: occupations sampled with --seed.
    #[arg(long, default_value_t = eval::matching::DEFAULT_OCCUPATIONS)]
    occupations: usize,
    /// With --linking: queries per country, drawn with --seed (0: every query).
    #[arg(long, default_value_t = eval::linking::DEFAULT_SAMPLE)]
    sample: usize,
    /// With --linking: the sample's seed.
    #[arg(long, default_value_t = eval::linking::DEFAULT_SEED)]
    seed: u64,
    /// Retrieval mode: text, vector or hybrid (hybrid with the default fusion measured best on MELO dev; README).
    #[arg(long, default_value = "hybrid", value_parser = mode_arg)]
    mode: Mode,
    /// Fusion for hybrid: learned (the default of search and serve), rrf or weighted.
    #[arg(long, default_value = "learned", value_parser = fusion_arg)]
    fusion: FusionName,
    /// RRF k.
    #[arg(long, default_value_t = 60.0)]
    rrf_k: f64,
    /// RRF weight of the vector list (the text list weighs 1).
    #[arg(long, default_value_t = 1.0)]
    vector_weight: f64,
    /// Weighted blend: share of the vector score.
    #[arg(long, default_value_t = 0.8)]
    vector_ratio: f64,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Write the top-100 run in TREC format to this file (with --melo-dir: a directory, one file per dataset).
    #[arg(long)]
    run: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct IndexArgs {
    /// Data directory or file; repeat for several [default: ../shared/data, or OCCUSEARCH_DATA].
    #[arg(long = "data")]
    data: Vec<PathBuf>,
    /// Stop at the first bad record instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// What to embed: none (text only), default (every label a job title can meet, in every
    /// language the data has, skills by their preferred labels: ~360,000 texts on
    /// ../shared/data, about 13 minutes cold on 2 cores) or full (every label and description
    /// in every language: ~500,000 texts, roughly 1.5 hours). Resumable: embeddings are cached
    /// in MODELS/cache as they are made.
    #[arg(long, default_value = "default", value_parser = scope_arg)]
    embed: EmbedScope,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Print the build report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SearchArgs {
    query: String,
    /// Language of the query (ISO 639-1); without it every language is searched.
    #[arg(long, value_parser = lang_arg)]
    lang: Option<Lang>,
    /// occupation, skill, profile, material, concept, isco-group or skill-group; repeatable or
    /// comma-separated (`--kind occupation,isco-group`, as the HTTP API's `kind`).
    #[arg(long, value_parser = kind_arg, value_delimiter = ',')]
    kind: Vec<Kind>,
    /// Only concepts from this source (esco, ecsf, eo4geo, digcomp, e-cf, ...).
    #[arg(long)]
    source: Option<String>,
    /// Only concepts in this ISCO-08 group (1 to 4 digits).
    #[arg(long)]
    isco: Option<String>,
    /// Only materials at this EQF level (1-8).
    #[arg(long)]
    eqf: Option<u8>,
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// text, vector or hybrid [default: hybrid; text when the index has no vectors].
    #[arg(long, value_parser = mode_arg)]
    mode: Option<Mode>,
    /// Directory with the model and runtime [default: models, or OCCUSEARCH_MODELS].
    #[arg(long)]
    models: Option<PathBuf>,
    /// Print {"mode","notice","hits":[...]} as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ShowArgs {
    /// ESCO URI, bare ESCO UUID, or source id (ecsf:ciso, eo4geo:IP3, ...).
    id: String,
    #[arg(long, default_value = "en", value_parser = lang_arg)]
    lang: Lang,
    #[arg(long)]
    json: bool,
}

// Closed sets are typed at parsing: a bad value exits 2 with clap's message naming the flag.
fn lang_arg(text: &str) -> Result<Lang, String> {
    Lang::parse(text).ok_or_else(|| format!("{text:?} is not an ISO 639-1 code such as en, de, fr"))
}

fn kind_arg(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("{text:?} is not one of {}", known.join(", "))
    })
}

fn fusion_arg(text: &str) -> Result<FusionName, String> {
    FusionName::parse(text).ok_or_else(|| format!("{text:?} is not learned, rrf or weighted"))
}

fn mode_arg(text: &str) -> Result<Mode, String> {
    Mode::parse(text).ok_or_else(|| format!("{text:?} is not text, vector or hybrid"))
}

fn scope_arg(text: &str) -> Result<EmbedScope, String> {
    EmbedScope::parse(text).ok_or_else(|| format!("{text:?} is not none, default or full"))
}

/// One indicatif bar per build stage.
struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl BuildProgress for Bars {
    fn stage(&self, name: &str, total: u64) {
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(name.to_string());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }
    fn advance(&self, done: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(done);
            }
        }
    }
    fn finish_stage(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish();
            }
        }
    }
}

fn run_index(config: &Config, args: IndexArgs) -> anyhow::Result<()> {
    let data = if args.data.is_empty() {
        config.data.clone()
    } else {
        args.data
    };
    let scope = args.embed;
    let models = args.models.unwrap_or_else(|| config.models_dir.clone());
    let model = match scope {
        EmbedScope::None => None,
        _ => {
            let embedders = config
                .load_models(Some(&models), SessionPlan::per_core())
                .context("loading the embedding model (run scripts/setup, or build text-only with --embed none)")?;
            let cache = EmbeddingCache::open(&models.join(CACHE_FILE))?;
            Some((embedders, cache))
        }
    };
    let vectors = model.as_ref().map(|(models, cache)| index::VectorBuild {
        models,
        cache,
        scope,
        hnsw: config.hnsw,
    });
    let bars = Bars { bar: Mutex::new(None) };
    let summary = index::build(
        &data,
        &config.index_dir,
        IngestOptions { strict: args.strict },
        vectors.as_ref(),
        &bars,
    )?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let report = serde_json::json!({ "generation": summary.generation, "manifest": summary.manifest, "report": summary.report });
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    summary.write_text(&mut out)?;
    Ok(())
}

/// Opens the index with the query model when it has vectors; a missing model degrades to text.
fn open_searcher(config: &Config, models: Option<PathBuf>, plan: SessionPlan) -> anyhow::Result<Searcher> {
    let opened = OccuIndex::open(&config.index_dir)?;
    let embedder: Result<Embedders, Error> = if opened.manifest.vectors.is_some() {
        config.load_models(models.as_deref(), plan)
    } else {
        Err(Error::Model("not needed".into()))
    };
    Ok(configure(Searcher::new(opened, embedder)?, config))
}

/// The configured weights, query cache and fusion on a searcher.
fn configure(searcher: Searcher, config: &Config) -> Searcher {
    let searcher = searcher
        .with_weights(config.search.weights)
        .with_query_cache(config.search.query_cache);
    match config.search.fusion {
        Some(fusion) => searcher.with_fusion(fusion),
        None => searcher,
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn run_search(config: &Config, args: SearchArgs) -> anyhow::Result<()> {
    let searcher = open_searcher(config, args.models, SessionPlan::default())?;
    let request = SearchRequest {
        query: args.query,
        lang: args.lang,
        kinds: args.kind,
        source: args.source,
        isco: args.isco,
        eqf: args.eqf,
        limit: args.limit.unwrap_or(config.search.default_limit),
        offset: args.offset,
        mode: args.mode,
    };
    let results = searcher.search(&request)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &results)?;
        writeln!(out)?;
        return Ok(());
    }
    if let Some(notice) = &results.notice {
        eprintln!("note: {notice}");
    }
    results.write_text(&mut out, request.offset)?;
    Ok(())
}

fn run_show(config: &Config, args: ShowArgs) -> anyhow::Result<()> {
    let lang = args.lang;
    let opened = OccuIndex::open(&config.index_dir)?;
    let catalog = opened.load_catalog()?;
    let view = search::show(&catalog, &args.id, &lang)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &view)?;
        writeln!(out)?;
        return Ok(());
    }
    view.write_text(&mut out)?;
    Ok(())
}

fn run_eval(config: &Config, args: EvalArgs) -> anyhow::Result<()> {
    let mode = args.mode;
    let fusion = args.fusion.with(args.rrf_k, args.vector_weight, args.vector_ratio);
    if let Some(dir) = &args.linking {
        return run_linking(config, &args, dir, mode, fusion);
    }
    if args.matching {
        return run_matching(config, &args);
    }
    let (embedder, cache) = if mode == Mode::Text {
        (None, None)
    } else {
        let models = args.models.clone().unwrap_or_else(|| config.models_dir.clone());
        let embedders = config.load_models(Some(&models), SessionPlan::per_core())?;
        let cache = EmbeddingCache::open(&models.join(CACHE_FILE))?;
        (Some(embedders), Some(cache))
    };
    let bar = Mutex::new(None::<ProgressBar>);
    let progress = |what: &str, done: usize, total: usize| {
        if let Ok(mut slot) = bar.lock() {
            let bar = slot.get_or_insert_with(|| {
                let bar = ProgressBar::new(total as u64);
                bar.set_style(
                    ProgressStyle::with_template("embedding {msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            });
            bar.set_message(what.to_string());
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if done >= total {
                bar.finish_and_clear();
                *slot = None;
            }
        }
    };
    let settings = eval::EvalSettings {
        mode,
        weights: config.search.weights,
        fusion,
        models: embedder,
        cache: cache.as_ref(),
        progress: &progress,
    };
    let tasks = match (&args.melo_dir, &args.corpus, &args.queries, &args.qrels) {
        (Some(dir), _, _, _) => eval::melo_tasks(dir)?,
        (None, Some(corpus), Some(queries), Some(qrels)) => vec![eval::EvalTask {
            name: corpus
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "corpus".into()),
            corpus: corpus.clone(),
            queries: queries.clone(),
            qrels: qrels.clone(),
            query_lang: args.query_lang.clone(),
        }],
        _ => return Err(Error::InvalidRequest("give --corpus, --queries and --qrels, or --melo-dir".into()).into()),
    };
    let scratch = tempfile::tempdir().context("creating a temporary index directory")?;
    let mut results = Vec::new();
    for task in &tasks {
        let result = eval::run_task(task, &settings, scratch.path())?;
        if let Some(run_path) = &args.run {
            let path = if args.melo_dir.is_some() {
                std::fs::create_dir_all(run_path)?;
                run_path.join(format!("{}.run", result.name))
            } else {
                run_path.clone()
            };
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
            );
            eval::write_run(&result.run, "occusearch", &mut file)?;
            file.flush()?;
        }
        if !args.json {
            eprintln!("{:<16} done in {:.1} s", result.name, result.seconds);
        }
        results.push(result);
    }
    let summary = eval::summarise(&results);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
        return Ok(());
    }
    eval::write_table(&results, &summary, &mut out)?;
    Ok(())
}

/// The matching benchmark over the served index, through the path of `POST /match`.
fn run_matching(config: &Config, args: &EvalArgs) -> anyhow::Result<()> {
    let searcher = open_searcher(config, args.models.clone(), SessionPlan::default())?;
    let catalog = searcher.index.load_catalog()?;
    let graph = RelationGraph::new(&catalog);
    let cases = eval::matching::cases(&catalog, &graph, &args.skill_langs, args.occupations, args.seed);
    let bar = ProgressBar::new(cases.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("cases [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let report = eval::matching::run_matching(&searcher, &catalog, &graph, &cases, &|done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        report.write_table(&mut out)?;
        eprintln!("{} cases in {:.1} s", cases.len(), started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The product benchmark over the served index, through the same searcher as `serve`.
fn run_linking(
    config: &Config,
    args: &EvalArgs,
    dir: &std::path::Path,
    mode: Mode,
    fusion: Fusion,
) -> anyhow::Result<()> {
    let tasks = eval::linking::linking_tasks(dir, args.sample, args.seed)?;
    let searcher = open_searcher(config, args.models.clone(), SessionPlan::default())?.with_fusion(fusion);
    let total: usize = tasks.iter().map(|t| t.queries.len()).sum();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("queries [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let report = eval::linking::run_linking(&searcher, &tasks, Some(mode), &|done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        report.write_table(&mut out)?;
        if let Some(notice) = searcher.vector_unavailable().filter(|_| mode != Mode::Text) {
            writeln!(out, "notice: answered from text only ({notice})")?;
        }
        eprintln!("{total} queries in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

fn run_serve(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    if args.openapi {
        println!("{:#}", occusearch::server::openapi_document());
        return Ok(());
    }
    let ServeConfig { options, plan } = ServeConfig::from_flags(
        ServeFlags {
            timeout_s: args.timeout,
            header_timeout_s: args.header_timeout,
            max_connections: args.max_connections,
            max_heavy: args.max_heavy,
            reload_every_s: args.reload_every,
            admin_token_file: args.admin_token_file.clone(),
            cors_origins: args.cors_origins.clone(),
            model_sessions: args.model_sessions,
            model_threads: args.model_threads,
        },
        std::env::var("OCCUSEARCH_ADMIN_TOKEN").ok(),
    )?;
    let config = config.clone();
    let root = config.index_dir.clone();
    let model_dir = args.models.clone();
    // The model is loaded once, with the first generation that has vectors, and kept for the
    // next ones (a generation built with another model refuses to load and the old one stays).
    let model: std::sync::Mutex<Option<Embedders>> = std::sync::Mutex::new(None);
    let load = move || -> occusearch::Result<occusearch::server::Loaded> {
        let opened = OccuIndex::open(&config.index_dir)?;
        let embedder = if opened.manifest.vectors.is_some() {
            let mut slot = model
                .lock()
                .map_err(|_| Error::Internal("model lock poisoned".into()))?;
            match &*slot {
                Some(embedder) => Ok(embedder.clone()),
                None => {
                    let loaded = config.load_models(model_dir.as_deref(), plan);
                    if let Ok(embedder) = &loaded {
                        *slot = Some(embedder.clone());
                    }
                    loaded
                }
            }
        } else {
            Err(Error::Model("not needed".into()))
        };
        occusearch::server::Loaded::new(configure(Searcher::new(opened, embedder)?, &config))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(occusearch::server::serve(args.addr, options, root, load))?;
    Ok(())
}

/// The searcher, catalogue and relations that matching, materials and similarity work over.
fn open_engine(config: &Config, models: Option<PathBuf>) -> anyhow::Result<(Searcher, Catalog, RelationGraph)> {
    let searcher = open_searcher(config, models, SessionPlan::default())?;
    let catalog = searcher.index.load_catalog()?;
    let graph = RelationGraph::new(&catalog);
    Ok((searcher, catalog, graph))
}

fn parse_limit(limit: usize) -> Result<usize, Error> {
    if limit == 0 {
        return Err(Error::InvalidRequest("--limit must be at least 1".into()));
    }
    Ok(limit)
}

/// Prints `value` as JSON, or as text through `write_text`.
fn print<T: serde::Serialize>(
    value: &T,
    json: bool,
    write_text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
    } else {
        write_text(&mut out)?;
    }
    Ok(())
}

fn run_match(config: &Config, args: MatchArgs) -> anyhow::Result<()> {
    let lang = args.lang;
    let mut kinds = args.kind;
    if kinds.is_empty() {
        kinds = vec![Kind::Occupation, Kind::Profile];
    }
    let (searcher, catalog, graph) = open_engine(config, args.models)?;
    if let Some(notice) = searcher.vector_unavailable() {
        eprintln!("note: free texts resolve from text only ({notice})");
    }
    let query = MatchQuery {
        skills: &args.skills,
        lang: &lang,
        kinds: &kinds,
        limit: parse_limit(args.limit)?,
        deadline: Deadline::NONE,
    };
    let outcome = matching::match_texts(&searcher, &catalog, &graph, query)?;
    print(&outcome, args.json, |out| outcome.write_text(out))
}

fn run_materials(config: &Config, args: MaterialsArgs) -> anyhow::Result<()> {
    let lang = args.lang;
    let (searcher, catalog, graph) = open_engine(config, args.models)?;
    if let Some(notice) = searcher.vector_unavailable() {
        eprintln!("note: materials found by relation only ({notice})");
    }
    let request = MaterialsRequest {
        skills: &args.skills,
        eqf: args.eqf,
        lang: &lang,
        limit: parse_limit(args.limit)?,
        deadline: Deadline::NONE,
    };
    let outcome = matching::materials_for_texts(&searcher, &catalog, &graph, request)?;
    print(&outcome, args.json, |out| outcome.write_text(out))
}

fn run_similar(config: &Config, args: SimilarArgs) -> anyhow::Result<()> {
    let lang = args.lang;
    let kinds = args.kind;
    let to = SimilarTo::from_parts(args.text.as_deref(), args.id.as_deref())?;
    let (searcher, catalog, graph) = open_engine(config, args.models)?;
    let request = SimilarRequest {
        to,
        kinds: &kinds,
        lang: &lang,
        limit: parse_limit(args.limit)?,
        deadline: Deadline::NONE,
    };
    let found = similar::similar(&searcher, &catalog, &graph, request)?;
    print(&serde_json::json!({ "similar": found }), args.json, |out| {
        similar::write_similar(&found, out)
    })
}

fn run_duplicates(config: &Config, args: DuplicatesArgs) -> anyhow::Result<()> {
    let mut kinds = args.kind;
    if kinds.is_empty() {
        kinds = vec![Kind::Profile, Kind::Material];
    }
    kinds.sort();
    kinds.dedup();
    if !(0.0..=1.0).contains(&args.min_similarity) {
        return Err(Error::InvalidRequest("--min-similarity must be within 0 and 1".into()).into());
    }
    let (searcher, _, graph) = open_engine(config, args.models)?;
    let cross_source = !args.same_source;
    let clusters = similar::duplicates(
        &searcher,
        &graph,
        &kinds,
        args.min_similarity,
        cross_source,
        Deadline::NONE,
    )?;
    let report = serde_json::json!({
        "kinds": kinds,
        "min_similarity": args.min_similarity,
        "cross_source": cross_source,
        "clusters": clusters,
    });
    print(&report, args.json, |out| similar::write_clusters(&clusters, out))
}

fn run_recall(config: &Config, args: RecallArgs) -> anyhow::Result<()> {
    let mut opened = OccuIndex::open(&config.index_dir)?;
    if opened.vectors.is_none() {
        return Err(Error::InvalidRequest("the index has no vectors (built with --embed none)".into()).into());
    }
    for (name, store) in [
        ("general", &mut opened.vectors),
        ("job titles", &mut opened.title_vectors),
    ] {
        let Some(store) = store else {
            continue;
        };
        if let Some(ef_search) = args.ef_search {
            store.set_ef_search(ef_search)?;
        }
        let store = &*store;
        let started = std::time::Instant::now();
        let recall = index::vectors::measure_recall(store, args.samples, args.k)?;
        println!(
            "{name}: recall@{} {:.4} over {} queries, {} vectors, {} (ef_search {}), {:.1} s",
            args.k,
            recall,
            args.samples.min(store.len()),
            store.len(),
            if store.has_graph() { "HNSW" } else { "exact scan" },
            store.ef_search(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn run_train(config: &Config, args: TrainArgs) -> anyhow::Result<()> {
    let data = if args.data.is_empty() {
        config.data.clone()
    } else {
        args.data
    };
    let models = args.models.unwrap_or_else(|| config.models_dir.clone());
    let embedder = config.load_models(Some(&models), SessionPlan::per_core())?;
    let cache = EmbeddingCache::open(&models.join(CACHE_FILE))?;
    let settings = eval::training::TrainingSettings {
        queries: args.queries,
        per_concept: args.per_concept,
        concepts: args
            .concepts
            .as_deref()
            .map(eval::training::read_concept_list)
            .transpose()?,
        seed: args.seed,
        ..Default::default()
    };
    let scratch = tempfile::tempdir().context("creating a temporary index directory")?;
    let bar = ProgressBar::new(0);
    let (ranker, report) =
        eval::training::train_ranker(&data, embedder, &cache, settings, scratch.path(), &|_, done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64)
        })?;
    bar.finish_and_clear();
    let text = serde_json::to_string_pretty(&ranker)? + "\n";
    std::fs::write(&args.out, text).with_context(|| format!("writing {}", args.out.display()))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    println!("weights written to {} (rebuild to compile them in)", args.out.display());
    for (name, weight) in ranker.features.iter().zip(&ranker.weights) {
        println!("  {name:<24} {weight:+.3}");
    }
    Ok(())
}

fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<Error>() {
        Some(Error::Io { .. }) => 3,
        Some(e) if e.is_user_error() => 2,
        Some(_) => 1,
        None => 1,
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OCCUSEARCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = (|| -> anyhow::Result<()> {
        let mut config =
            Config::load(cli.config.as_deref(), &|key| std::env::var(key).ok()).context("loading configuration")?;
        if let Some(index) = cli.index {
            config.index_dir = index;
        }
        config.validate()?;
        match cli.command {
            Command::Index(args) => run_index(&config, args),
            Command::Search(args) => run_search(&config, args),
            Command::Show(args) => run_show(&config, args),
            Command::Eval(args) => run_eval(&config, args),
            Command::Recall(args) => run_recall(&config, args),
            Command::Serve(args) => run_serve(&config, args),
            Command::Match(args) => run_match(&config, args),
            Command::Materials(args) => run_materials(&config, args),
            Command::Similar(args) => run_similar(&config, args),
            Command::Duplicates(args) => run_duplicates(&config, args),
            Command::TrainRanker(args) => run_train(&config, args),
        }
    })();
    let broken_pipe = |error: &anyhow::Error| {
        error.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        })
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing left to say to it.
        Err(error) if broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}
