#!/usr/bin/env python3
"""Cross-checks `occusearch eval` against pytrec_eval (the trec_eval wrapper).

usage: scripts/check_metrics.py DATASET_DIR [OCCUSEARCH_BINARY]
Runs `occusearch eval` on one MELO dataset folder with --run and --json, evaluates the written run
with pytrec_eval (recip_rank, map, success_1/5/10, recall_10; queries missing from the run count
as 0, as occusearch does), and fails unless every mean agrees to 1e-9.
Needs: pip install pytrec-eval-terrier
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytrec_eval

dataset = Path(sys.argv[1])
binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/occusearch"
with tempfile.TemporaryDirectory() as scratch:
    run_path = Path(scratch) / "run.trec"
    out = subprocess.run(
        [binary, "eval", "--corpus", dataset / "corpus_elements.tsv", "--queries", dataset / "queries.tsv",
         "--qrels", dataset / "annotations.tsv", "--query-lang", dataset.name.split("_q_")[1].split("_")[0],
         "--run", run_path, "--json"],
        check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)["mean"]
    qrels, run = {}, {}
    for line in (dataset / "annotations.tsv").read_text().splitlines():
        q, _, doc, grade = line.split()
        qrels.setdefault(q, {})[doc] = int(grade)
    for line in run_path.read_text().splitlines():
        q, _, doc, _, score, _ = line.split()
        run.setdefault(q, {})[doc] = float(score)

measures = {"recip_rank", "map", "success", "recall"}
evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
per_query = evaluator.evaluate(run)
judged = [q for q, docs in qrels.items() if any(g > 0 for g in docs.values())]
def mean(key):
    return sum(per_query.get(q, {}).get(key, 0.0) for q in judged) / len(judged)
theirs = {"mrr": mean("recip_rank"), "map": mean("map"), "success@1": mean("success_1"),
          "success@5": mean("success_5"), "success@10": mean("success_10"), "recall@10": mean("recall_10")}
bad = {k: (ours[k], v) for k, v in theirs.items() if abs(ours[k] - v) > 1e-9}
print(json.dumps({"occusearch": ours, "pytrec_eval": theirs}, indent=1))
if bad:
    sys.exit(f"MISMATCH: {bad}")
print(f"{dataset.name}: occusearch and pytrec_eval agree on {len(judged)} queries")
