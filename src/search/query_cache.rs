//! A bounded in-memory cache of query embeddings, shared by every request of a searcher.
//!
//! Embedding the query is most of a hybrid query's cost (the model runs per query; the index
//! lookups take about a millisecond), and searches repeat: popular job titles, autocomplete
//! selections, a user paging through results. Eviction is generational, as in a two-segment
//! "segmented LRU" (Karedla, Love & Wherry, "Caching strategies to improve disk system
//! performance", IEEE Computer 1994) cut down to its bones: inserts go to the young segment; when it
//! holds `capacity / 2` entries it becomes the old one and the previous old one is dropped; a hit in
//! the old segment moves back to the young one. Memory stays below `capacity` vectors, every
//! operation is O(1), and an entry used since the last rotation survives the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Query text to its unit-length vector.
pub struct QueryCache {
    capacity: usize,
    segments: Mutex<Segments>,
}

#[derive(Default)]
struct Segments {
    young: HashMap<String, Arc<Vec<f32>>>,
    old: HashMap<String, Arc<Vec<f32>>>,
}

impl QueryCache {
    /// A cache for up to `capacity` vectors; 0 turns caching off.
    pub fn new(capacity: usize) -> QueryCache {
        QueryCache {
            capacity,
            segments: Mutex::new(Segments::default()),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn get(&self, query: &str) -> Option<Arc<Vec<f32>>> {
        if self.capacity == 0 {
            return None;
        }
        // A poisoned lock only means another request panicked mid-insert; the maps stay valid.
        let mut segments = self.segments.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(vector) = segments.young.get(query) {
            return Some(vector.clone());
        }
        let vector = segments.old.remove(query)?;
        Self::insert_young(&mut segments, self.capacity, query.to_string(), vector.clone());
        Some(vector)
    }

    pub fn insert(&self, query: &str, vector: Arc<Vec<f32>>) {
        if self.capacity == 0 {
            return;
        }
        let mut segments = self.segments.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Self::insert_young(&mut segments, self.capacity, query.to_string(), vector);
    }

    pub fn len(&self) -> usize {
        let segments = self.segments.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        segments.young.len() + segments.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert_young(segments: &mut Segments, capacity: usize, query: String, vector: Arc<Vec<f32>>) {
        if segments.young.len() >= (capacity / 2).max(1) && !segments.young.contains_key(&query) {
            segments.old = std::mem::take(&mut segments.young);
        }
        segments.old.remove(&query);
        segments.young.insert(query, vector);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(value: f32) -> Arc<Vec<f32>> {
        Arc::new(vec![value])
    }

    #[test]
    fn stays_within_capacity_and_keeps_recently_used_entries() {
        let cache = QueryCache::new(4);
        for i in 0..100 {
            cache.insert(&format!("q{i}"), vector(i as f32));
            assert!(cache.len() <= 4, "{} entries", cache.len());
        }
        assert_eq!(cache.get("q99").as_deref(), Some(&vec![99.0]));
        assert!(cache.get("q0").is_none());
        // q98 is read (moved to the young segment), then two inserts rotate the segments twice:
        // it survives the first rotation because it was used after it.
        cache.insert("a", vector(-1.0));
        assert!(cache.get("q98").is_some());
        cache.insert("b", vector(-2.0));
        assert!(cache.get("q98").is_some(), "a recently read entry was evicted");
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = QueryCache::new(0);
        cache.insert("q", vector(1.0));
        assert!(cache.get("q").is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn reinserting_a_key_does_not_duplicate_it() {
        let cache = QueryCache::new(10);
        cache.insert("q", vector(1.0));
        cache.insert("q", vector(2.0));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("q").as_deref(), Some(&vec![2.0]));
    }
}
