//! The manifest: what an index generation holds and how it was built. It is written last, so a
//! generation without one is incomplete and never opened; an index whose format (or, later, whose
//! embedding model) differs from this build's refuses to open with a message.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::vectors::{EmbedScope, HnswParams};
use crate::error::{Error, Result};
use crate::ingest::{Counts, IngestReport};

/// Bumped whenever the on-disk layout or the meaning of what is stored changes incompatibly
/// (3: vectors are embedded from case-folded text, [`crate::embed::model_input`]).
pub const FORMAT_VERSION: u32 = 3;
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFile {
    pub path: String,
    pub reader: String,
    pub concepts: usize,
    pub relations: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextManifest {
    pub format_version: u32,
    pub documents: u64,
}

/// The embedding side (model id and dimensions must match the query embedder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorManifest {
    pub model_id: String,
    pub dimensions: usize,
    pub vectors: usize,
    pub concepts: usize,
    pub scope: EmbedScope,
    pub hnsw: HnswParams,
    /// Whether an HNSW graph was built (false: the set is small enough to scan exactly).
    pub graph: bool,
    /// Texts the model had to embed in this build (the rest came from the cache).
    pub embedded_now: usize,
    pub embed_seconds: f64,
}

impl VectorManifest {
    /// Refuses a query embedder other than the one the vectors were built with.
    pub fn check_model(&self, dir: &Path, model_id: &str, dimensions: usize) -> Result<()> {
        if self.model_id != model_id || self.dimensions != dimensions {
            return Err(Error::IncompatibleIndex {
                path: dir.to_path_buf(),
                reason: format!(
                    "its vectors were built with {} ({} dimensions) but the loaded model is {model_id} ({dimensions}); \
                     rebuild the index with this model, or load the model it was built with",
                    self.model_id, self.dimensions
                ),
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub built_by: String,
    /// Seconds since the Unix epoch.
    pub built_at: u64,
    pub build_seconds: f64,
    pub concepts: usize,
    pub counts: Counts,
    pub text: TextManifest,
    #[serde(default)]
    pub vectors: Option<VectorManifest>,
    /// The job-title space ([`crate::types::VectorSpace::Titles`]), when a model of its own
    /// embedded occupations and ISCO groups; `vectors` then holds every other kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_vectors: Option<VectorManifest>,
    pub sources: Vec<SourceFile>,
    pub skipped_records: usize,
    pub dangling_relations: usize,
}

impl Manifest {
    pub fn sources_from(report: &IngestReport) -> Vec<SourceFile> {
        report
            .files
            .iter()
            .map(|file| SourceFile {
                path: file.path.display().to_string(),
                reader: file.reader.to_string(),
                concepts: file.concepts,
                relations: file.relations,
                skipped: file.skipped,
            })
            .collect()
    }

    /// Writes the manifest through a temporary file and a rename, then syncs it.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json =
            serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(format!("manifest serialisation: {e}")))?;
        let temporary = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let path = dir.join(MANIFEST_FILE);
        std::fs::write(&temporary, json).map_err(|e| Error::io("cannot write", &temporary, e))?;
        std::fs::File::open(&temporary)
            .and_then(|file| file.sync_all())
            .map_err(|e| Error::io("cannot sync", &temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| Error::io("cannot rename into place", &path, e))
    }

    /// Reads and checks a generation's manifest.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::NoIndex {
            path: dir.to_path_buf(),
            reason: format!(
                "cannot read {}: {e} (an interrupted build leaves no manifest)",
                path.display()
            ),
        })?;
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::IncompatibleIndex {
            path: dir.to_path_buf(),
            reason: format!("unreadable manifest: {e}"),
        })?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(Error::IncompatibleIndex {
                path: dir.to_path_buf(),
                reason: format!(
                    "index format {} (built by {}), this build reads format {FORMAT_VERSION}",
                    manifest.format_version, manifest.built_by
                ),
            });
        }
        if manifest.text.format_version != super::text::TEXT_FORMAT_VERSION {
            return Err(Error::IncompatibleIndex {
                path: dir.to_path_buf(),
                reason: format!(
                    "text analysis version {}, this build uses {}",
                    manifest.text.format_version,
                    super::text::TEXT_FORMAT_VERSION
                ),
            });
        }
        Ok(manifest)
    }
}
