//! The index on disk: a root directory holding generations (`gen-<time>-<pid>/`) and a `current`
//! symbolic link to the live one. A build writes a new generation beside the live one (text store,
//! catalogue, manifest last), then swaps `current` with an atomic rename, so a failed or killed
//! build leaves the previous index intact and usable.
//!
//! ```text
//! index/
//!   current -> gen-1763812345.000000000-4242
//!   gen-1763812345.000000000-4242/
//!     text/            tantivy
//!     catalog.json.gz  every concept and relation (for `show`, matching, explanations)
//!     vectors/         embedded labels and texts, HNSW graph (see [`vectors`])
//!     manifest.json    written last
//! ```

pub mod manifest;
pub mod text;
pub mod vectors;

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::embed::{embed_cached, Embedder, Embedders, EmbeddingCache};
use crate::error::{Error, Result};
use crate::ingest::{self, Catalog, IngestOptions, IngestReport};
use crate::types::{Kind, VectorSpace};
pub use manifest::{Manifest, TextManifest, VectorManifest};
pub use text::{FieldWeights, TextFilters, TextHit, TextIndex};
pub use vectors::{EmbedScope, HnswParams, VectorStore};

/// How a build embeds: the models (a second one for job titles makes two vector spaces), the
/// cache that makes rebuilds cheap, what to embed, and the graph's parameters.
pub struct VectorBuild<'a> {
    pub models: &'a Embedders,
    pub cache: &'a EmbeddingCache,
    pub scope: EmbedScope,
    pub hnsw: HnswParams,
}

const CURRENT: &str = "current";
const TEXT_DIR: &str = "text";
const CATALOG_FILE: &str = "catalog.json.gz";
const GENERATION_PREFIX: &str = "gen-";
const BUILDING_PREFIX: &str = "building-";

/// Build progress, reported per stage; the binary draws bars, tests pass [`NoProgress`].
pub trait BuildProgress: Sync {
    fn stage(&self, name: &str, total: u64);
    fn advance(&self, done: u64);
    fn finish_stage(&self);
}

pub struct NoProgress;

impl BuildProgress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish_stage(&self) {}
}

/// What a build produced.
#[derive(Debug)]
pub struct BuildSummary {
    pub generation: PathBuf,
    pub manifest: Manifest,
    pub report: IngestReport,
}

impl BuildSummary {
    /// The report `occusearch index` prints: counts per store, kind and language, relations, and
    /// what each file gave or why it was skipped.
    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let manifest = &self.manifest;
        writeln!(
            out,
            "index {} ({} concepts, {} text documents) in {:.1} s",
            self.generation.display(),
            manifest.concepts,
            manifest.text.documents,
            manifest.build_seconds
        )?;
        let spaces = [
            ("vectors", &manifest.vectors),
            ("job-title vectors", &manifest.title_vectors),
        ];
        for (name, built) in spaces {
            match built {
                Some(v) => writeln!(
                    out,
                    "{name}: {} ({} concepts, {}, scope {:?}, {}; {} embedded now, the rest from the cache, {:.1} s)",
                    v.vectors,
                    v.concepts,
                    v.model_id,
                    v.scope,
                    if v.graph { "HNSW graph" } else { "exact scan" },
                    v.embedded_now,
                    v.embed_seconds
                )?,
                None if name == "vectors" => writeln!(out, "vectors: none (text only)")?,
                None => {}
            }
        }
        writeln!(out, "\nconcepts per kind and language:")?;
        for (kind, per_lang) in &manifest.counts.per_kind_and_lang {
            let total = manifest.counts.per_kind.get(kind).copied().unwrap_or_default();
            let langs: Vec<String> = per_lang.iter().map(|(lang, n)| format!("{lang} {n}")).collect();
            writeln!(out, "  {:<12} {:>6}  {}", kind.as_str(), total, langs.join(", "))?;
        }
        writeln!(out, "\nrelations:")?;
        for (relation, n) in &manifest.counts.relations {
            writeln!(out, "  {relation:<24} {n:>7}")?;
        }
        writeln!(out, "\nfiles:")?;
        for file in &self.report.files {
            writeln!(
                out,
                "  {:<18} {:>6} concepts {:>7} relations {:>5} attached {:>4} skipped  {}",
                file.reader,
                file.concepts,
                file.relations,
                file.attached,
                file.skipped,
                file.path.display()
            )?;
            for error in &file.first_errors {
                writeln!(out, "      skipped: {error}")?;
            }
            if file.duplicate_ids > 0 {
                writeln!(
                    out,
                    "      {} duplicate ids (merged, the later record winning): {}",
                    file.duplicate_ids,
                    file.first_duplicate_ids.join(", ")
                )?;
            }
            if let Some(failed) = &file.failed {
                writeln!(out, "      NOT READ: {failed}")?;
            }
        }
        for ignored in &self.report.ignored {
            writeln!(
                out,
                "  {:<18} {}  ({})",
                "not read",
                ignored.path.display(),
                ignored.reason
            )?;
        }
        writeln!(
            out,
            "\nskipped records: {}; duplicate ids: {}; files not read: {}; relations dropped for an unknown end: {}",
            manifest.skipped_records,
            self.report.duplicate_ids(),
            self.report.failed_files().count(),
            manifest.dangling_relations
        )?;
        Ok(())
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Seconds and nanoseconds since the epoch, then the process id (last, where abandoned-build
/// cleanup reads it): two builds in one process within a second still get distinct names.
fn generation_stamp() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}-{}", since.as_secs(), since.subsec_nanos(), std::process::id())
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io("cannot create directory", path, e))
}

