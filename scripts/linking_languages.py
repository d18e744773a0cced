#!/usr/bin/env python3
"""How many wrong first hits of the product benchmark are labels of another language.

Reads the `--json` report of `occusearch eval --linking` and ESCO's multilingual occupation label
table. Without `lang`, a hit is shown in the language of the label that matched it, so a first
hit whose shown label exists only in other languages than the query's (taken from the dataset
name, `swe_q_sv_c_sv` -> sv) is a cross-language match: a Swedish title answered by a Hungarian
or Danish label. Standard library only.

    target/release/occusearch eval --linking ../shared/eval/melo-dev --json > linking.json
    python3 scripts/linking_languages.py linking.json ../shared/data/esco/multilingual/occupation_labels.tsv.gz
"""

import csv
import gzip
import json
import sys
import unicodedata
from collections import defaultdict


def has_diacritics(text: str) -> bool:
    decomposed = unicodedata.normalize("NFD", text)
    return any(unicodedata.category(c) == "Mn" for c in decomposed)


def main(report_path: str, labels_path: str, examples: int = 3) -> None:
    languages = defaultdict(set)
    with gzip.open(labels_path, "rt", encoding="utf-8") as table:
        rows = csv.DictReader(table, delimiter="\t")
        for row in rows:
            languages[row["label"].lower()].add(row["lang"])
    with open(report_path, encoding="utf-8") as file:
        report = json.load(file)
    print("| dataset | queries | first hit wrong | labelled in other languages only | of those, query with diacritics |")
    print("|---|---:|---:|---:|---:|")
    shown = []
    for dataset, outcomes in sorted(report["outcomes"].items()):
        lang = dataset.split("_q_")[1].split("_")[0]
        wrong = [o for o in outcomes if o["rank"] != 1]
        # A label missing from the table (a profile, a material) is not counted as foreign.
        foreign = [o for o in wrong if o["top"] and lang not in languages.get(o["top"].lower(), {lang})]
        accented = [o for o in foreign if has_diacritics(o["query"])]
        print(f"| {dataset} | {len(outcomes)} | {len(wrong)} | {len(foreign)} | {len(accented)} |")
        for o in foreign[:examples]:
            other = ", ".join(sorted(languages[o["top"].lower()]))
            shown.append(f"{dataset}: {o['query']!r} -> {o['top']!r} [{other}], gold at rank {o['rank']}")
    print()
    print("\n".join(shown))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
