//! The vector store: one unit vector per embedded text (a label in one language, or a long text),
//! each pointing to its concept by our stable id, searched through an HNSW graph (hnsw_rs) or, for
//! small sets and selective filters, an exact scan. hnsw_rs types stay inside this module.
//!
//! HNSW: Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", IEEE TPAMI 2020. Vectors are L2-normalised, so the
//! cosine distance is `1 − a·b`.
//!
//! ```text
//! vectors/
//!   entries.json.gz   what each vector is: concept, language, field, text (and concept filters)
//!   vectors.f32       row-major little-endian f32, entries × dimensions; only for small sets
//!   graph.hnsw.graph  hnsw_rs dump, above the exact-scan threshold; its data file holds the
//!   graph.hnsw.data   vectors, which are copied out on open for exact scans and recall checks
//! ```

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use hnsw_rs::anndists::dist::Distance;
use hnsw_rs::api::AnnT;
use hnsw_rs::hnsw::Hnsw;
use hnsw_rs::hnswio::HnswIo;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::embed::{dot, SimilarityScale, TextKind};
use crate::error::{Error, Result};
use crate::ingest::Catalog;
use crate::types::{Concept, Kind, Lang, VectorSpace};

pub const VECTORS_DIR: &str = "vectors";
/// The job-title space of an index with a title model ([`VectorSpace::Titles`]).
pub const TITLE_VECTORS_DIR: &str = "vectors-titles";
const ENTRIES_FILE: &str = "entries.json.gz";
const VECTORS_FILE: &str = "vectors.f32";
const GRAPH_BASENAME: &str = "graph";

/// Which texts a build embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EmbedScope {
    /// No vectors: text search only.
    None,
    /// The quick-start scope: every label a job title can meet, in every language the data has:
    /// the preferred and alternative labels of occupations, ISCO groups, profiles, materials and
    /// body-of-knowledge concepts, the preferred label of every other concept (skills, skill
    /// groups) in each of its languages, and the descriptions of profiles, materials and
    /// body-of-knowledge concepts. About 360,000 distinct texts on `../shared/data`.
    #[default]
    Default,
    /// Every preferred and alternative label in every language, and every description (~464,000
    /// distinct labels and ~33,000 long texts on `../shared/data`: roughly 1.5 hours on 2 cores
    /// the first time; the embedding cache makes a rebuild fast).
    Full,
}

impl EmbedScope {
    pub fn parse(text: &str) -> Option<EmbedScope> {
        match text {
            "none" => Some(EmbedScope::None),
            "default" => Some(EmbedScope::Default),
            "full" => Some(EmbedScope::Full),
            _ => None,
        }
    }
}

/// What part of a concept a vector embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddedField {
    Preferred,
    Alternative,
    Description,
}

impl EmbeddedField {
    pub fn text_kind(self) -> TextKind {
        match self {
            EmbeddedField::Preferred | EmbeddedField::Alternative => TextKind::Query,
            EmbeddedField::Description => TextKind::Passage,
        }
    }
}

/// The facts of a concept that vector filters need (the text store has its own copy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorConcept {
    pub id: String,
    pub kind: Kind,
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub isco_prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eqf_levels: Vec<u8>,
    /// Preferred label per language (display of vector-only hits, in the language asked for).
    pub labels: Vec<(String, String)>,
}

impl VectorConcept {
    fn of(concept: &Concept) -> VectorConcept {
        VectorConcept {
            id: concept.id.0.clone(),
            kind: concept.kind,
            source: concept.source.clone(),
            isco_prefixes: concept.isco_prefixes(),
            eqf_levels: concept.attributes.eqf_levels.clone(),
            labels: concept
                .labels
                .iter()
                .filter_map(|(lang, labels)| labels.preferred.clone().map(|l| (lang.as_str().to_string(), l)))
                .collect(),
        }
    }

    /// Preferred label in `lang`, else English, else any; with its language.
    pub fn label_in(&self, lang: Option<&str>) -> Option<(&str, &str)> {
        let find = |wanted: &str| self.labels.iter().find(|(l, _)| l == wanted);
        lang.and_then(find)
            .or_else(|| find("en"))
            .or_else(|| self.labels.first())
            .map(|(l, text)| (l.as_str(), text.as_str()))
    }
}

/// One embedded text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorEntry {
    /// Position in [`VectorEntries::concepts`].
    pub concept: u32,
    pub lang: String,
    pub field: EmbeddedField,
    pub text: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct VectorEntries {
    pub concepts: Vec<VectorConcept>,
    pub entries: Vec<VectorEntry>,
}

/// The texts a build embeds from `catalog` under `scope`, deduplicated per concept, language and text.
pub fn plan(catalog: &Catalog, scope: EmbedScope) -> VectorEntries {
    let mut planned = VectorEntries::default();
    if scope == EmbedScope::None {
        return planned;
    }
    for concept in catalog.concepts.values() {
        let position = planned.concepts.len() as u32;
        let mut entries: Vec<VectorEntry> = Vec::new();
        let mut add = |lang: &Lang, field: EmbeddedField, text: &str| {
            let text = text.trim();
            let duplicate = entries.iter().any(|e| e.lang == lang.as_str() && e.text == text);
            if !text.is_empty() && !duplicate {
                entries.push(VectorEntry {
                    concept: position,
                    lang: lang.as_str().to_string(),
                    field,
                    text: text.to_string(),
                });
            }
        };
        let full = scope == EmbedScope::Full;
        for (lang, labels) in &concept.labels {
            if let Some(preferred) = &labels.preferred {
                add(lang, EmbeddedField::Preferred, preferred);
            }
            // Skills have ~5 alternative labels a language: 150,000 more texts, which the text
            // side already matches word for word; `full` embeds them.
            let alternatives = full
                || matches!(
                    concept.kind,
                    Kind::Occupation | Kind::IscoGroup | Kind::Profile | Kind::Material | Kind::Concept
                );
            if alternatives {
                for alternative in &labels.alternative {
                    add(lang, EmbeddedField::Alternative, alternative);
                }
            }
            let descriptions = full || matches!(concept.kind, Kind::Profile | Kind::Material | Kind::Concept);
            if descriptions {
                if let Some(description) = &labels.description {
                    add(lang, EmbeddedField::Description, description);
                }
            }
        }
        if !entries.is_empty() {
            planned.concepts.push(VectorConcept::of(concept));
            planned.entries.extend(entries);
        }
    }
    planned
}