/// Removes abandoned `building-*` directories of builds whose process is gone.
fn remove_abandoned_builds(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(BUILDING_PREFIX) else {
            continue;
        };
        let pid = rest.rsplit('-').next().and_then(|pid| pid.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            tracing::info!(dir = %entry.path().display(), "removing abandoned build");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Points `root/current` at `generation` atomically (symlink written aside, then renamed over).
fn swap_current(root: &Path, generation_name: &str) -> Result<()> {
    let link = root.join(CURRENT);
    let staged = root.join(format!("{CURRENT}.{}", std::process::id()));
    let _ = std::fs::remove_file(&staged);
    #[cfg(unix)]
    std::os::unix::fs::symlink(generation_name, &staged).map_err(|e| Error::io("cannot create link", &staged, e))?;
    #[cfg(not(unix))]
    std::fs::write(&staged, generation_name).map_err(|e| Error::io("cannot write", &staged, e))?;
    std::fs::rename(&staged, &link).map_err(|e| Error::io("cannot swap index link", &link, e))
}

/// Takes a shared lock on a generation's manifest for as long as the returned file lives: every
/// opened index holds one, so that pruning (which needs the exclusive lock) never removes a
/// generation a server or another command still reads. The kernel drops the lock with the
/// process, so a killed server leaves nothing behind.
fn lease(generation: &Path) -> Result<std::fs::File> {
    let path = generation.join(manifest::MANIFEST_FILE);
    let file = std::fs::File::open(&path).map_err(|e| Error::io("cannot open", &path, e))?;
    // Through the trait: std's own `File::try_lock_shared` (Rust 1.89) has another signature.
    if !fs4::fs_std::FileExt::try_lock_shared(&file).map_err(|e| Error::io("cannot lock", &path, e))? {
        // Held exclusively: a prune is removing this generation right now.
        return Err(Error::NoIndex {
            path: generation.to_path_buf(),
            reason: "the generation is being removed".into(),
        });
    }
    Ok(file)
}

/// True when some process holds a lease on `generation` (a server still answers from it).
fn in_use(generation: &Path) -> bool {
    let Ok(file) = std::fs::File::open(generation.join(manifest::MANIFEST_FILE)) else {
        return false;
    };
    match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
        Ok(true) => false,
        Ok(false) => true,
        Err(_) => false,
    }
}

/// Keeps the live generation and the one before it; removes older ones that no process holds.
fn prune_generations(root: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut generations: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(GENERATION_PREFIX))
        .map(|e| e.path())
        .collect();
    generations.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
    let excess = generations.len().saturating_sub(keep);
    for old in generations.into_iter().take(excess) {
        if in_use(&old) {
            tracing::info!(dir = %old.display(), "old index generation still in use; kept");
            continue;
        }
        tracing::info!(dir = %old.display(), "removing old index generation");
        let _ = std::fs::remove_dir_all(old);
    }
}

