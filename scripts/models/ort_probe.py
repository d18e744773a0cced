# ort_probe.py -- shared by the measurement scripts beside it (bench_embed.py, int8_noise.py): the
# seeded ESCO occupation labels they embed and a one-thread ONNX Runtime session with its
# tokenizer set up as the engine's (truncation 512, padding id 1). Needs numpy, onnxruntime,
# tokenizers.
import gzip, os, random

import onnxruntime as ort
from tokenizers import Tokenizer


def occupation_labels():
    """Every label of ../shared/data's occupation table (or $OCCUSEARCH_DATA's), lower-cased, in
    a fixed shuffled order (seed 1)."""
    data = os.environ.get('OCCUSEARCH_DATA', os.path.join(os.path.dirname(__file__), '../../../shared/data'))
    with gzip.open(f'{data}/esco/multilingual/occupation_labels.tsv.gz', 'rt') as f:
        next(f)
        labels = [line.split('\t')[4].lower() for line in f]
    random.seed(1)
    random.shuffle(labels)
    return labels


def session(model):
    """A single-threaded CPU session of MODEL/model.onnx and its tokenizer."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    graph = ort.InferenceSession(f'{model}/model.onnx', options, providers=['CPUExecutionProvider'])
    tokenizer = Tokenizer.from_file(f'{model}/tokenizer.json')
    tokenizer.enable_truncation(512)
    tokenizer.enable_padding(pad_id=1)
    return graph, tokenizer