/// The job-title space of `planned`: every text of occupations and ISCO groups
/// ([`VectorSpace::of`]), with its own concept positions, in the same order. An index with a
/// title model embeds these with it, beside [`general_space`].
pub fn title_space(planned: &VectorEntries) -> VectorEntries {
    select(planned, |_, concept| is_title(concept))
}

/// Whether a concept is a job title (occupation or ISCO group), answered from the title space.
fn is_title(concept: &VectorConcept) -> bool {
    VectorSpace::of(concept.kind) == VectorSpace::Titles
}

/// The general space of an index whose job titles have a model of their own: what the general
/// model needs to compare job titles with the other kinds (matching by meaning, `/similar`,
/// duplicates), not a second copy of every title. It keeps every text of the other kinds; of
/// occupations and ISCO groups, the preferred label in every language and the alternative labels
/// in the languages the other kinds have labels in (where a skill, profile or material can meet
/// them). On `../shared/data` that is 219,917 texts instead of 382,621: the alternative labels in
/// the 17 languages without skills are searched in the title space only.
pub fn general_space(planned: &VectorEntries) -> VectorEntries {
    let other_kinds_languages: std::collections::HashSet<&str> = planned
        .entries
        .iter()
        .filter(|entry| !is_title(&planned.concepts[entry.concept as usize]))
        .map(|entry| entry.lang.as_str())
        .collect();
    select(planned, |entry, concept| {
        !is_title(concept)
            || entry.field == EmbeddedField::Preferred
            || other_kinds_languages.contains(entry.lang.as_str())
    })
}

/// The entries of `planned` that `keep` accepts, each still pointing to its concept, and the
/// concepts left with an entry, in the same order.
fn select(planned: &VectorEntries, keep: impl Fn(&VectorEntry, &VectorConcept) -> bool) -> VectorEntries {
    let kept: Vec<bool> = planned
        .entries
        .iter()
        .map(|entry| keep(entry, &planned.concepts[entry.concept as usize]))
        .collect();
    let mut has_entry = vec![false; planned.concepts.len()];
    for (entry, _) in planned.entries.iter().zip(&kept).filter(|(_, k)| **k) {
        has_entry[entry.concept as usize] = true;
    }
    let mut selected = VectorEntries::default();
    let mut moved: Vec<Option<u32>> = Vec::with_capacity(planned.concepts.len());
    for (concept, has_entry) in planned.concepts.iter().zip(has_entry) {
        moved.push(has_entry.then(|| {
            selected.concepts.push(concept.clone());
            selected.concepts.len() as u32 - 1
        }));
    }
    for (entry, _) in planned.entries.iter().zip(&kept).filter(|(_, k)| **k) {
        if let Some(position) = moved[entry.concept as usize] {
            selected.entries.push(VectorEntry {
                concept: position,
                ..entry.clone()
            });
        }
    }
    selected
}

/// HNSW parameters, checked before hnsw_rs sees them (it ends the process on some bad values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HnswParams {
    /// Links per node and layer (M in the paper).
    pub max_connections: usize,
    /// Width of the search that links each inserted vector. 64 rather than 100: on the
    /// quick-start index the two graphs build in 78 s less (a warm rebuild 130.5 s instead of
    /// 209.0 s) and recall@10 at ef_search 128 is 0.9748 / 0.9908 (general / job titles) instead
    /// of 0.9889 / 0.9970, while the product benchmark (0.625 / A@1 0.546), the matching
    /// benchmark (0.751) and MELO corpus-only (0.511) are the same (README, Quick start).
    pub ef_construction: usize,
    /// Width of the search in the bottom layer; raised to k when k is larger.
    pub ef_search: usize,
    pub max_layers: usize,
    /// Below this many vectors the store scans exactly and builds no graph.
    pub exact_below: usize,
    /// A filtered search (kinds, facets) scans up to this many kept entries exactly rather than
    /// walking the graph with the filter: a scan costs ~4 ms per 50,000 entries on 2 cores, while
    /// hnsw_rs's filtered walk costs far more when the filter keeps a minority (the skills,
    /// profiles and materials of the default general store, 49,579 of 219,917 entries, 500 of
    /// them asked: 195 ms mean over the benchmark queries, against ~24 ms for the whole vector
    /// side with the scan; `cargo bench --bench hybrid_query -- skip-criterion`).
    pub filtered_scan_max: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            max_connections: 16,
            ef_construction: 64,
            ef_search: 128,
            max_layers: 16,
            exact_below: 4096,
            filtered_scan_max: 100_000,
        }
    }
}

/// hnsw_rs keeps at most this many layers and accepts at most 256 connections.
const HNSW_MAX_LAYERS: usize = 16;
const HNSW_MAX_CONNECTIONS: usize = 256;

impl HnswParams {
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::Config(format!("hnsw: {message}")));
        if !(2..=HNSW_MAX_CONNECTIONS).contains(&self.max_connections) {
            return invalid(format!(
                "max_connections must be within 2..={HNSW_MAX_CONNECTIONS}, not {}",
                self.max_connections
            ));
        }
        if self.ef_construction < self.max_connections {
            return invalid(format!(
                "ef_construction ({}) must be at least max_connections ({})",
                self.ef_construction, self.max_connections
            ));
        }
        if self.ef_search == 0 {
            return invalid("ef_search must be at least 1".into());
        }
        if !(1..=HNSW_MAX_LAYERS).contains(&self.max_layers) {
            return invalid(format!(
                "max_layers must be within 1..={HNSW_MAX_LAYERS}, not {}",
                self.max_layers
            ));
        }
        Ok(())
    }
}

/// Cosine distance of unit vectors, clamped at 0: hnsw_rs's own `DistDot` asserts `a·b ≤ 1`,
/// which rounding breaks for a vector and itself.
#[derive(Debug, Default, Clone, Copy)]
struct UnitCosine;

impl Distance<f32> for UnitCosine {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// Which entries a search may return.
pub type EntryFilter<'a> = &'a (dyn Fn(&VectorEntry, &VectorConcept) -> bool + Sync);

/// A vector search result: an entry position and its cosine similarity to the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorMatch {
    pub entry: usize,
    pub similarity: f32,
}