fn write_catalog(catalog: &Catalog, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    let mut encoder = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
    serde_json::to_writer(&mut encoder, catalog)
        .map_err(|e| Error::Internal(format!("catalogue serialisation: {e}")))?;
    let writer = encoder.finish().map_err(|e| Error::io("cannot write", path, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io("cannot write", path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io("cannot sync", path, e))
}

/// Builds an index over `data` into a new generation under `root` and makes it current.
pub fn build(
    data: &[PathBuf],
    root: &Path,
    options: IngestOptions,
    vectors: Option<&VectorBuild<'_>>,
    progress: &dyn BuildProgress,
) -> Result<BuildSummary> {
    let started = Instant::now();
    create_dir(root)?;
    remove_abandoned_builds(root);

    let files = ingest::discover(data)?;
    progress.stage("reading", files.len() as u64);
    let (catalog, report) = ingest::ingest(data, options, &|_| progress.advance(1))?;
    progress.finish_stage();
    if catalog.concepts.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "no records found under {}: nothing to index (see README, section Data formats)",
            data.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    build_from_catalog(&catalog, report, root, started, vectors, progress)
}

/// Writes `catalog` as a new generation under `root` and makes it current. `started` is when the
/// whole build began (the manifest records the build time).
pub fn build_from_catalog(
    catalog: &Catalog,
    report: IngestReport,
    root: &Path,
    started: Instant,
    vectors: Option<&VectorBuild<'_>>,
    progress: &dyn BuildProgress,
) -> Result<BuildSummary> {
    create_dir(root)?;
    if let Some(build) = vectors {
        build.hnsw.validate()?;
    }
    let stamp = generation_stamp();
    let building = root.join(format!("{BUILDING_PREFIX}{stamp}"));
    create_dir(&building.join(TEXT_DIR))?;
    let result = write_generation(&building, catalog, &report, started, vectors, progress);
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&building);
            return Err(error);
        }
    };
    let generation_name = format!("{GENERATION_PREFIX}{stamp}");
    let generation = root.join(&generation_name);
    std::fs::rename(&building, &generation).map_err(|e| Error::io("cannot move build into place", &generation, e))?;
    swap_current(root, &generation_name)?;
    prune_generations(root, 2);
    Ok(BuildSummary {
        generation,
        manifest,
        report,
    })
}

fn write_generation(
    dir: &Path,
    catalog: &Catalog,
    report: &IngestReport,
    started: Instant,
    vectors: Option<&VectorBuild<'_>>,
    progress: &dyn BuildProgress,
) -> Result<Manifest> {
    let mut writer = text::TextIndexWriter::create(&dir.join(TEXT_DIR))?;
    let concepts: Vec<_> = catalog.concepts.values().collect();
    progress.stage("indexing", concepts.len() as u64);
    for chunk in concepts.chunks(4096) {
        let documents: Vec<_> = chunk
            .par_iter()
            .flat_map_iter(|concept| writer.documents_of(concept))
            .collect();
        writer.add(documents)?;
        progress.advance(chunk.len() as u64);
    }
    progress.finish_stage();
    progress.stage("committing", 1);
    let documents = writer.finish()?;
    write_catalog(catalog, &dir.join(CATALOG_FILE))?;
    progress.finish_stage();
    let (vectors, title_vectors) = match vectors {
        Some(build) if build.scope != EmbedScope::None => {
            let (general, titles) = write_vectors(dir, catalog, build, progress)?;
            (Some(general), titles)
        }
        _ => (None, None),
    };
    let manifest = Manifest {
        format_version: manifest::FORMAT_VERSION,
        built_by: format!("occusearch {}", env!("CARGO_PKG_VERSION")),
        built_at: unix_now(),
        build_seconds: started.elapsed().as_secs_f64(),
        concepts: catalog.concepts.len(),
        counts: catalog.counts(),
        text: TextManifest {
            format_version: text::TEXT_FORMAT_VERSION,
            documents,
        },
        vectors,
        title_vectors,
        sources: Manifest::sources_from(report),
        skipped_records: report.skipped(),
        dangling_relations: report.dangling_relations,
    };
    manifest.write(dir)?;
    Ok(manifest)
}

