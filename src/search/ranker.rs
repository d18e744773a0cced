//! Learned fusion: a linear scorer over what each retriever says about a candidate concept,
//! trained so that the right concept comes first.
//!
//! Model: conditional logit (McFadden, "Conditional logit analysis of qualitative choice
//! behavior", 1974), the top-one form of ListNet (Cao et al., ICML 2007): for a query with
//! candidates `c` and features `x_c`, `P(c) = exp(w·z_c) / Σ_d exp(w·z_d)` with `z` the features
//! standardised by the training means and deviations. Training maximises `Σ_q log P(gold_q)` −
//! `λ/2 ‖w‖²` by full-batch gradient ascent with Adam (Kingma & Ba, ICLR 2015). The gradient of
//! one query is `Σ_c (y_c − P(c)) z_c`.
//!
//! Training data never comes from an evaluation set: `occusearch train-ranker` holds alternative
//! labels of the index's own concepts out of a temporary index and asks for them (see
//! [`crate::eval::training`]). The weights live in `ranker.json` beside this file, compiled in.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The features, in order. Absent evidence takes the value a candidate just beyond the list
/// would have had (no presence flags): a weak match on one side can then never score below no
/// match at all, which a linear model with presence flags learned from occupation titles and
/// then applied to training materials found by their descriptions.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "text_score_rel",
    "text_reciprocal_rank",
    "query_words_matched",
    "vector_similarity",
    "vector_gap_to_best",
    "vector_reciprocal_rank",
    "vector_labels_matched",
    "isco_group",
    "label_trigrams",
];
pub const FEATURES: usize = 9;

/// What the text side knows of a candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextEvidence {
    /// Rank from 1 in the text list.
    pub rank: usize,
    /// BM25 score over the best score of the query.
    pub relative_score: f64,
    /// Share of the query words found in the best-matching label.
    pub words_matched: f64,
}

/// What the vector side knows of a candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorSide {
    /// Rank from 1 in the vector list.
    pub rank: usize,
    pub similarity: f64,
    /// Vectors of this concept among the nearest entries fetched (labels in several languages).
    pub labels: usize,
}

/// The query-level facts the features are relative to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorListFacts {
    pub best: f64,
    /// Lowest similarity in the list: what an absent candidate had at most.
    pub floor: f64,
    pub length: usize,
}

/// Character trigrams of a folded text, words padded with one space each side (as MELO's
/// character tf-idf baseline reads labels): `"lastbil"` → ` la`, `las`, …, `il `.
pub fn trigrams(normalised: &str) -> Vec<[char; 3]> {
    let mut grams: Vec<[char; 3]> = normalised
        .split(' ')
        .filter(|w| !w.is_empty())
        .flat_map(crate::analyze::word_trigrams)
        .collect();
    grams.sort_unstable();
    grams
}

/// Dice coefficient of two sorted trigram lists (multisets): `2|A∩B| / (|A|+|B|)`. Compounds
/// that share a stem (`lastbilschaufför`, `lastbilsförare`) score high where words do not match.
pub fn trigram_dice(a: &[[char; 3]], b: &[[char; 3]]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

/// One candidate's feature vector; `trigram_similarity` is the best [`trigram_dice`] of the
/// query with a label the candidate was found by.
pub fn features(
    text: Option<&TextEvidence>,
    vector: Option<&VectorSide>,
    list: Option<&VectorListFacts>,
    text_length: usize,
    isco_group: bool,
    trigram_similarity: f64,
) -> [f64; FEATURES] {
    let beyond = |length: usize| 1.0 / (length + 1) as f64;
    let (vector_similarity, vector_gap, vector_rr, vector_labels) = match (vector, list) {
        (Some(v), Some(l)) => (
            v.similarity,
            v.similarity - l.best,
            1.0 / v.rank as f64,
            (v.labels as f64).ln_1p(),
        ),
        (None, Some(l)) => (l.floor, l.floor - l.best, beyond(l.length), 0.0),
        // No vector side at all (text mode or no model): neutral values.
        _ => (0.0, 0.0, 0.0, 0.0),
    };
    [
        text.map_or(0.0, |t| t.relative_score),
        text.map_or(beyond(text_length), |t| 1.0 / t.rank as f64),
        text.map_or(0.0, |t| t.words_matched),
        vector_similarity,
        vector_gap,
        vector_rr,
        vector_labels,
        f64::from(u8::from(isco_group)),
        trigram_similarity,
    ]
}

/// A trained linear scorer with its standardisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranker {
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub weights: Vec<f64>,
    /// How it was trained (command, data, queries, held-out log-likelihood): for the README.
    #[serde(default)]
    pub trained: String,
}

