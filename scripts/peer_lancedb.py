# peer_lancedb.py -- occusearch and LanceDB side by side: the same corpus, the same queries, the
# same model, measured in one run on this machine.
#
#   usage: python scripts/peer_lancedb.py [--occusearch target/release/occusearch] [--models models]
#          [--data ../shared/data] [--melo ../shared/eval/melo-dev] [--queries 1000] [--seed 2024]
#          [--clients 8] [--work /tmp/occusearch-peer] [--json FILE]
#
# Needs: lancedb (PyPI; measured with 0.40.0), numpy, onnxruntime, tokenizers. A venv:
#   python3 -m venv /tmp/peer && /tmp/peer/bin/pip install lancedb onnxruntime==1.24.4 tokenizers numpy
#
# Corpus: the preferred labels of ESCO occupations and ISCO groups in en, de, fr, es, pl, sv, it, nl
# (esco/multilingual/occupation_labels.tsv.gz: 28,780 labels), one record per concept. occusearch
# indexes it as generic JSONL (`occusearch index --embed full`) and is asked over HTTP with a
# keep-alive connection per client (`GET /search?q=..&kind=occupation,isco-group&limit=100`);
# LanceDB holds one row per label (vector + FTS index, IVF-HNSW-SQ), queried in process with
# hybrid search and its default RRF reranker, 100 rows, folded to concepts.
# Model: the int8 multilingual-e5-small graph of scripts/models/setup.sh for both, texts folded to
# lower case with the `query: ` prefix as occusearch embeds them (embed::model_input), mean pooling,
# L2-normalised; LanceDB embeds each query in the request, as occusearch does.
# Queries: the titles of the monolingual MELO dev sets of 8 countries, a fixed-seed sample, judged
# by the rank of the gold ESCO concept (concept-level MRR and A@1). Every query is unseen by both
# systems: the latency pass and the throughput pass use disjoint halves (occusearch caches query
# vectors, LanceDB does not).
import argparse, collections, concurrent.futures as cf, gzip, http.client, json, os, random, shutil
import signal, socket, subprocess, sys, threading, time, urllib.parse

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models'))
from e5_onnx import embed  # noqa: E402  (beside the model scripts)

LANGS = ('en', 'de', 'fr', 'es', 'pl', 'sv', 'it', 'nl')
COUNTRIES = ('deu_q_de_c_de', 'esp_q_es_c_es', 'fra_q_fr_c_fr', 'ita_q_it_c_it', 'nld_q_nl_c_nl',
             'pol_q_pl_c_pl', 'swe_q_sv_c_sv', 'usa_q_en_c_en')


def corpus(data):
    """(uri, kind, lang, label) of every preferred label in LANGS, once each."""
    seen, rows = set(), []
    with gzip.open(f'{data}/esco/multilingual/occupation_labels.tsv.gz', 'rt', encoding='utf-8') as f:
        next(f)
        for line in f:
            uri, ctype, lang, ltype, label = line.rstrip('\n').split('\t')[:5]
            if ltype == 'preferred' and lang in LANGS and (uri, lang, label) not in seen:
                seen.add((uri, lang, label))
                rows.append((uri, 'occupation' if ctype == 'Occupation' else 'isco-group', lang, label))
    return rows


def queries(melo, n, seed):
    """A fixed-seed sample of (title, {gold uris}) from the monolingual dev sets."""
    out = []
    for country in COUNTRIES:
        d = os.path.join(melo, country)
        read = lambda name: [l.rstrip('\n').split('\t') for l in open(f'{d}/{name}', encoding='utf-8') if l.strip()]
        mapping = dict(read('concept_mapping.tsv'))
        gold = collections.defaultdict(set)
        for q, _, element, _ in read('annotations.tsv'):
            uri = mapping.get(element)
            if uri:
                gold[q].add(uri)
        out.extend((text, gold[q]) for q, text in read('queries.tsv') if gold[q])
    random.Random(seed).shuffle(out)
    return out[:n]


