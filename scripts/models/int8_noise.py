# int8_noise.py INT8_DIR FLOAT_DIR -- how much an int8 graph's vectors move: 512 occupation labels
# (seeded, sorted by length as the engine batches them), each embedded alone and in batches of
# 64, against each other and against the float graph's vectors. Dynamic quantization scales each
# batch's activations by that batch's range, so a text's int8 vector depends on its neighbours.
# Needs numpy, onnxruntime, tokenizers (ort_probe.py, beside it). Example:
#   python scripts/models/int8_noise.py models/me5s-esco-int8 models/me5s-esco
import sys

import numpy as np

from ort_probe import occupation_labels, session

int8, float_ = sys.argv[1], sys.argv[2]
labels = sorted(occupation_labels()[:512], key=len)




def embed(model, texts):
    graph, tokenizer = model
    encoded = tokenizer.encode_batch(['query: ' + t for t in texts])
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    feed = {'input_ids': ids, 'attention_mask': mask}
    if any(i.name == 'token_type_ids' for i in graph.get_inputs()):
        feed['token_type_ids'] = np.zeros_like(ids)
    out = graph.run(None, feed)[0]
    if out.ndim == 3:  # token vectors: mean over the real tokens, as the engine pools
        out = (out * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


quantized, reference = session(int8), session(float_)
floats = np.concatenate([embed(reference, [t]) for t in labels])
alone = np.concatenate([embed(quantized, [t]) for t in labels])
batched = np.concatenate([embed(quantized, labels[i:i + 64]) for i in range(0, len(labels), 64)])
for name, a, b in [('int8 alone vs int8 in batches of 64', alone, batched),
                   ('int8 alone vs float', alone, floats),
                   ('int8 in batches of 64 vs float', batched, floats)]:
    cosine = (a * b).sum(1)
    print(f'{int8}: {name}: cosine mean {cosine.mean():.4f}, min {cosine.min():.4f}')
