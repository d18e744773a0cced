# compare_variants.py MELO_DIR DATASETS MODEL.onnx [MODEL.onnx ...]
# Vector-only MRR on MELO datasets for one or more ONNX graphs of multilingual-e5-small (the int8
# and the q4 float graphs of scripts/models/setup.sh), so that the cost of quantization is
# measured on the same queries: every query and corpus surface form embedded with "query: ",
# exact cosine ranking, surface forms folded to their concept (C000123), reciprocal rank of the
# first gold concept. Needs numpy, onnxruntime, tokenizers (the setup venv has them).
#   python compare_variants.py ../shared/eval/melo-dev deu_q_de_c_de,ita_q_it_c_it models/me5s-int8/model.onnx models/me5s-q4/model.onnx
# --fold (anywhere): texts lower-cased first, as occusearch embeds them (embed::model_input);
# without it, as written (how the adapted model's case losses were found).
import os, sys, time
import numpy as np, onnxruntime as ort
from tokenizers import Tokenizer

from e5_onnx import embed

FOLD = '--fold' in sys.argv
args = [a for a in sys.argv[1:] if a != '--fold']
melo, datasets, models = args[0], args[1].split(','), args[2:]
tok = Tokenizer.from_file(os.path.join(os.path.dirname(models[0]), 'tokenizer.json'))

def embed_texts(sess, texts):
    return embed(sess, tok, texts, fold=FOLD)

def rows(path):
    return [l.rstrip('\n').split('\t') for l in open(path, encoding='utf-8') if l.strip()]

for model in models:
    sess = ort.InferenceSession(model, providers=['CPUExecutionProvider'])
    scores = []
    for ds in datasets:
        d = os.path.join(melo, ds); started = time.time()
        corpus, queries = rows(d + '/corpus_elements.tsv'), rows(d + '/queries.tsv')
        gold = {}
        for q, _, e, _ in rows(d + '/annotations.tsv'):
            gold.setdefault(q, set()).add(e.split('_')[0])
        C, Q = embed_texts(sess, [t for _, t in corpus]), embed_texts(sess, [t for _, t in queries])
        concepts = [e.split('_')[0] for e, _ in corpus]
        reciprocal = []
        for qi, (qid, _) in enumerate(queries):
            seen = []
            for o in np.argsort(-(C @ Q[qi]))[:300]:
                if concepts[o] not in seen:
                    seen.append(concepts[o])
            rank = next((k + 1 for k, c in enumerate(seen) if c in gold.get(qid, ())), None)
            reciprocal.append(1 / rank if rank else 0)
        scores.append(np.mean(reciprocal))
        print(f'{model} {ds} MRR {scores[-1]:.4f} ({time.time() - started:.0f} s)', flush=True)
    print(f'{model} mean MRR {np.mean(scores):.4f}', flush=True)