/// An opened, read-only vector store.
pub struct VectorStore {
    pub entries: VectorEntries,
    concept_positions: std::collections::HashMap<String, usize>,
    /// Per concept position, its entries: a concept's vectors without a scan of the store.
    concept_entries: Vec<Vec<usize>>,
    /// Per kind, its entries: small kinds (materials, profiles) scanned exactly without
    /// testing a filter on every entry.
    kind_entries: std::collections::HashMap<Kind, Vec<usize>>,
    dimensions: usize,
    vectors: Vec<f32>,
    graph: Option<Hnsw<'static, f32, UnitCosine>>,
    params: HnswParams,
    /// Puts the model's similarities on the base model's scale (identity for the base model).
    scale: SimilarityScale,
    /// Int8 codes of the entries that exact scans read (the small kinds of a store with a graph).
    codes: Option<ScanCodes>,
}

/// Int8 codes of some of a store's vectors, for exact scans: each vector scaled by its largest
/// component onto [-127, 127] (scalar quantization). A scan ranks every entry by the codes'
/// integer dot product, a quarter of the bytes of the floats (a scan of ~50,000 vectors is bound
/// by memory), then rescores the best few times `k` with the floats, so what it returns carries
/// exact similarities: the re-ranking of quantized candidates of Jégou, Douze and Schmid,
/// "Product quantization for nearest neighbor search" (TPAMI 2011), as FAISS's refine step does.
struct ScanCodes {
    /// Per entry, its row in `codes`, or `u32::MAX` for an entry without one.
    row_of: Vec<u32>,
    codes: Vec<i8>,
    /// Per row, the value of one code step: the vector is `codes × scale`.
    scales: Vec<f32>,
}

/// Whether kinds holding `part` of a store's `whole` entries are most of it: then a search for
/// them walks the graph without a filter (and drops the other kinds after); a smaller part is
/// scanned, so its entries get int8 codes ([`ScanCodes`]).
fn most_of(part: usize, whole: usize) -> bool {
    part * 2 >= whole
}

/// A scan this long or longer uses the int8 codes when every entry it reads has one.
const CODED_SCAN_MIN: usize = 4096;

/// `vector` scaled by its largest component onto [-127, 127], with the value of one step.
fn quantize(vector: &[f32], into: &mut Vec<i8>) -> f32 {
    let largest = vector.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let step = if largest > 0.0 { largest / 127.0 } else { 1.0 };
    into.extend(vector.iter().map(|x| (x / step).round().clamp(-127.0, 127.0) as i8));
    step
}

/// Integer dot product of two codes (at most 127² × dimensions: no overflow below 133,000
/// dimensions). Sixteen independent sums so that the compiler vectorises it, for the baseline,
/// AVX2 and AVX-512 (chosen at run time, as [`crate::embed::dot`]; integer sums are exact).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: i32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    let mut sums = [0i32; LANES];
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += i32::from(x[lane]) * i32::from(y[lane]);
        }
    }
    sums.iter().sum::<i32>() + tail
}

impl ScanCodes {
    /// Codes for `entries` of the `dimensions`-long `vectors`.
    fn new(vectors: &[f32], dimensions: usize, count: usize, entries: impl Iterator<Item = usize>) -> ScanCodes {
        let mut codes = ScanCodes {
            row_of: vec![u32::MAX; count],
            codes: Vec::new(),
            scales: Vec::new(),
        };
        for entry in entries {
            codes.row_of[entry] = codes.scales.len() as u32;
            let step = quantize(&vectors[entry * dimensions..(entry + 1) * dimensions], &mut codes.codes);
            codes.scales.push(step);
        }
        codes
    }

    fn covers(&self, among: &[usize]) -> bool {
        among.iter().all(|&entry| self.row_of[entry] != u32::MAX)
    }
}

fn write_entries(entries: &VectorEntries, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    let mut encoder = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
    serde_json::to_writer(&mut encoder, entries).map_err(|e| Error::Internal(format!("vector entries: {e}")))?;
    encoder
        .finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| Error::io("cannot write", path, e))
}

fn write_vectors(vectors: &[Vec<f32>], path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    let mut writer = BufWriter::new(file);
    for value in vectors.iter().flatten() {
        writer
            .write_all(&value.to_le_bytes())
            .map_err(|e| Error::io("cannot write", path, e))?;
    }
    writer.flush().map_err(|e| Error::io("cannot write", path, e))
}

