# calibrate.py REFERENCE_DIR MODEL_DIR DATA OUT.json -- maps MODEL's cosine similarities onto the
# scale of REFERENCE (the base int8 model, on which occusearch's similarity thresholds were set).
#
#   python scripts/models/calibrate.py models/me5s-int8 models/me5s-esco-int8 ../shared/data \
#       scripts/models/esco-lora/calibration.json
#
# Why: contrastive fine-tuning at temperature 0.05 spreads the adapted model's similarities (two
# unrelated skill labels: median cosine 0.80 under the base model, 0.18 adapted), so every
# absolute threshold (a free text resolves to a skill at 0.90, a material covers a skill at 0.87,
# /similar's 0.8) would mean something else. The fix is quantile matching (histogram
# specification; the same idea as quantile normalisation, Bolstad et al., Bioinformatics 2003):
# one fixed, seeded set of text pairs from ../shared/data is scored by both models, and the
# q-quantile of MODEL's similarities is mapped to the q-quantile of REFERENCE's, for q in steps
# of 0.5 %:  calibrated(x) = interpolate(x; knots (Q_model(q), Q_reference(q))). The map is
# monotone, so it never changes an order among texts of one kind; only thresholds see it.
#
# Two maps, because E5 scores a label against a label ("query: " both sides) on another scale
# than a label against a description ("passage: "): `label` for label pairs, `passage` for label
# -> description pairs. Each pair set mixes two thirds random pairs (different concepts) and one
# third pairs of one concept (two labels of an occupation or skill, in one or two languages; a
# label and its concept's description), so both the unrelated bulk and the related tail, where
# the thresholds sit, have knots.
#
# Reads ../shared/data only (no evaluation file). numpy, onnxruntime and tokenizers (the setup
# venv has them). About a minute on 2 cores.
import csv, gzip, hashlib, json, os, random, sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from e5_onnx import embed

SEED = 17
CONCEPTS = 1500          # concepts per source whose labels form same-concept pairs
RANDOM_PER_POSITIVE = 2  # random pairs per same-concept pair
QUANTILES = np.linspace(0.0, 1.0, 201)


def occupation_labels(data):
    """[(uri, [labels in every language])], occupations and ISCO groups."""
    out = []
    with gzip.open(f'{data}/esco/multilingual/occupations_multilingual.jsonl.gz', 'rt', encoding='utf-8') as f:
        for line in f:
            c = json.loads(line)
            labels = []
            for lang, ls in sorted(c['labels'].items()):
                if ls.get('preferred') and not ls.get('preferredIsEnglishFallback'):
                    labels.append(ls['preferred'])
                labels.extend(ls.get('alternative', []))
            labels = sorted(set(labels))
            if len(labels) >= 2:
                out.append((c['conceptUri'], labels))
    return out


def esco_rows(data, prefix):
    """Rows of every `<prefix>_<lang>.csv` under esco/ (the newest version of each language last)."""
    for root, _, files in sorted(os.walk(f'{data}/esco')):
        for name in sorted(files):
            if name.startswith(prefix + '_') and name.endswith('.csv'):
                with open(os.path.join(root, name), encoding='utf-8', newline='') as f:
                    yield from csv.DictReader(f)


def skill_labels_and_descriptions(data):
    labels, descriptions = {}, {}
    for row in esco_rows(data, 'skills'):
        uri = row['conceptUri']
        for text in [row.get('preferredLabel') or ''] + (row.get('altLabels') or '').replace(' | ', '\n').split('\n'):
            if text.strip():
                labels.setdefault(uri, set()).add(text.strip())
        if (row.get('description') or '').strip():
            descriptions.setdefault(uri, set()).add(row['description'].strip())
    for row in esco_rows(data, 'occupations'):
        if (row.get('description') or '').strip():
            descriptions.setdefault(row['conceptUri'], set()).add(row['description'].strip())
    return ({u: sorted(v) for u, v in labels.items() if len(v) >= 2},
            {u: sorted(v) for u, v in descriptions.items()})


