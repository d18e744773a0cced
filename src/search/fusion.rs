//! Fusion of ranked lists from the text and vector retrievers (pure functions).
//!
//! - Reciprocal rank fusion (Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms
//!   Condorcet and individual rank learning methods", SIGIR 2009):
//!   `score(d) = Σ_i w_i / (k + rank_i(d))`, ranks from 1; Elasticsearch and OpenSearch use k = 60.
//! - Weighted blend of normalised scores (as Meilisearch's `semanticRatio`):
//!   `score(d) = α · v(d) + (1 − α) · t(d)`, where each list's scores are min–max normalised to
//!   [0, 1] over that list and a document absent from a list gets 0 from it.

use std::collections::HashMap;

/// How to fuse; the default is [`Fusion::Learned`] (measured against the others in the README).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Fusion {
    Rrf {
        k: f64,
        text_weight: f64,
        vector_weight: f64,
    },
    Weighted {
        vector_ratio: f64,
    },
    /// The learned scorer of [`super::ranker`] over both sides' evidence (the default).
    Learned,
}

impl Default for Fusion {
    /// The learned fusion: rank fusion and min–max blends ignore what a text match says (an
    /// exact label in the query's language) and what a vector tie says (nothing), measured in the
    /// README.
    fn default() -> Self {
        Fusion::Learned
    }
}

impl Fusion {
    /// Reciprocal rank fusion, k = 60, both lists weighing the same.
    pub const RRF: Fusion = Fusion::Rrf {
        k: 60.0,
        text_weight: 1.0,
        vector_weight: 1.0,
    };
}

/// A fused document with where it came from (ranks from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub id: String,
    pub score: f64,
    pub text_rank: Option<usize>,
    pub vector_rank: Option<usize>,
}

fn min_max(list: &[(String, f64)]) -> HashMap<&str, f64> {
    let low = list.iter().map(|(_, s)| *s).fold(f64::INFINITY, f64::min);
    let high = list.iter().map(|(_, s)| *s).fold(f64::NEG_INFINITY, f64::max);
    let span = high - low;
    list.iter()
        .map(|(id, s)| (id.as_str(), if span > 0.0 { (s - low) / span } else { 1.0 }))
        .collect()
}

/// Fuses two lists, each ordered best first, into one ordered best first (ties by id).
pub fn fuse(text: &[(String, f64)], vector: &[(String, f64)], fusion: Fusion) -> Vec<Fused> {
    fn entry<'a>(fused: &'a mut HashMap<String, Fused>, id: &str) -> &'a mut Fused {
        fused.entry(id.to_string()).or_insert_with(|| Fused {
            id: id.to_string(),
            score: 0.0,
            text_rank: None,
            vector_rank: None,
        })
    }
    let mut fused: HashMap<String, Fused> = HashMap::new();
    for (rank, (id, _)) in text.iter().enumerate() {
        entry(&mut fused, id).text_rank = Some(rank + 1);
    }
    for (rank, (id, _)) in vector.iter().enumerate() {
        entry(&mut fused, id).vector_rank = Some(rank + 1);
    }
    match fusion {
        Fusion::Rrf {
            k,
            text_weight,
            vector_weight,
        } => {
            for entry in fused.values_mut() {
                let part = |rank: Option<usize>, weight: f64| rank.map_or(0.0, |r| weight / (k + r as f64));
                entry.score = part(entry.text_rank, text_weight) + part(entry.vector_rank, vector_weight);
            }
        }
        Fusion::Learned => {
            // Needs both sides' evidence, not just their lists: see [`learned`]. Here, with the
            // lists alone, it falls back to RRF.
            return fuse(text, vector, Fusion::RRF);
        }
        Fusion::Weighted { vector_ratio } => {
            let (text_norm, vector_norm) = (min_max(text), min_max(vector));
            for entry in fused.values_mut() {
                let t = text_norm.get(entry.id.as_str()).copied().unwrap_or(0.0);
                let v = vector_norm.get(entry.id.as_str()).copied().unwrap_or(0.0);
                entry.score = vector_ratio * v + (1.0 - vector_ratio) * t;
            }
        }
    }
    let mut list: Vec<Fused> = fused.into_values().collect();
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    list
}

/// The learned fusion: candidates ordered by the ranker's score of their features (ties by id),
/// with their ranks in both lists.
pub fn learned(
    features: &[(String, [f64; super::ranker::FEATURES])],
    text: &[(String, f64)],
    vector: &[(String, f64)],
    ranker: &super::ranker::Ranker,
) -> Vec<Fused> {
    let rank_in = |list: &[(String, f64)]| -> HashMap<String, usize> {
        list.iter()
            .enumerate()
            .map(|(i, (id, _))| (id.clone(), i + 1))
            .collect()
    };
    let (text_ranks, vector_ranks) = (rank_in(text), rank_in(vector));
    let mut list: Vec<Fused> = features
        .iter()
        .map(|(id, x)| Fused {
            id: id.clone(),
            score: ranker.score(x),
            text_rank: text_ranks.get(id).copied(),
            vector_rank: vector_ranks.get(id).copied(),
        })
        .collect();
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    list
}

/// One list as it stands (text or vector mode), in the same shape as a fused list.
pub fn ranked(list: &[(String, f64)], is_text: bool) -> Vec<Fused> {
    list.iter()
        .enumerate()
        .map(|(position, (id, score))| Fused {
            id: id.clone(),
            score: *score,
            text_rank: is_text.then_some(position + 1),
            vector_rank: (!is_text).then_some(position + 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&str]) -> Vec<(String, f64)> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), 10.0 - i as f64))
            .collect()
    }

    #[test]
    fn rrf_matches_the_formula() {
        let fused = fuse(&list(&["a", "b"]), &list(&["b", "c"]), Fusion::RRF);
        assert_eq!(fused[0].id, "b");
        assert!((fused[0].score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-12);
        assert_eq!((fused[0].text_rank, fused[0].vector_rank), (Some(2), Some(1)));
        assert_eq!(fused.len(), 3);
    }

    #[test]
    fn weighted_blend_at_the_extremes_follows_one_side() {
        let text = list(&["a", "b", "c"]);
        let vector = list(&["c", "b", "a"]);
        let only_text = fuse(&text, &vector, Fusion::Weighted { vector_ratio: 0.0 });
        let only_vector = fuse(&text, &vector, Fusion::Weighted { vector_ratio: 1.0 });
        assert_eq!(only_text[0].id, "a");
        assert_eq!(only_vector[0].id, "c");
    }
}
