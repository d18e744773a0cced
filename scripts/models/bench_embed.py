# bench_embed.py MODEL_DIR [BATCH ...] -- speed of one model graph on one thread, outside occusearch:
# one query at a time (300 occupation labels, p50 and mean) and texts/s over 4,096 distinct
# labels sorted by length in batches of each BATCH (default 16 64). Labels from
# ../shared/data/esco/multilingual/occupation_labels.tsv.gz, seeded; "query: " prefix as the engine.
# Needs numpy, onnxruntime, tokenizers (the setup venv's versions). Example:
#   python scripts/models/bench_embed.py models/me5s-esco-int8 16 32 64
import sys
import time

import numpy as np

from ort_probe import occupation_labels, session as open_session

model = sys.argv[1]
batches = [int(b) for b in sys.argv[2:]] or [16, 64]
labels = occupation_labels()
session, tokenizer = open_session(model)




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
