//! The on-disk embedding cache: an append-only file of (model id, prefix, text) → vector records,
//! loaded into memory on open. Keys hold the text itself (no hash, so no collisions). A record cut
//! short by a killed process is dropped on the next open and the file truncated to the last whole
//! record, so the cache never serves a partial vector.
//!
//! Record layout, little-endian: `u32 key length, key bytes, u32 dimensions, f32 × dimensions`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::TextKind;
use crate::error::{Error, Result};

/// Longest key or vector accepted when reading, to reject garbage instead of allocating it.
const MAX_KEY_BYTES: u32 = 1 << 20;
const MAX_DIMENSIONS: u32 = 1 << 14;

pub struct EmbeddingCache {
    path: PathBuf,
    vectors: RwLock<HashMap<String, Vec<f32>>>,
    file: std::sync::Mutex<File>,
}

fn key(model_id: &str, kind: TextKind, text: &str) -> String {
    format!("{model_id}\u{1f}{}\u{1f}{text}", kind.prefix())
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Parses whole records; returns them and the length of the valid prefix.
fn parse(bytes: &[u8]) -> (HashMap<String, Vec<f32>>, usize) {
    let mut vectors = HashMap::new();
    let mut at = 0;
    while let Some(key_length) = read_u32(bytes, at).filter(|n| *n <= MAX_KEY_BYTES) {
        let key_end = at + 4 + key_length as usize;
        let Some(key) = bytes.get(at + 4..key_end).and_then(|k| std::str::from_utf8(k).ok()) else {
            break;
        };
        let Some(dimensions) = read_u32(bytes, key_end).filter(|n| *n <= MAX_DIMENSIONS) else {
            break;
        };
        let vector_start = key_end + 4;
        let vector_end = vector_start + 4 * dimensions as usize;
        let Some(raw) = bytes.get(vector_start..vector_end) else {
            break;
        };
        let vector = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        vectors.insert(key.to_string(), vector);
        at = vector_end;
    }
    (vectors, at)
}

impl EmbeddingCache {
    /// Opens (or creates) the cache file at `path`.
    pub fn open(path: &Path) -> Result<EmbeddingCache> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("cannot create directory", parent, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| Error::io("cannot open embedding cache", path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read embedding cache", path, e))?;
        let (vectors, valid) = parse(&bytes);
        if valid < bytes.len() {
            tracing::warn!(path = %path.display(), dropped = bytes.len() - valid, "embedding cache ended in a partial record; truncating");
            file.set_len(valid as u64)
                .map_err(|e| Error::io("cannot truncate embedding cache", path, e))?;
        }
        Ok(EmbeddingCache {
            path: path.to_path_buf(),
            vectors: RwLock::new(vectors),
            file: std::sync::Mutex::new(file),
        })
    }

    pub fn len(&self) -> usize {
        self.vectors.read().map_or(0, |v| v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, model_id: &str, kind: TextKind, text: &str) -> bool {
        self.vectors
            .read()
            .is_ok_and(|v| v.contains_key(&key(model_id, kind, text)))
    }

    pub fn get(&self, model_id: &str, kind: TextKind, text: &str) -> Option<Vec<f32>> {
        self.vectors.read().ok()?.get(&key(model_id, kind, text)).cloned()
    }

    /// Appends vectors to the file (flushed before returning) and to memory.
    pub fn insert_many(&self, model_id: &str, kind: TextKind, texts: &[&str], vectors: &[Vec<f32>]) -> Result<()> {
        if texts.len() != vectors.len() {
            return Err(Error::Internal(format!(
                "{} texts but {} vectors",
                texts.len(),
                vectors.len()
            )));
        }
        let mut encoded = Vec::new();
        for (text, vector) in texts.iter().zip(vectors) {
            let key = key(model_id, kind, text);
            encoded.extend_from_slice(&(key.len() as u32).to_le_bytes());
            encoded.extend_from_slice(key.as_bytes());
            encoded.extend_from_slice(&(vector.len() as u32).to_le_bytes());
            for value in vector {
                encoded.extend_from_slice(&value.to_le_bytes());
            }
        }
        {
            let file = self
                .file
                .lock()
                .map_err(|_| Error::Internal("embedding cache lock poisoned".into()))?;
            let mut writer = BufWriter::new(&*file);
            writer
                .write_all(&encoded)
                .and_then(|()| writer.flush())
                .map_err(|e| Error::io("cannot append to embedding cache", &self.path, e))?;
        }
        let mut memory = self
            .vectors
            .write()
            .map_err(|_| Error::Internal("embedding cache lock poisoned".into()))?;
        for (text, vector) in texts.iter().zip(vectors) {
            memory.insert(key(model_id, kind, text), vector.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_trailing_record_is_dropped_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.bin");
        {
            let cache = EmbeddingCache::open(&path).unwrap();
            cache
                .insert_many("m", TextKind::Query, &["a", "b"], &[vec![1.0, 0.0], vec![0.0, 1.0]])
                .unwrap();
        }
        let whole = std::fs::metadata(&path).unwrap().len();
        // A write killed halfway: half of a third record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[9, 0, 0, 0, b'm', 0x1f]).unwrap();
        drop(file);
        let cache = EmbeddingCache::open(&path).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("m", TextKind::Query, "b"), Some(vec![0.0, 1.0]));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        assert!(cache.get("other-model", TextKind::Query, "b").is_none());
    }
}