class Model:
    """The int8 e5-small graph, one session per thread that asks (single-threaded each)."""

    def __init__(self, folder):
        self.tok = Tokenizer.from_file(f'{folder}/tokenizer.json')
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.path, self.options = f'{folder}/model.onnx', options
        self.local = threading.local()

    def session(self):
        if not hasattr(self.local, 'session'):
            self.local.session = ort.InferenceSession(self.path, self.options, providers=['CPUExecutionProvider'])
        return self.local.session

    def embed(self, texts):
        return embed(self.session(), self.tok, texts)


def rank_of(uris, gold):
    seen = []
    for u in uris:
        if u not in seen:
            seen.append(u)
    return next((i + 1 for i, u in enumerate(seen) if u in gold), None)


FIRST_ERRORS = {}


def summary(name, latencies, ranks, rps, errors):
    ms = np.array(latencies) * 1000
    rr = [1 / r if r else 0 for r in ranks]
    return {'system': name, 'p50_ms': round(float(np.percentile(ms, 50)), 2),
            'p99_ms': round(float(np.percentile(ms, 99)), 2), 'req_per_s': round(rps, 1),
            'mrr': round(float(np.mean(rr)), 3), 'a1': round(float(np.mean([r == 1 for r in ranks])), 3),
            'errors': errors, 'first_error': FIRST_ERRORS.get(name)}