impl VectorStore {
    /// Writes `entries` with their `vectors` (one per entry, unit length) under `dir`, and the
    /// HNSW graph when there are enough of them.
    pub fn write(dir: &Path, entries: &VectorEntries, vectors: &[Vec<f32>], params: HnswParams) -> Result<()> {
        params.validate()?;
        if entries.entries.len() != vectors.len() {
            return Err(Error::Internal(format!(
                "{} vector entries but {} vectors",
                entries.entries.len(),
                vectors.len()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create directory", dir, e))?;
        write_entries(entries, &dir.join(ENTRIES_FILE))?;
        if vectors.len() < params.exact_below {
            write_vectors(vectors, &dir.join(VECTORS_FILE))?;
        } else {
            let graph: Hnsw<f32, UnitCosine> = Hnsw::new(
                params.max_connections,
                vectors.len(),
                params.max_layers,
                params.ef_construction,
                UnitCosine,
            );
            let batch: Vec<(&Vec<f32>, usize)> = vectors.iter().enumerate().map(|(i, v)| (v, i)).collect();
            graph.parallel_insert(&batch);
            graph
                .file_dump(dir, GRAPH_BASENAME)
                .map_err(|e| Error::Internal(format!("cannot write the HNSW graph in {}: {e}", dir.display())))?;
        }
        Ok(())
    }

    /// Opens the store in `dir`, which must hold `count` vectors of `dimensions`.
    pub fn open(dir: &Path, dimensions: usize, count: usize, params: HnswParams) -> Result<VectorStore> {
        params.validate()?;
        let incompatible = |reason: String| Error::IncompatibleIndex {
            path: dir.to_path_buf(),
            reason,
        };
        let path = dir.join(ENTRIES_FILE);
        let file = std::fs::File::open(&path).map_err(|e| Error::io("cannot open", &path, e))?;
        let entries: VectorEntries =
            serde_json::from_reader(BufReader::new(flate2::read::GzDecoder::new(BufReader::new(file))))
                .map_err(|e| incompatible(format!("unreadable vector entries: {e}")))?;
        if entries.entries.len() != count {
            return Err(incompatible(format!(
                "the vector store holds {} entries, the manifest says {count}",
                entries.entries.len()
            )));
        }
        let (vectors, graph) = if dir.join(format!("{GRAPH_BASENAME}.hnsw.graph")).is_file() {
            // The loaded graph borrows its loader for its whole life; the store lives as long as
            // the process serves this index, so the loader (a few paths) is leaked once per open.
            let loader: &'static HnswIo = Box::leak(Box::new(HnswIo::new(dir, GRAPH_BASENAME)));
            let graph: Hnsw<'static, f32, UnitCosine> = loader
                .load_hnsw_with_dist(UnitCosine)
                .map_err(|e| incompatible(format!("unreadable HNSW graph: {e}")))?;
            if graph.get_nb_point() != count {
                return Err(incompatible(format!(
                    "the HNSW graph holds {} points, the store {count}",
                    graph.get_nb_point()
                )));
            }
            let mut vectors = vec![0.0f32; count * dimensions];
            for point in graph.get_point_indexation() {
                let (id, vector) = (point.get_origin_id(), point.get_v());
                if id >= count || vector.len() != dimensions {
                    return Err(incompatible(format!(
                        "the HNSW graph holds point {id} of {} dimensions",
                        vector.len()
                    )));
                }
                vectors[id * dimensions..(id + 1) * dimensions].copy_from_slice(vector);
            }
            (vectors, Some(graph))
        } else {
            let path = dir.join(VECTORS_FILE);
            let mut bytes = Vec::new();
            std::fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| Error::io("cannot read", &path, e))?;
            if bytes.len() != count * dimensions * 4 {
                return Err(incompatible(format!(
                    "{} holds {} bytes, not {count} vectors of {dimensions} dimensions",
                    path.display(),
                    bytes.len()
                )));
            }
            let vectors = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (vectors, None)
        };
        let concept_positions = entries
            .concepts
            .iter()
            .enumerate()
            .map(|(position, concept)| (concept.id.clone(), position))
            .collect();
        let mut concept_entries = vec![Vec::new(); entries.concepts.len()];
        let mut kind_entries: std::collections::HashMap<Kind, Vec<usize>> = std::collections::HashMap::new();
        for (position, entry) in entries.entries.iter().enumerate() {
            let concept = entry.concept as usize;
            let Some(list) = concept_entries.get_mut(concept) else {
                return Err(incompatible(format!(
                    "vector entry {position} points to concept {concept}, the store has {}",
                    entries.concepts.len()
                )));
            };
            list.push(position);
            kind_entries
                .entry(entries.concepts[concept].kind)
                .or_default()
                .push(position);
        }
        // The kinds a search scans rather than walks: those under half of a store with a graph.
        let scanned: Vec<usize> = match graph {
            Some(_) => kind_entries
                .values()
                .filter(|list| !most_of(list.len(), count))
                .flatten()
                .copied()
                .collect(),
            None => Vec::new(),
        };
        let codes = (!scanned.is_empty()).then(|| ScanCodes::new(&vectors, dimensions, count, scanned.into_iter()));
        Ok(VectorStore {
            concept_positions,
            concept_entries,
            kind_entries,
            entries,
            dimensions,
            vectors,
            graph,
            params,
            scale: SimilarityScale::identity(),
            codes,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.entries.is_empty()
    }

    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// The search width in use (the build's, unless changed with [`VectorStore::set_ef_search`]).
    pub fn ef_search(&self) -> usize {
        self.params.ef_search
    }

    /// Changes the search width without rebuilding: ef_search only steers the walk, the graph
    /// stays as built.
    pub fn set_ef_search(&mut self, ef_search: usize) -> Result<()> {
        if ef_search == 0 {
            return Err(Error::Config("hnsw: ef_search must be at least 1".into()));
        }
        self.params.ef_search = ef_search;
        Ok(())
    }

    pub fn vector(&self, entry: usize) -> &[f32] {
        &self.vectors[entry * self.dimensions..(entry + 1) * self.dimensions]
    }

    /// A concept by our stable id (the join key with the text store).
    pub fn concept(&self, id: &str) -> Option<&VectorConcept> {
        self.concept_positions.get(id).map(|&p| &self.entries.concepts[p])
    }

    /// The entries of a concept (by our stable id), in store order; empty when it has none.
    pub fn entries_of(&self, id: &str) -> &[usize] {
        self.concept_positions
            .get(id)
            .map_or(&[], |&position| self.concept_entries[position].as_slice())
    }

    /// The entries of every concept of `kind`, in store order.
    pub fn entries_of_kind(&self, kind: Kind) -> &[usize] {
        self.kind_entries.get(&kind).map_or(&[], Vec::as_slice)
    }

    pub fn concept_of(&self, entry: usize) -> &VectorConcept {
        &self.entries.concepts[self.entries.entries[entry].concept as usize]
    }

    fn allowed(&self, entry: usize, filter: Option<EntryFilter<'_>>) -> bool {
        filter.is_none_or(|f| f(&self.entries.entries[entry], self.concept_of(entry)))
    }

    /// The `k` entries nearest to `query` by exact scan.
    pub fn exact(&self, query: &[f32], k: usize, filter: Option<EntryFilter<'_>>) -> Vec<VectorMatch> {
        let among: Vec<usize> = (0..self.len()).filter(|&entry| self.allowed(entry, filter)).collect();
        self.exact_among(query, k, &among)
    }

    /// The `k` entries of `among` nearest to `query`, by exact scan: for callers that compare
    /// one fixed subset many times (duplicates), so the subset is chosen once, not per query.
    pub fn exact_among(&self, query: &[f32], k: usize, among: &[usize]) -> Vec<VectorMatch> {
        let order =
            |a: &VectorMatch, b: &VectorMatch| b.similarity.total_cmp(&a.similarity).then(a.entry.cmp(&b.entry));
        // A long scan over coded entries ranks by the codes first and rescores the best with the
        // floats. Only on the identity scale: a calibration maps labels and descriptions apart,
        // so their raw order is not the reported one.
        let coded = self
            .codes
            .as_ref()
            .filter(|codes| among.len() >= CODED_SCAN_MIN && self.scale.is_identity() && codes.covers(among));
        let rescored: Vec<usize>;
        let among = match coded {
            Some(codes) => {
                let mut query_code = Vec::with_capacity(query.len());
                quantize(query, &mut query_code);
                let mut approximate: Vec<VectorMatch> = among
                    .iter()
                    .map(|&entry| {
                        let row = codes.row_of[entry] as usize;
                        let code = &codes.codes[row * self.dimensions..(row + 1) * self.dimensions];
                        VectorMatch {
                            entry,
                            similarity: dot_i8(code, &query_code) as f32 * codes.scales[row],
                        }
                    })
                    .collect();
                // The rounding moves a similarity by ~0.001; twice k (at least k + 64) candidates
                // keep the true k among them.
                let keep = (2 * k).max(k + 64);
                if approximate.len() > keep {
                    approximate.select_nth_unstable_by(keep, order);
                    approximate.truncate(keep);
                }
                rescored = approximate.into_iter().map(|m| m.entry).collect();
                &rescored
            }
            None => among,
        };
        let mut scored: Vec<VectorMatch> = among
            .iter()
            .map(|&entry| VectorMatch {
                entry,
                similarity: self.calibrated(entry, dot(self.vector(entry), query)),
            })
            .collect();
        if scored.len() > k {
            scored.select_nth_unstable_by(k, order);
            scored.truncate(k);
        }
        scored.sort_by(order);
        scored
    }

    fn check_dimensions(&self, query: &[f32]) -> Result<()> {
        if query.len() == self.dimensions {
            Ok(())
        } else {
            Err(Error::Internal(format!(
                "query vector of {} dimensions, store of {}",
                query.len(),
                self.dimensions
            )))
        }
    }

    /// The graph walk, keeping only entries `keep` accepts.
    fn walk(
        &self,
        graph: &Hnsw<'static, f32, UnitCosine>,
        query: &[f32],
        k: usize,
        keep: Option<&dyn hnsw_rs::filter::FilterT>,
    ) -> Vec<VectorMatch> {
        let ef = self.params.ef_search.max(k);
        let mut found: Vec<VectorMatch> = graph
            .search_filter(query, k, ef, keep)
            .into_iter()
            .map(|n| VectorMatch {
                entry: n.d_id,
                similarity: self.calibrated(n.d_id, 1.0 - n.distance),
            })
            .collect();
        if !self.scale.is_identity() {
            // Labels and descriptions have maps of their own: their order may change.
            found.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.entry.cmp(&b.entry)));
        }
        found
    }

    /// `raw`, the cosine of a query and `entry`, on the base model's scale ([`SimilarityScale`]).
    fn calibrated(&self, entry: usize, raw: f32) -> f32 {
        // The default model's scale is the identity: no entry lookup per scanned vector.
        if self.scale.is_identity() {
            return raw;
        }
        self.scale.apply(self.entries.entries[entry].field.text_kind(), raw)
    }

    /// Reports similarities on `scale` (the index's model's calibration) from now on.
    pub fn with_scale(mut self, scale: SimilarityScale) -> VectorStore {
        self.scale = scale;
        self
    }

    /// Whether `kept` entries that pass a filter are better scanned exactly than walked with the
    /// filter: few enough to scan, or too small a share of the store for the walk to find them.
    fn scan_rather_than_walk(&self, kept: usize) -> bool {
        kept <= self.params.filtered_scan_max || kept * 5 < self.len()
    }

    /// The `k` entries nearest to `query` (unit length): HNSW when built, exact otherwise. A filter
    /// that keeps few entries is answered exactly too ([`HnswParams::filtered_scan_max`]).
    pub fn search(&self, query: &[f32], k: usize, filter: Option<EntryFilter<'_>>) -> Result<Vec<VectorMatch>> {
        self.check_dimensions(query)?;
        let Some(graph) = &self.graph else {
            return Ok(self.exact(query, k, filter));
        };
        if let Some(filter) = filter {
            let kept = (0..self.len())
                .filter(|&entry| self.allowed(entry, Some(filter)))
                .count();
            if self.scan_rather_than_walk(kept) {
                return Ok(self.exact(query, k, Some(filter)));
            }
        }
        let keep = |id: &usize| self.allowed(*id, filter);
        Ok(self.walk(graph, query, k, filter.map(|_| &keep as &dyn hnsw_rs::filter::FilterT)))
    }

    /// As [`VectorStore::search`], among the concepts of `kinds` only (every kind when empty).
    /// The entries of each kind are known, so what a kind filter keeps is not counted by a pass
    /// over the whole store: kinds that hold most entries are walked without a filter and the
    /// rest dropped; others are scanned exactly, or walked with a filter when they are too many
    /// to scan ([`HnswParams::filtered_scan_max`]); another `filter` is counted over the kinds' entries only.
    pub fn search_kinds(
        &self,
        query: &[f32],
        k: usize,
        kinds: &[Kind],
        filter: Option<EntryFilter<'_>>,
    ) -> Result<Vec<VectorMatch>> {
        if kinds.is_empty() {
            return self.search(query, k, filter);
        }
        self.check_dimensions(query)?;
        let mut kinds = kinds.to_vec();
        kinds.sort();
        kinds.dedup();
        let of_kinds = || {
            kinds
                .iter()
                .flat_map(|kind| self.entries_of_kind(*kind).iter().copied())
        };
        let in_kinds: usize = kinds.iter().map(|kind| self.entries_of_kind(*kind).len()).sum();
        // Kinds that hold every entry (the job-title store asked for occupations and ISCO
        // groups): no kind filter at all, and no margin for entries that would be dropped.
        if in_kinds == self.len() {
            return self.search(query, k, filter);
        }
        let keep = |id: &usize| kinds.contains(&self.concept_of(*id).kind) && self.allowed(*id, filter);
        match &self.graph {
            // Most of the store (occupations and ISCO groups hold 87 % of the default one): a
            // plain walk for proportionally more entries, the other kinds dropped after. hnsw_rs's
            // filtered walk costs ~6x a plain one here (5.9 ms against 0.9 ms for 200 entries).
            Some(graph) if filter.is_none() && most_of(in_kinds, self.len()) => {
                let share = in_kinds as f64 / self.len() as f64;
                let wanted = ((k as f64 / share) * 1.25).ceil() as usize;
                let mut found = self.walk(graph, query, wanted, None);
                let exhausted = found.len() < wanted;
                found.retain(|m| keep(&m.entry));
                if found.len() >= k || exhausted {
                    found.truncate(k);
                    return Ok(found);
                }
                Ok(self.walk(graph, query, k, Some(&keep as &dyn hnsw_rs::filter::FilterT)))
            }
            graph => {
                let among: Vec<usize> = of_kinds().filter(|&entry| self.allowed(entry, filter)).collect();
                match graph {
                    Some(graph) if !self.scan_rather_than_walk(among.len()) => {
                        Ok(self.walk(graph, query, k, Some(&keep as &dyn hnsw_rs::filter::FilterT)))
                    }
                    _ => Ok(self.exact_among(query, k, &among)),
                }
            }
        }
    }
}

/// Tolerance on similarities when counting ties (rounding differs between the graph's distance
/// and the exact dot product).
const RECALL_TIE_EPSILON: f32 = 1e-5;

/// How many of `approximate` reach the similarity of the last of `exact` (the k-th true
/// neighbour), less [`RECALL_TIE_EPSILON`].
fn found_among(exact: &[VectorMatch], approximate: &[VectorMatch]) -> usize {
    let Some(threshold) = exact.last().map(|m| m.similarity - RECALL_TIE_EPSILON) else {
        return 0;
    };
    approximate.iter().filter(|m| m.similarity >= threshold).count()
}

/// Recall@k of the graph against the exact scan, with `samples` stored vectors (spread evenly
/// over the store) as queries; each query's own entry is left out of both lists.
///
/// A returned entry counts as found when its similarity reaches the k-th exact similarity, as in
/// ann-benchmarks' k-nn recall (Aumüller et al., "ANN-Benchmarks", 2020: a result is correct when
/// its distance is at most the k-th true distance plus ε). Counting by entry alone would punish
/// the graph for choosing among equal vectors: the full index holds one vector per label per
/// language, and a label spelled alike in several languages ("Manager") has identical vectors.
pub fn measure_recall(store: &VectorStore, samples: usize, k: usize) -> Result<f64> {
    if store.is_empty() || samples == 0 || k == 0 {
        return Ok(1.0);
    }
    let step = (store.len() / samples).max(1);
    let queries: Vec<usize> = (0..store.len()).step_by(step).take(samples).collect();
    let others = |matches: Vec<VectorMatch>, query: usize| -> Vec<VectorMatch> {
        matches.into_iter().filter(|m| m.entry != query).take(k).collect()
    };
    let (found, expected) = queries
        .par_iter()
        .map(|&query| -> Result<(usize, usize)> {
            let vector = store.vector(query);
            let exact = others(store.exact(vector, k + 1, None), query);
            let approximate = others(store.search(vector, k + 1, None)?, query);
            Ok((found_among(&exact, &approximate), exact.len()))
        })
        .try_reduce(|| (0, 0), |a, b| Ok((a.0 + b.0, a.1 + b.1)))?;
    if expected == 0 {
        return Ok(1.0);
    }
    Ok(found as f64 / expected as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::normalise;

    #[test]
    fn the_integer_dot_is_exact_at_the_extremes_for_every_length() {
        for length in [0, 5, 16, 33, 384] {
            let a: Vec<i8> = (0..length)
                .map(|i| if i % 3 == 0 { -127 } else { 127 - (i % 50) as i8 })
                .collect();
            let b: Vec<i8> = (0..length).map(|i| if i % 2 == 0 { 127 } else { -127 }).collect();
            let plain: i32 = a.iter().zip(&b).map(|(x, y)| i32::from(*x) * i32::from(*y)).sum();
            assert_eq!(dot_i8(&a, &b), plain, "length {length}");
        }
        let top = vec![127i8; 384];
        assert_eq!(dot_i8(&top, &top), 127 * 127 * 384);
    }

    fn random_unit_vectors(count: usize, dimensions: usize, seed: u64) -> Vec<Vec<f32>> {
        // xorshift64*: deterministic, no dependency.
        let mut state = seed.max(1);
        let mut next = || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        (0..count)
            .map(|_| {
                let mut v: Vec<f32> = (0..dimensions).map(|_| next()).collect();
                normalise(&mut v);
                v
            })
            .collect()
    }

    fn entries_for(count: usize) -> VectorEntries {
        VectorEntries {
            concepts: (0..count)
                .map(|i| VectorConcept {
                    id: format!("c{i}"),
                    kind: if i % 2 == 0 { Kind::Occupation } else { Kind::Skill },
                    source: "test".into(),
                    isco_prefixes: Vec::new(),
                    eqf_levels: Vec::new(),
                    labels: vec![("en".into(), format!("label {i}"))],
                })
                .collect(),
            entries: (0..count)
                .map(|i| VectorEntry {
                    concept: i as u32,
                    lang: "en".into(),
                    field: EmbeddedField::Preferred,
                    text: format!("label {i}"),
                })
                .collect(),
        }
    }

    #[test]
    fn each_space_keeps_each_entry_with_its_concept() {
        let mut planned = entries_for(6);
        let mut add = |concept: u32, lang: &str, field: EmbeddedField, text: &str| {
            planned.entries.push(VectorEntry {
                concept,
                lang: lang.into(),
                field,
                text: text.into(),
            })
        };
        // Two texts for concept 3 (a skill), one more for concept 4 (an occupation).
        add(3, "de", EmbeddedField::Preferred, "Etikett 3");
        add(4, "de", EmbeddedField::Alternative, "Etikett 4");
        // An alternative label in a language no skill has: the title space only.
        add(2, "sv", EmbeddedField::Alternative, "etikett 2");
        // A preferred label in that language: both spaces.
        add(4, "sv", EmbeddedField::Preferred, "etikett 4");
        planned.concepts[5].kind = Kind::IscoGroup;
        let titles = title_space(&planned);
        let general = general_space(&planned);
        let ids = |side: &VectorEntries| side.concepts.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        let texts = |side: &VectorEntries| side.entries.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&general), ["c0", "c1", "c2", "c3", "c4", "c5"]);
        assert_eq!(ids(&titles), ["c0", "c2", "c4", "c5"]);
        for side in [&general, &titles] {
            for entry in &side.entries {
                let concept = &side.concepts[entry.concept as usize];
                // Each text still points to its own concept.
                assert!(entry.text.ends_with(&concept.id[1..]), "{entry:?} → {concept:?}");
            }
        }
        // The general space: every skill text, the titles' texts in the skills' languages (en,
        // de) and their preferred labels in the others.
        assert_eq!(
            texts(&general),
            [
                "label 0",
                "label 1",
                "label 2",
                "label 3",
                "label 4",
                "label 5",
                "Etikett 3",
                "Etikett 4",
                "etikett 4"
            ]
        );
        assert_eq!(
            texts(&titles),
            [
                "label 0",
                "label 2",
                "label 4",
                "label 5",
                "Etikett 4",
                "etikett 2",
                "etikett 4"
            ]
        );
        assert!(titles
            .concepts
            .iter()
            .all(|c| VectorSpace::of(c.kind) == VectorSpace::Titles));
    }

    #[test]
    fn bad_parameters_are_refused_before_hnsw_rs_sees_them() {
        assert!(HnswParams::default().validate().is_ok());
        for bad in [
            HnswParams {
                max_connections: 300,
                ..Default::default()
            },
            HnswParams {
                max_layers: 17,
                ..Default::default()
            },
            HnswParams {
                ef_construction: 4,
                ..Default::default()
            },
            HnswParams {
                ef_search: 0,
                ..Default::default()
            },
        ] {
            let error = bad.validate().unwrap_err().to_string();
            assert!(error.contains("hnsw"), "{error}");
        }
    }

    #[test]
    fn a_scale_maps_reported_similarities_and_keeps_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let (count, dimensions) = (3000, 32);
        let vectors = random_unit_vectors(count, dimensions, 11);
        let params = HnswParams {
            exact_below: 1000,
            ..Default::default()
        };
        VectorStore::write(dir.path(), &entries_for(count), &vectors, params).unwrap();
        let raw = VectorStore::open(dir.path(), dimensions, count, params).unwrap();
        let scale = SimilarityScale::from_knots(vec![(0.0, 0.8), (0.5, 0.9)], Vec::new()).unwrap();
        let scaled = VectorStore::open(dir.path(), dimensions, count, params)
            .unwrap()
            .with_scale(scale.clone());
        let query = &vectors[42];
        for (plain, mapped) in [
            (
                raw.search(query, 20, None).unwrap(),
                scaled.search(query, 20, None).unwrap(),
            ),
            (raw.exact(query, 20, None), scaled.exact(query, 20, None)),
        ] {
            let entries = |m: &[VectorMatch]| m.iter().map(|m| m.entry).collect::<Vec<_>>();
            assert_eq!(entries(&plain), entries(&mapped));
            for (p, m) in plain.iter().zip(&mapped) {
                assert!((scale.apply(TextKind::Query, p.similarity) - m.similarity).abs() < 1e-6);
            }
            // The query's own vector: identical texts stay at 1.
            assert!((mapped[0].similarity - 1.0).abs() < 1e-4, "{:?}", mapped[0]);
            assert!(mapped[1].similarity > plain[1].similarity);
        }
    }

    #[test]
    fn graph_persists_and_finds_what_the_exact_scan_finds() {
        let dir = tempfile::tempdir().unwrap();
        let (count, dimensions) = (3000, 32);
        let vectors = random_unit_vectors(count, dimensions, 7);
        let params = HnswParams {
            exact_below: 1000,
            ..Default::default()
        };
        VectorStore::write(dir.path(), &entries_for(count), &vectors, params).unwrap();
        let store = VectorStore::open(dir.path(), dimensions, count, params).unwrap();
        assert!(store.has_graph());
        let queries = random_unit_vectors(50, dimensions, 99);
        let mut found = 0;
        for query in &queries {
            let exact: Vec<usize> = store.exact(query, 10, None).iter().map(|m| m.entry).collect();
            let approximate = store.search(query, 10, None).unwrap();
            found += approximate.iter().filter(|m| exact.contains(&m.entry)).count();
        }
        let recall = found as f64 / (queries.len() * 10) as f64;
        assert!(recall >= 0.95, "recall@10 {recall}");
        // A vector finds itself first.
        let hit = store.search(store.vector(42), 1, None).unwrap();
        assert_eq!(hit[0].entry, 42);
        assert!((hit[0].similarity - 1.0).abs() < 1e-4);
    }

    #[test]
    fn recall_counts_ties_with_the_kth_neighbour_as_found_and_nothing_below() {
        let matches = |pairs: &[(usize, f32)]| -> Vec<VectorMatch> {
            pairs
                .iter()
                .map(|&(entry, similarity)| VectorMatch { entry, similarity })
                .collect()
        };
        let exact = matches(&[(1, 0.99), (2, 0.95), (3, 0.90)]);
        // Entry 7 is another vector equal to entry 3: as good an answer.
        assert_eq!(found_among(&exact, &matches(&[(1, 0.99), (2, 0.95), (7, 0.90)])), 3);
        // Rounding between the graph's distance and the dot product is not a miss.
        assert_eq!(
            found_among(&exact, &matches(&[(1, 0.99), (2, 0.95), (3, 0.899_999)])),
            3
        );
        // A farther vector is.
        assert_eq!(found_among(&exact, &matches(&[(1, 0.99), (2, 0.95), (9, 0.80)])), 2);
        assert_eq!(found_among(&exact, &[]), 0);
        assert_eq!(found_among(&[], &exact), 0);
    }

    #[test]
    fn equal_vectors_do_not_lower_measured_recall() {
        let dir = tempfile::tempdir().unwrap();
        let dimensions = 32;
        // Every vector twice, as a label spelled alike in two languages is in the full index.
        let vectors: Vec<Vec<f32>> = random_unit_vectors(1500, dimensions, 5)
            .into_iter()
            .flat_map(|v| [v.clone(), v])
            .collect();
        let params = HnswParams {
            exact_below: 1000,
            ..Default::default()
        };
        VectorStore::write(dir.path(), &entries_for(vectors.len()), &vectors, params).unwrap();
        let mut store = VectorStore::open(dir.path(), dimensions, vectors.len(), params).unwrap();
        assert!(store.has_graph());
        let recall = measure_recall(&store, 300, 10).unwrap();
        assert!(recall >= 0.95, "recall@10 {recall}");
        store.set_ef_search(256).unwrap();
        assert_eq!(store.ef_search(), 256);
        assert!(store.set_ef_search(0).is_err());
    }

    #[test]
    fn coded_scans_return_what_the_float_scan_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (count, dimensions) = (12_000, 32);
        let vectors = random_unit_vectors(count, dimensions, 21);
        let mut entries = entries_for(count);
        // Skills are 40 % of the store: scanned, so coded (4,800 entries, above CODED_SCAN_MIN).
        for (i, concept) in entries.concepts.iter_mut().enumerate() {
            concept.kind = if i % 5 < 2 { Kind::Skill } else { Kind::Occupation };
        }
        let params = HnswParams::default();
        VectorStore::write(dir.path(), &entries, &vectors, params).unwrap();
        let store = VectorStore::open(dir.path(), dimensions, count, params).unwrap();
        let codes = store.codes.as_ref().expect("the small kind is coded");
        let skills = store.entries_of_kind(Kind::Skill);
        assert!(codes.covers(skills) && skills.len() >= CODED_SCAN_MIN);
        assert!(!codes.covers(store.entries_of_kind(Kind::Occupation)));
        for query in random_unit_vectors(20, dimensions, 5) {
            // The codes' estimate is close to the cosine.
            let mut query_code = Vec::new();
            quantize(&query, &mut query_code);
            let row = codes.row_of[skills[0]] as usize;
            let estimate = dot_i8(&codes.codes[row * dimensions..(row + 1) * dimensions], &query_code) as f32
                * codes.scales[row]
                * query.iter().fold(0.0f32, |m, x| m.max(x.abs()))
                / 127.0;
            assert!((estimate - dot(&vectors[skills[0]], &query)).abs() < 0.02);
            // The coded scan returns the float scan's best 50, with their exact similarities.
            let found = store.search_kinds(&query, 50, &[Kind::Skill], None).unwrap();
            let mut expected: Vec<VectorMatch> = skills
                .iter()
                .map(|&entry| VectorMatch {
                    entry,
                    similarity: dot(&vectors[entry], &query),
                })
                .collect();
            expected.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.entry.cmp(&b.entry)));
            expected.truncate(50);
            assert_eq!(found, expected);
        }
    }

    #[test]
    fn filters_apply_to_graph_and_exact_search() {
        // Filters kept entries scanned exactly (the default for a store this small), then walked.
        for filtered_scan_max in [HnswParams::default().filtered_scan_max, 0] {
            filters_apply(HnswParams {
                exact_below: 100,
                filtered_scan_max,
                ..Default::default()
            });
        }
    }

    fn filters_apply(params: HnswParams) {
        let dir = tempfile::tempdir().unwrap();
        let (count, dimensions) = (2000, 16);
        let vectors = random_unit_vectors(count, dimensions, 3);
        VectorStore::write(dir.path(), &entries_for(count), &vectors, params).unwrap();
        let store = VectorStore::open(dir.path(), dimensions, count, params).unwrap();
        let skills_only = |_: &VectorEntry, concept: &VectorConcept| concept.kind == Kind::Skill;
        let hits = store.search(&vectors[0], 20, Some(&skills_only)).unwrap();
        assert_eq!(hits.len(), 20);
        assert!(hits.iter().all(|m| store.concept_of(m.entry).kind == Kind::Skill));
        // Selective filter: answered exactly.
        let one = |_: &VectorEntry, concept: &VectorConcept| concept.id == "c7";
        let hits = store.search(&vectors[0], 5, Some(&one)).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].entry, 7);
        // The per-concept and per-kind lookups agree with a scan.
        assert_eq!(store.entries_of("c7"), &[7]);
        assert!(store.entries_of("missing").is_empty());
        let skills: Vec<usize> = (0..count)
            .filter(|&e| store.concept_of(e).kind == Kind::Skill)
            .collect();
        assert_eq!(store.entries_of_kind(Kind::Skill), skills.as_slice());
        assert!(store.entries_of_kind(Kind::Material).is_empty());
        // By kinds: the same answers as the equivalent filter, broad (graph) or with a
        // selective extra filter (exact).
        for query in random_unit_vectors(20, dimensions, 11) {
            let by_filter = store.search(&query, 10, Some(&skills_only)).unwrap();
            let by_kinds = store.search_kinds(&query, 10, &[Kind::Skill], None).unwrap();
            let found = by_kinds
                .iter()
                .filter(|m| by_filter.iter().any(|f| f.entry == m.entry))
                .count();
            assert!(found >= 9, "{found} of 10");
            assert!(by_kinds.iter().all(|m| store.concept_of(m.entry).kind == Kind::Skill));
            let few = |_: &VectorEntry, concept: &VectorConcept| concept.id.ends_with('7');
            let exact = store
                .search_kinds(&query, 5, &[Kind::Skill, Kind::Skill], Some(&few))
                .unwrap();
            let expected: Vec<usize> = store
                .exact(
                    &query,
                    5,
                    Some(&|e: &VectorEntry, c: &VectorConcept| skills_only(e, c) && few(e, c)),
                )
                .iter()
                .map(|m| m.entry)
                .collect();
            assert_eq!(exact.iter().map(|m| m.entry).collect::<Vec<_>>(), expected);
            // Kinds that hold every entry: the walk of an unfiltered search, for k entries.
            let everything = store
                .search_kinds(&query, 10, &[Kind::Skill, Kind::Occupation], None)
                .unwrap();
            assert_eq!(everything, store.search(&query, 10, None).unwrap());
        }
    }

    #[test]
    fn a_store_that_disagrees_with_its_manifest_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let vectors = random_unit_vectors(10, 8, 1);
        VectorStore::write(dir.path(), &entries_for(10), &vectors, HnswParams::default()).unwrap();
        let error = VectorStore::open(dir.path(), 16, 10, HnswParams::default())
            .err()
            .unwrap();
        assert!(matches!(error, Error::IncompatibleIndex { .. }), "{error}");
    }
}
