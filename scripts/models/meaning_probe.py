# meaning_probe.py MODEL_DIR "skill, skill, ..." [N] -- which ESCO occupations a list of skills is
# nearest to by meaning, against each occupation's English preferred label (as the matching's
# meaning side compares them) and against its English description as an E5 passage. Reads
# ../shared/data (or $OCCUSEARCH_DATA) esco/v1.1.1/en/occupations_en.csv; texts lower-cased and
# prefixed as the engine does, batches of 16 sorted by length, mean pooling. Needs numpy,
# onnxruntime, tokenizers (any venv; /tmp-style: pip install numpy onnxruntime tokenizers).
import csv, os, sys

import numpy as np

from ort_probe import session


def embed(graph, tokenizer, texts, batch=16):
    inputs = {i.name for i in graph.get_inputs()}
    out = np.zeros((len(texts), 384), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        encoded = tokenizer.encode_batch([texts[i] for i in rows])
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {'input_ids': ids, 'attention_mask': mask}
        if 'token_type_ids' in inputs:
            feeds['token_type_ids'] = np.zeros_like(ids)
        hidden = graph.run(None, feeds)[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1)[:, None]
        out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def main():
    model, skills = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    data = os.environ.get('OCCUSEARCH_DATA', os.path.join(os.path.dirname(__file__), '../../../shared/data'))
    with open(f'{data}/esco/v1.1.1/en/occupations_en.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    graph, tokenizer = session(model)
    query = embed(graph, tokenizer, ['query: ' + skills.lower()])[0]
    for name, prefix, field in [('label', 'query: ', 'preferredLabel'), ('description', 'passage: ', 'description')]:
        vectors = embed(graph, tokenizer, [prefix + r[field].lower() for r in rows])
        scores = vectors @ query
        best = np.argsort(-scores)[:n]
        print(f'by {name}:', ', '.join(f'{rows[i]["preferredLabel"]} {scores[i]:.4f}' for i in best))


if __name__ == '__main__':
    main()
