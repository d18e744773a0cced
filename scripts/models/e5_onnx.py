# e5_onnx.py -- multilingual-e5-small as occusearch feeds it, for the Python scripts beside the
# engine (calibrate.py, compare_variants.py, ../peer_lancedb.py): the E5 prefix, texts lower-cased
# (embed::model_input; fold=False keeps them as written), batches of texts of similar length, mean
# pooling over the attention mask, unit length. numpy, onnxruntime and tokenizers.
import numpy as np


def embed(session, tokenizer, texts, prefix='query: ', fold=True, batch=64):
    """One unit-length vector per text, in order; `session` an onnxruntime InferenceSession of a
    graph made by setup.sh, `tokenizer` its tokenizers.Tokenizer."""
    ids = [e.ids for e in tokenizer.encode_batch([prefix + (t.lower() if fold else t) for t in texts])]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = None
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        width = max(len(ids[i]) for i in idx)
        # Padded with the tokenizer's <pad> id (1), as fastembed pads: the int8 graph quantizes
        # activations per batch, so even masked positions move the numbers a little.
        a = np.ones((len(idx), width), np.int64)
        m = np.zeros((len(idx), width), np.int64)
        for r, i in enumerate(idx):
            a[r, :len(ids[i])] = ids[i]
            m[r, :len(ids[i])] = 1
        h = session.run(None, {'input_ids': a, 'attention_mask': m})[0]
        v = (h * m[..., None]).sum(1) / m.sum(1, keepdims=True)
        if out is None:
            out = np.zeros((len(ids), v.shape[1]), np.float32)
        out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out if out is not None else np.zeros((0, 384), np.float32)