impl Ranker {
    /// The weights compiled into this build (`src/search/ranker.json`).
    pub fn builtin() -> &'static Ranker {
        static BUILTIN: OnceLock<Ranker> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Ranker::from_json(include_str!("ranker.json")).unwrap_or_else(|e| panic!("src/search/ranker.json: {e}"))
        })
    }

    pub fn from_json(text: &str) -> Result<Ranker> {
        let ranker: Ranker = serde_json::from_str(text).map_err(|e| Error::Config(format!("ranker weights: {e}")))?;
        let names: Vec<&str> = ranker.features.iter().map(String::as_str).collect();
        if names != FEATURE_NAMES
            || ranker.mean.len() != FEATURES
            || ranker.scale.len() != FEATURES
            || ranker.weights.len() != FEATURES
        {
            return Err(Error::Config(format!(
                "ranker weights are for features {names:?}, this build computes {FEATURE_NAMES:?}: retrain (occusearch train-ranker)"
            )));
        }
        Ok(ranker)
    }

    pub fn score(&self, x: &[f64; FEATURES]) -> f64 {
        (0..FEATURES)
            .map(|i| self.weights[i] * (x[i] - self.mean[i]) / self.scale[i])
            .sum()
    }

    /// Fits the conditional logit on `queries`: each a list of candidates' features and the
    /// index of the right one. Queries whose answer was not retrieved teach nothing and are
    /// left out by the caller.
    pub fn fit(queries: &[(Vec<[f64; FEATURES]>, usize)], l2: f64, iterations: usize) -> Ranker {
        let rows: Vec<&[f64; FEATURES]> = queries.iter().flat_map(|(c, _)| c.iter()).collect();
        let n = rows.len().max(1) as f64;
        let mut mean = [0.0; FEATURES];
        let mut scale = [0.0; FEATURES];
        for row in &rows {
            for i in 0..FEATURES {
                mean[i] += row[i] / n;
            }
        }
        for row in &rows {
            for i in 0..FEATURES {
                scale[i] += (row[i] - mean[i]).powi(2) / n;
            }
        }
        let scale: Vec<f64> = scale.iter().map(|v| v.sqrt().max(1e-6)).collect();
        let standardised: Vec<(Vec<[f64; FEATURES]>, usize)> = queries
            .iter()
            .map(|(candidates, gold)| {
                let z = candidates
                    .iter()
                    .map(|x| std::array::from_fn(|i| (x[i] - mean[i]) / scale[i]))
                    .collect();
                (z, *gold)
            })
            .collect();
        let mut w = [0.0f64; FEATURES];
        let (mut m, mut v) = ([0.0f64; FEATURES], [0.0f64; FEATURES]);
        let (rate, beta1, beta2, eps) = (0.05, 0.9, 0.999, 1e-8);
        let q = standardised.len().max(1) as f64;
        for step in 1..=iterations {
            let mut gradient = [0.0f64; FEATURES];
            for (z, gold) in &standardised {
                let scores: Vec<f64> = z.iter().map(|x| dot(&w, x)).collect();
                let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let exp: Vec<f64> = scores.iter().map(|s| (s - top).exp()).collect();
                let total: f64 = exp.iter().sum();
                for (c, x) in z.iter().enumerate() {
                    let residual = f64::from(u8::from(c == *gold)) - exp[c] / total;
                    for i in 0..FEATURES {
                        gradient[i] += residual * x[i] / q;
                    }
                }
            }
            for i in 0..FEATURES {
                let g = gradient[i] - l2 * w[i];
                m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                let m_hat = m[i] / (1.0 - beta1.powi(step as i32));
                let v_hat = v[i] / (1.0 - beta2.powi(step as i32));
                w[i] += rate * m_hat / (v_hat.sqrt() + eps);
            }
        }
        Ranker {
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            mean: mean.to_vec(),
            scale,
            weights: w.to_vec(),
            trained: String::new(),
        }
    }

    /// Mean log-probability of the right candidate (the training objective, without the penalty).
    pub fn log_likelihood(&self, queries: &[(Vec<[f64; FEATURES]>, usize)]) -> f64 {
        let total: f64 = queries
            .iter()
            .map(|(candidates, gold)| {
                let scores: Vec<f64> = candidates.iter().map(|x| self.score(x)).collect();
                let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let log_sum = scores.iter().map(|s| (s - top).exp()).sum::<f64>().ln() + top;
                scores[*gold] - log_sum
            })
            .sum();
        total / queries.len().max(1) as f64
    }
}

