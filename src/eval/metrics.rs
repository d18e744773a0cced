//! Retrieval metrics computed exactly as `trec_eval` 9.x does (and `pytrec_eval`, which wraps it):
//! the run is re-sorted by score descending, ties broken by document id descending
//! (`trec_eval`'s `comp_sim_docno`), only the top 100 of each query count, and a document is
//! relevant when its qrel grade is above 0.
//!
//! - `recip_rank` (MRR): 1 / rank of the first relevant document, 0 if none is retrieved.
//! - `map` (average precision): Σ over relevant retrieved documents of precision at their rank,
//!   divided by the number of relevant documents in the qrels.
//! - `success_k`: 1 if a relevant document is in the top k.
//! - `recall_10`: relevant documents in the top 10 / relevant documents in the qrels.
//!
//! Averaging: over every query of the qrels with at least one relevant document. A query that
//! the run does not answer counts as 0 (as `trec_eval -c`); plain `trec_eval` would skip it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

/// Documents kept per query, as the MELO paper evaluates.
pub const RUN_DEPTH: usize = 100;

/// query id → relevant document ids.
pub type Qrels = HashMap<String, HashSet<String>>;

/// One retrieved document with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub doc: String,
    pub score: f64,
}

/// Orders as trec_eval does: score descending, then document id descending; keeps the top 100.
pub fn trec_order(mut ranked: Vec<Scored>) -> Vec<Scored> {
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| b.doc.cmp(&a.doc)));
    ranked.truncate(RUN_DEPTH);
    ranked
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct QueryMetrics {
    pub map: f64,
    pub mrr: f64,
    #[serde(rename = "success@1")]
    pub success_1: f64,
    #[serde(rename = "success@5")]
    pub success_5: f64,
    #[serde(rename = "success@10")]
    pub success_10: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
}

impl QueryMetrics {
    fn add(&mut self, other: &QueryMetrics) {
        self.map += other.map;
        self.mrr += other.mrr;
        self.success_1 += other.success_1;
        self.success_5 += other.success_5;
        self.success_10 += other.success_10;
        self.recall_10 += other.recall_10;
    }

    fn scale(&mut self, factor: f64) {
        self.map *= factor;
        self.mrr *= factor;
        self.success_1 *= factor;
        self.success_5 *= factor;
        self.success_10 *= factor;
        self.recall_10 *= factor;
    }

    /// The mean of several (equal weight per entry).
    pub fn mean<'a>(all: impl IntoIterator<Item = &'a QueryMetrics>) -> QueryMetrics {
        let mut total = QueryMetrics::default();
        let mut count = 0usize;
        for metrics in all {
            total.add(metrics);
            count += 1;
        }
        if count > 0 {
            total.scale(1.0 / count as f64);
        }
        total
    }
}

/// Metrics of one query. `ranked` must already be in [`trec_order`].
pub fn query_metrics(ranked: &[Scored], relevant: &HashSet<String>) -> QueryMetrics {
    let mut metrics = QueryMetrics::default();
    if relevant.is_empty() {
        return metrics;
    }
    let mut found = 0usize;
    let mut precision_sum = 0.0;
    for (index, scored) in ranked.iter().take(RUN_DEPTH).enumerate() {
        if !relevant.contains(&scored.doc) {
            continue;
        }
        let rank = index + 1;
        found += 1;
        precision_sum += found as f64 / rank as f64;
        if found == 1 {
            metrics.mrr = 1.0 / rank as f64;
            metrics.success_1 = f64::from(u8::from(rank <= 1));
            metrics.success_5 = f64::from(u8::from(rank <= 5));
            metrics.success_10 = f64::from(u8::from(rank <= 10));
        }
        if rank <= 10 {
            metrics.recall_10 += 1.0;
        }
    }
    metrics.map = precision_sum / relevant.len() as f64;
    metrics.recall_10 /= relevant.len() as f64;
    metrics
}

/// Mean metrics over every query of `qrels` that has a relevant document; per-query values too.
pub fn evaluate(run: &BTreeMap<String, Vec<Scored>>, qrels: &Qrels) -> (QueryMetrics, BTreeMap<String, QueryMetrics>) {
    let mut per_query = BTreeMap::new();
    for (query, relevant) in qrels.iter().filter(|(_, relevant)| !relevant.is_empty()) {
        let ranked = run.get(query).map(Vec::as_slice).unwrap_or_default();
        per_query.insert(query.clone(), query_metrics(ranked, relevant));
    }
    (QueryMetrics::mean(per_query.values()), per_query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(items: &[(&str, f64)]) -> Vec<Scored> {
        items
            .iter()
            .map(|(doc, score)| Scored {
                doc: doc.to_string(),
                score: *score,
            })
            .collect()
    }

    fn relevant(docs: &[&str]) -> HashSet<String> {
        docs.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn hand_computed_query() {
        // relevant at ranks 2 and 4 of 3 relevant: AP = (1/2 + 2/4) / 3 = 1/3; RR = 1/2.
        let ranked = trec_order(scored(&[("a", 4.0), ("b", 3.0), ("c", 2.0), ("d", 1.0)]));
        let metrics = query_metrics(&ranked, &relevant(&["b", "d", "z"]));
        assert!((metrics.map - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(metrics.mrr, 0.5);
        assert_eq!(
            (metrics.success_1, metrics.success_5, metrics.success_10),
            (0.0, 1.0, 1.0)
        );
        assert!((metrics.recall_10 - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ties_break_on_descending_doc_id_like_trec_eval() {
        let ranked = trec_order(scored(&[("a", 1.0), ("c", 1.0), ("b", 1.0)]));
        let order: Vec<&str> = ranked.iter().map(|s| s.doc.as_str()).collect();
        assert_eq!(order, vec!["c", "b", "a"]);
    }

    #[test]
    fn only_the_top_100_count_and_missing_queries_score_zero() {
        let mut long: Vec<Scored> = (0..150)
            .map(|i| Scored {
                doc: format!("d{i:03}"),
                score: -(i as f64),
            })
            .collect();
        long = trec_order(long);
        assert_eq!(long.len(), 100);
        assert_eq!(query_metrics(&long, &relevant(&["d120"])).mrr, 0.0);
        let mut run = BTreeMap::new();
        run.insert("q1".to_string(), trec_order(scored(&[("x", 1.0)])));
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), relevant(&["x"]));
        qrels.insert("q2".into(), relevant(&["y"]));
        let (mean, _) = evaluate(&run, &qrels);
        assert_eq!(mean.mrr, 0.5);
    }
}