/// Embeds what `build.scope` selects (through the cache) and writes the vector store, or two
/// stores when job titles have a model of their own: (general, titles).
fn write_vectors(
    dir: &Path,
    catalog: &Catalog,
    build: &VectorBuild<'_>,
    progress: &dyn BuildProgress,
) -> Result<(VectorManifest, Option<VectorManifest>)> {
    let planned = vectors::plan(catalog, build.scope);
    let split = build.models.is_split();
    // With a title model the job titles' labels go to their own space, and the general one
    // keeps what comparing them with the other kinds needs; with one model it holds everything.
    let trimmed = split.then(|| vectors::general_space(&planned));
    let general = embed_store(
        dir,
        vectors::VECTORS_DIR,
        trimmed.as_ref().unwrap_or(&planned),
        build.models.of(VectorSpace::General).as_ref(),
        build,
        progress,
    )?;
    if !split {
        return Ok((general, None));
    }
    let titles = embed_store(
        dir,
        vectors::TITLE_VECTORS_DIR,
        &vectors::title_space(&planned),
        build.models.of(VectorSpace::Titles).as_ref(),
        build,
        progress,
    )?;
    Ok((general, Some(titles)))
}

/// Embeds `planned` with `embedder` (through the cache) and writes it as a store under `dir/name`.
fn embed_store(
    dir: &Path,
    name: &str,
    planned: &vectors::VectorEntries,
    embedder: &dyn Embedder,
    build: &VectorBuild<'_>,
    progress: &dyn BuildProgress,
) -> Result<VectorManifest> {
    let started = Instant::now();
    let model = embedder.model_id();
    let missing: std::collections::HashSet<(crate::embed::TextKind, std::borrow::Cow<'_, str>)> = planned
        .entries
        .iter()
        .map(|e| (e.field.text_kind(), crate::embed::model_input(&e.text)))
        .filter(|(kind, text)| !build.cache.contains(model, *kind, text))
        .collect();
    progress.stage("embedding", missing.len() as u64);
    let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); planned.entries.len()];
    for kind in [crate::embed::TextKind::Query, crate::embed::TextKind::Passage] {
        let positions: Vec<usize> = (0..planned.entries.len())
            .filter(|&i| planned.entries[i].field.text_kind() == kind)
            .collect();
        let texts: Vec<&str> = positions.iter().map(|&i| planned.entries[i].text.as_str()).collect();
        let reported = std::sync::atomic::AtomicUsize::new(0);
        let embedded = embed_cached(embedder, build.cache, &texts, kind, &|done| {
            // Parallel batches report out of order: count each text once.
            let before = reported.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
            progress.advance(done.saturating_sub(before) as u64);
        })?;
        for (position, vector) in positions.into_iter().zip(embedded) {
            vectors[position] = vector;
        }
    }
    progress.finish_stage();
    let embed_seconds = started.elapsed().as_secs_f64();
    progress.stage("graph", 1);
    vectors::VectorStore::write(&dir.join(name), planned, &vectors, build.hnsw)?;
    progress.finish_stage();
    Ok(VectorManifest {
        model_id: model.to_string(),
        dimensions: embedder.dimensions(),
        vectors: planned.entries.len(),
        concepts: planned.concepts.len(),
        scope: build.scope,
        hnsw: build.hnsw,
        graph: planned.entries.len() >= build.hnsw.exact_below,
        embedded_now: missing.len(),
        embed_seconds,
    })
}

/// Finds the live generation: `root/current`, or `root` itself when it is a generation.
pub fn resolve(root: &Path) -> Result<PathBuf> {
    if root.join(manifest::MANIFEST_FILE).is_file() {
        return Ok(root.to_path_buf());
    }
    let link = root.join(CURRENT);
    #[cfg(not(unix))]
    if let Ok(name) = std::fs::read_to_string(&link) {
        return Ok(root.join(name.trim()));
    }
    match std::fs::canonicalize(&link) {
        Ok(generation) => Ok(generation),
        Err(_) if !root.exists() => Err(Error::NoIndex {
            path: root.to_path_buf(),
            reason: "the directory does not exist".into(),
        }),
        Err(_) => Err(Error::NoIndex {
            path: root.to_path_buf(),
            reason: "it holds no built index (no `current` generation)".into(),
        }),
    }
}