def measure(name, ask, latency_set, load_set, clients):
    """One client over latency_set (p50/p99, quality), then `clients` threads over load_set."""
    latencies, ranks, errors = [], [], 0
    # Warm up (model sessions, page cache, the connection) on titles outside the measured sets,
    # right before measuring: a keep-alive connection left idle meanwhile is closed by the server.
    for text in ('Krankenpfleger', 'welder', 'infirmière'):
        ask(text)
    for text, gold in latency_set:
        started = time.perf_counter()
        try:
            uris = ask(text)
        except Exception as e:
            FIRST_ERRORS.setdefault(name, f'{text!r}: {e!r}')
            errors, uris = errors + 1, []
        latencies.append(time.perf_counter() - started)
        ranks.append(rank_of(uris, gold))
    chunks = [load_set[i::clients] for i in range(clients)]

    def run(chunk):
        failed = 0
        for text, _ in chunk:
            try:
                ask(text)
            except Exception as e:
                FIRST_ERRORS.setdefault(name, f'{text!r}: {e!r}')
                failed += 1
        return failed

    started = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        errors += sum(pool.map(run, chunks))
    rps = len(load_set) / (time.perf_counter() - started)
    return summary(name, latencies, ranks, rps, errors)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--occusearch', default='target/release/occusearch')
    ap.add_argument('--models', default='models')
    ap.add_argument('--data', default='../shared/data')
    ap.add_argument('--melo', default='../shared/eval/melo-dev')
    ap.add_argument('--queries', type=int, default=1000)
    ap.add_argument('--seed', type=int, default=2024)
    ap.add_argument('--clients', type=int, default=8)
    ap.add_argument('--work', default='/tmp/occusearch-peer')
    ap.add_argument('--json')
    args = ap.parse_args()
    # LanceDB logs a deprecation warning per hybrid query to stderr (its scoring columns), which
    # would cost it time in the measurement: errors only.
    os.environ.setdefault("LANCEDB_LOG", "error")
    import lancedb
    from lancedb.index import FTS, IvfHnswSq

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    rows = corpus(args.data)
    asked = queries(args.melo, args.queries, args.seed)
    half = len(asked) // 2
    latency_set, load_set = asked[:half], asked[half:]
    print(f'{len(rows)} labels of {len({r[0] for r in rows})} concepts; {len(asked)} queries '
          f'({len(latency_set)} one client, {len(load_set)} with {args.clients} clients)', flush=True)

    # occusearch: generic JSONL, one record per concept, its preferred label per language.
    concepts = collections.OrderedDict()
    for uri, kind, lang, label in rows:
        record = concepts.setdefault(uri, {'id': uri, 'kind': kind, 'source': 'esco', 'labels': {}})
        record['labels'].setdefault(lang, {'preferred': label})
    corpus_file = os.path.join(args.work, 'corpus.jsonl')
    with open(corpus_file, 'w', encoding='utf-8') as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + '\n' for r in concepts.values())
    index_dir = os.path.join(args.work, 'index')
    started = time.time()
    subprocess.run([args.occusearch, 'index', '--data', corpus_file, '--index', index_dir, '--embed', 'full',
                    '--models', args.models], check=True, stdout=subprocess.DEVNULL)
    print(f'occusearch index built in {time.time() - started:.0f} s', flush=True)

    # LanceDB: one row per label.
    model = Model(os.path.join(args.models, 'me5s-int8'))
    started = time.time()
    vectors = model.embed([r[3] for r in rows])
    db = lancedb.connect(os.path.join(args.work, 'lance'))
    table = db.create_table('labels', data=[{'uri': r[0], 'text': r[3], 'vector': v.tolist()}
                                            for r, v in zip(rows, vectors)])
    table.create_index('text', config=FTS())
    table.create_index('vector', config=IvfHnswSq(distance_type='cosine'))
    print(f'LanceDB table built in {time.time() - started:.0f} s (embedding included)', flush=True)

    def ask_lance(text):
        vector = model.embed([text])[0]
        found = (table.search(query_type='hybrid').vector(vector).text(text).limit(100)
                 .select(['uri']).to_list())
        return [r['uri'] for r in found]

    port = free_port()
    server = subprocess.Popen([args.occusearch, 'serve', '--index', index_dir, '--models', args.models,
                               '--addr', f'127.0.0.1:{port}'], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(600):
            try:
                probe = http.client.HTTPConnection('127.0.0.1', port, timeout=1)
                probe.request('GET', '/health')
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        local = threading.local()

        def ask_occusearch(text):
            if not hasattr(local, 'conn'):
                local.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
            query = urllib.parse.urlencode({'q': text, 'kind': 'occupation,isco-group', 'limit': 100})
            try:
                local.conn.request('GET', f'/search?{query}')
                response = local.conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A keep-alive connection the server closed while idle: reconnect once, as
                # HTTP clients do (the time of it is counted).
                local.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
                local.conn.request('GET', f'/search?{query}')
                response = local.conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f'HTTP {response.status}')
            return [h['id'] for h in json.loads(body)['hits']]

        results = [measure('LanceDB (in-process Python, FTS + IVF-HNSW-SQ, RRF)', ask_lance, latency_set, load_set,
                           args.clients),
                   measure('occusearch (HTTP, learned fusion)', ask_occusearch, latency_set, load_set, args.clients)]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    lance, occu = results
    print(f'\n| system | p50 | p99 | req/s, {args.clients} clients | concept MRR / A@1 | errors |')
    print('|---|---:|---:|---:|---:|---:|')
    for r in results:
        print(f"| {r['system']} | {r['p50_ms']} ms | {r['p99_ms']} ms | {r['req_per_s']} | {r['mrr']} / {r['a1']} | "
              f"{r['errors']} |")
    for r in results:
        if r['first_error']:
            print(f"{r['system']}: first error {r['first_error']}")
    print(f"\noccusearch p50 is {lance['p50_ms'] / occu['p50_ms']:.2f}x faster, throughput "
          f"{occu['req_per_s'] / lance['req_per_s']:.2f}x LanceDB's; MRR {occu['mrr'] - lance['mrr']:+.3f}")
    if args.json:
        json.dump({'settings': vars(args), 'results': results}, open(args.json, 'w'), indent=2)


if __name__ == '__main__':
    main()
