# bench_embed.py MODEL_DIR [BATCH ...] -- speed of one model graph on one thread, outside occusearch:
# one query at a time (300 occupation labels, p50 and mean) and texts/s over 4,096 distinct
# labels sorted by length in batches of each BATCH (default 16 64). Labels from
# ../shared/data/esco/multilingual/occupation_labels.tsv.gz, seeded; "query: " prefix as the engine.
# Needs numpy, onnxruntime, tokenizers (the setup venv's versions). Example:
#   python scripts/models/bench_embed.py models/me5s-esco-int8 16 32 64
import gzip, os, random, sys, time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

model = sys.argv[1]
batches = [int(b) for b in sys.argv[2:]] or [16, 64]
data = os.environ.get('OCCUSEARCH_DATA', os.path.join(os.path.dirname(__file__), '../../../shared/data'))
with gzip.open(f'{data}/esco/multilingual/occupation_labels.tsv.gz', 'rt') as f:
    next(f)
    labels = [line.split('\t')[4].lower() for line in f]
random.seed(1)
random.shuffle(labels)
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(f'{model}/model.onnx', options, providers=['CPUExecutionProvider'])
tokenizer = Tokenizer.from_file(f'{model}/tokenizer.json')
tokenizer.enable_truncation(512)
tokenizer.enable_padding(pad_id=1)


def feed(texts):
    encoded = tokenizer.encode_batch(texts)
    return {'input_ids': np.array([e.ids for e in encoded], dtype=np.int64),
            'attention_mask': np.array([e.attention_mask for e in encoded], dtype=np.int64)}


queries = [feed(['query: ' + t]) for t in labels[:300]]
for q in queries[:20]:
    session.run(None, q)
times = []
for q in queries:
    start = time.perf_counter()
    session.run(None, q)
    times.append(time.perf_counter() - start)
times.sort()
print(f'{model}: one query p50 {1e3 * times[len(times) // 2]:.2f} ms, mean {1e3 * sum(times) / len(times):.2f} ms')
texts = ['query: ' + t for t in sorted(set(labels[:4096]), key=len)]
for batch in batches:
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        session.run(None, feed(texts[i:i + batch]))
    print(f'{model}: batches of {batch}: {len(texts) / (time.perf_counter() - start):.0f} texts/s')