/// An opened, read-only index generation.
pub struct OccuIndex {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub text: TextIndex,
    /// Absent when the index was built without vectors. Every kind's vectors, or all but job
    /// titles' when the index has a title space.
    pub vectors: Option<VectorStore>,
    /// Occupations' and ISCO groups' vectors, when a model of their own embedded them.
    pub title_vectors: Option<VectorStore>,
    /// The shared lock that keeps this generation from being pruned while it is open.
    _lease: std::fs::File,
}

impl OccuIndex {
    pub fn open(root: &Path) -> Result<OccuIndex> {
        let dir = resolve(root)?;
        let lease = lease(&dir)?;
        let manifest = Manifest::read(&dir)?;
        let text = TextIndex::open(&dir.join(TEXT_DIR))?;
        if text.num_docs() != manifest.text.documents {
            return Err(Error::IncompatibleIndex {
                path: dir,
                reason: format!(
                    "the text store holds {} documents, the manifest says {}",
                    text.num_docs(),
                    manifest.text.documents
                ),
            });
        }
        let open_store = |name: &str, built: &VectorManifest| -> Result<VectorStore> {
            let scale =
                crate::embed::SimilarityScale::for_model_id(&built.model_id).map_err(|e| Error::IncompatibleIndex {
                    path: dir.clone(),
                    reason: format!("no similarity calibration for its model: {e}"),
                })?;
            Ok(VectorStore::open(&dir.join(name), built.dimensions, built.vectors, built.hnsw)?.with_scale(scale))
        };
        let vectors = manifest
            .vectors
            .as_ref()
            .map(|built| open_store(vectors::VECTORS_DIR, built))
            .transpose()?;
        let title_vectors = manifest
            .title_vectors
            .as_ref()
            .map(|built| open_store(vectors::TITLE_VECTORS_DIR, built))
            .transpose()?;
        Ok(OccuIndex {
            dir,
            manifest,
            text,
            vectors,
            title_vectors,
            _lease: lease,
        })
    }

    /// The vector stores, each with its space: the general one, then the title one if any.
    pub fn vector_stores(&self) -> impl Iterator<Item = (VectorSpace, &VectorStore)> {
        let general = self.vectors.as_ref().map(|s| (VectorSpace::General, s));
        let titles = self.title_vectors.as_ref().map(|s| (VectorSpace::Titles, s));
        general.into_iter().chain(titles)
    }

    /// The space that holds concepts of `kind` in this index.
    pub fn space_of(&self, kind: Kind) -> VectorSpace {
        match self.title_vectors {
            Some(_) => VectorSpace::of(kind),
            None => VectorSpace::General,
        }
    }

    /// The store that holds concepts of `kind`, if the index has vectors.
    pub fn store_of_kind(&self, kind: Kind) -> Option<&VectorStore> {
        match self.space_of(kind) {
            VectorSpace::Titles => self.title_vectors.as_ref(),
            VectorSpace::General => self.vectors.as_ref(),
        }
    }

    /// A concept's vector facts and its store's space, by id.
    pub fn vector_concept(&self, id: &str) -> Option<(VectorSpace, &vectors::VectorConcept)> {
        self.vector_stores()
            .find_map(|(space, store)| store.concept(id).map(|c| (space, c)))
    }

    /// Loads the full catalogue (about a second on the full data; only `show` and matching need it).
    pub fn load_catalog(&self) -> Result<Catalog> {
        let path = self.dir.join(CATALOG_FILE);
        let file = std::fs::File::open(&path).map_err(|e| Error::io("cannot open", &path, e))?;
        let reader = BufReader::new(flate2::read::GzDecoder::new(BufReader::new(file)));
        serde_json::from_reader(reader).map_err(|e| Error::IncompatibleIndex {
            path: path.clone(),
            reason: format!("unreadable catalogue: {e}"),
        })
    }
}