fn dot(a: &[f64; FEATURES], b: &[f64; FEATURES]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_weights_load_and_name_this_builds_features() {
        let ranker = Ranker::builtin();
        assert_eq!(ranker.features, FEATURE_NAMES);
        assert!(ranker.scale.iter().all(|s| *s > 0.0));
    }

    #[test]
    fn trigram_dice_rewards_shared_stems() {
        let dice = |a: &str, b: &str| trigram_dice(&trigrams(a), &trigrams(b));
        assert_eq!(dice("nurse", "nurse"), 1.0);
        assert_eq!(dice("", "nurse"), 0.0);
        let compound = dice("lastbilschauffor", "lastbilsforare");
        assert!(compound > 0.4, "{compound}");
        assert!(compound > dice("lastbilschauffor", "lokalisator") + 0.3);
    }

    #[test]
    fn weights_for_other_features_are_refused() {
        let mut ranker = Ranker::builtin().clone();
        ranker.features[0] = "something_else".into();
        let text = serde_json::to_string(&ranker).unwrap();
        assert!(Ranker::from_json(&text).unwrap_err().to_string().contains("retrain"));
    }

    /// Synthetic queries where the right candidate is the one with the highest feature 1 and
    /// feature 6 is noise: the fit must learn to prefer feature 1 and rank the answer first.
    #[test]
    fn fitting_learns_which_feature_tells_the_answer() {
        let mut state = 1u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let queries: Vec<(Vec<[f64; FEATURES]>, usize)> = (0..200)
            .map(|_| {
                let candidates: Vec<[f64; FEATURES]> = (0..10)
                    .map(|_| {
                        let mut x = [0.0; FEATURES];
                        x[1] = noise();
                        x[6] = noise();
                        x
                    })
                    .collect();
                let gold = (0..10)
                    .max_by(|a, b| candidates[*a][1].total_cmp(&candidates[*b][1]))
                    .unwrap();
                (candidates, gold)
            })
            .collect();
        let ranker = Ranker::fit(&queries, 1e-4, 300);
        assert!(ranker.weights[1] > 1.0, "{:?}", ranker.weights);
        assert!(
            ranker.weights[1] > 5.0 * ranker.weights[6].abs(),
            "{:?}",
            ranker.weights
        );
        let first = queries
            .iter()
            .filter(|(candidates, gold)| {
                let best = (0..candidates.len())
                    .max_by(|a, b| ranker.score(&candidates[*a]).total_cmp(&ranker.score(&candidates[*b])))
                    .unwrap();
                best == *gold
            })
            .count();
        assert!(first >= 190, "{first} of 200 first");
        assert!(ranker.log_likelihood(&queries) > -0.5);
    }
}