def pairs_of(concepts, rng):
    """Same-concept pairs (one per concept) and twice as many random pairs across concepts."""
    chosen = rng.sample(concepts, min(CONCEPTS, len(concepts)))
    positive = [tuple(rng.sample(labels, 2)) for _, labels in chosen]
    negative = []
    while len(negative) < RANDOM_PER_POSITIVE * len(positive):
        (ua, la), (ub, lb) = rng.sample(chosen, 2)
        negative.append((rng.choice(la), rng.choice(lb)))
    return positive + negative


class Model:
    def __init__(self, folder):
        self.tok = Tokenizer.from_file(f'{folder}/tokenizer.json')
        self.tok.enable_truncation(512)
        options = ort.SessionOptions()
        self.session = ort.InferenceSession(f'{folder}/model.onnx', options, providers=['CPUExecutionProvider'])

    def embed(self, texts, prefix):
        """Unit-length vectors of lower-cased texts, as occusearch embeds them."""
        return embed(self.session, self.tok, texts, prefix)

    def similarities(self, pairs, right_prefix):
        left = self.embed([a for a, _ in pairs], 'query: ')
        right = self.embed([b for _, b in pairs], right_prefix)
        return (left * right).sum(1)


def knots(model_sims, reference_sims):
    """(model quantile, reference quantile) pairs, strictly increasing in x."""
    xs = np.quantile(model_sims, QUANTILES)
    ys = np.quantile(reference_sims, QUANTILES)
    out = []
    for x, y in zip(xs.tolist(), ys.tolist()):
        if not out or x > out[-1][0] + 1e-6:
            out.append([round(x, 5), round(y, 5)])
    return out


def main():
    reference_dir, model_dir, data, out_path = sys.argv[1:5]
    rng = random.Random(SEED)
    occupations = occupation_labels(data)
    skills, descriptions = skill_labels_and_descriptions(data)
    label_pairs = pairs_of(occupations, rng) + pairs_of(sorted(skills.items()), rng)
    # A label against a description: of its own concept, or of another one.
    described = sorted((u, labels) for u, labels in list(skills.items()) + occupations if u in descriptions)
    chosen = rng.sample(described, min(CONCEPTS, len(described)))
    passage_pairs = [(rng.choice(labels), rng.choice(descriptions[u])) for u, labels in chosen]
    while len(passage_pairs) < (1 + RANDOM_PER_POSITIVE) * len(chosen):
        (_, la), (ub, _) = rng.sample(chosen, 2)
        passage_pairs.append((rng.choice(la), rng.choice(descriptions[ub])))

    report = {}
    for name, pairs, prefix in (('label', label_pairs, 'query: '), ('passage', passage_pairs, 'passage: ')):
        sims = {}
        for which, folder in (('reference', reference_dir), ('model', model_dir)):
            sims[which] = Model(folder).similarities(pairs, prefix)
        report[name] = {'pairs': len(pairs), 'knots': knots(sims['model'], sims['reference'])}
        print(f'{name}: {len(pairs)} pairs; median {np.median(sims["model"]):.3f} -> {np.median(sims["reference"]):.3f}, '
              f'99th percentile {np.quantile(sims["model"], .99):.3f} -> {np.quantile(sims["reference"], .99):.3f}',
              flush=True)
    adapter = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'esco-lora', 'adapter.sha256')).read().strip()
    calibration = {
        'command': 'python scripts/models/calibrate.py ' + ' '.join(sys.argv[1:]),
        'reference_model': os.path.basename(os.path.normpath(reference_dir)),
        'model': os.path.basename(os.path.normpath(model_dir)),
        'adapter_sha256': adapter,
        'seed': SEED,
        **report,
    }
    with open(out_path, 'w') as f:
        json.dump(calibration, f, indent=1)
    print('wrote', out_path, hashlib.sha256(open(out_path, 'rb').read()).hexdigest()[:12])


if __name__ == '__main__':
    main()
