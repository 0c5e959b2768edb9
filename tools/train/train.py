#!/usr/bin/env python3
"""Train larimar-tiny on 2 CPU cores: resumable, seeded, logged.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).

Start a run (writes runs/<name>/: args.json, tokenizer/, data.json, log.jsonl, log.txt, checkpoint.pt):
  nohup nice -n 10 .venv/bin/python tools/train/train.py --run runs/<name> [options] \
      > runs/<name>.out 2>&1 &
Continue a stopped run exactly where its last checkpoint left it (same options, read from args.json):
  nohup nice -n 10 .venv/bin/python tools/train/train.py --run runs/<name> --resume \
      [--max-cpu-minutes M] > runs/<name>.out 2>&1 &
Every batch is a pure function of (seed, step): the data position is the step, so a resumed run sees the same
batches, number insertions, word-dropout masks and learning rates as an uninterrupted one (same thread count).
SIGTERM/SIGINT write a checkpoint before exiting; checkpoints are also written every --ckpt-minutes (atomically:
temporary file + rename).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import time
from pathlib import Path

# OpenBLAS (under numpy and Debian's torch) keeps its own pool, one thread per core, that spins on sched_yield
# between calls: on a machine shared with other work it starves the training thread (a step took 3x its CPU time).
# torch.set_num_threads (--threads) sets the parallelism; BLAS stays on the calling thread unless told otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import larimar_tiny as L  # noqa: E402
import segments as S  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--enc-layers", type=int, default=2)
    p.add_argument("--dec-layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--latent", type=int, default=256)
    p.add_argument("--latent-mode", default="kv+embedding", choices=["kv", "kv+embedding"])
    p.add_argument("--latent-slots", type=int, default=1,
                   help="decoder key/value positions the latent fills per layer (the tokens start after them)")
    p.add_argument("--pooling", default="mean", choices=["mean", "cls_tanh", "positions"])
    p.add_argument("--corpus", default="tiny", choices=["tiny", "debian"],
                   help="tiny: larimar-tiny's fortune sentences (+ --corpus-extra); debian: larimar-small's documents "
                        "of every prose source in debian_text.py, packed segments and items (segments.py)")
    p.add_argument("--pack-prob", type=float, default=0.5,
                   help="--corpus debian: share of segments packed from consecutive sentences of one document")
    p.add_argument("--dec-positions", type=int, default=0,
                   help="decoder positions (0: --max-tokens + 2, at least 42); room for a query prefix + answer")
    p.add_argument("--corpus-extra", default="none", choices=["none", "pydoc", "pydoc+man"],
                   help="pydoc: add English docstring sentences of the installed Python code to training; "
                        "pydoc+man: also sentences of the installed manual pages (sections 1 and 8)")
    p.add_argument("--scramble-prob", type=float, default=0.0,
                   help="share of segments replaced by shuffled words of two training sentences (larimar_tiny.scramble)")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from this checkpoint's weights (same architecture; fresh optimiser and schedule)")
    p.add_argument("--data-from", type=Path, default=None,
                   help="reuse this data.json (training pool and evaluation sets of an earlier run) instead of "
                        "building it from the installed packages; needs the tokenizer it was made with")
    p.add_argument("--tokenizer-from", type=Path, default=None,
                   help="reuse this tokenizer directory (vocab.json + merges.txt) instead of training one; "
                        "required with --init-from so that token ids keep their meaning")
    p.add_argument("--widen-pool", action="store_true",
                   help="with --data-from: keep its tokenizer and evaluation sets but rebuild the training pool from "
                        "the installed packages at this run's --max-tokens (the corpus split must be the same)")
    p.add_argument("--max-tokens", type=int, default=28, help="longest training segment (tokens, no BOS/EOS)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--total-steps", type=int, default=40000, help="cosine decay horizon (to 10%% of lr)")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--word-dropout", type=float, default=0.25, help="decoder inputs replaced by <|drop|>")
    p.add_argument("--curriculum-start", type=int, default=0, help="0 = off; else first max length (tokens)")
    p.add_argument("--curriculum-steps", type=int, default=3000, help="steps to grow to --max-tokens")
    p.add_argument("--number-prob", type=float, default=0.4, help="share of segments given a 2-5 digit number")
    p.add_argument("--kl", type=float, default=0.0, help="KL weight (0: deterministic latent = mean)")
    p.add_argument("--memory-weight", type=float, default=0.0,
                   help="weight of the reconstruction through an episode write+read (docs/design.md)")
    p.add_argument("--episode", type=int, default=16, help="segments per memory episode (N)")
    p.add_argument("--slots", type=int, default=32, help="memory slots K (M0 = identity rows)")
    p.add_argument("--memory-noise", type=float, default=0.1, help="observation noise sigma_xi of the write")
    p.add_argument("--max-steps", type=int, default=10 ** 9)
    p.add_argument("--max-cpu-minutes", type=float, default=1e9, help="stop (with checkpoint) at this CPU total")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=50, help="steps per progress line (mean loss, rate)")
    p.add_argument("--eval-size", type=int, default=200)
    p.add_argument("--ckpt-minutes", type=float, default=3.0)
    # An accelerator (docs/training.md, "On a GPU"): the same steps on another device; the batches stay the same
    # (made on the CPU, a pure function of (seed, step)), the float sums do not, so a run continues only on the
    # device it was started on.
    p.add_argument("--device", default="cpu", help="torch device of the model and the steps: cpu, cuda, cuda:1")
    p.add_argument("--amp", default="none", choices=["none", "bf16"], help="autocast the steps to bfloat16")
    p.add_argument("--workers", type=int, default=0, help="processes that make the next batches ahead (0: inline)")
    p.add_argument("--max-wall-minutes", type=float, default=1e9, help="stop (with checkpoint) at this wall total")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------ data
def copy_tokenizer(src: Path, run: Path):
    """An earlier run's tokenizer files into this run's folder, so the run needs nothing outside it to continue."""
    (run / "tokenizer").mkdir(parents=True, exist_ok=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(Path(src) / f, run / "tokenizer" / f)
    return L.load_tokenizer(run / "tokenizer")


def prepare_data(args, run: Path):
    """Tokenizer (trained on the training split only), the tokenised training pool and fixed eval sets."""
    if getattr(args, "corpus", "tiny") == "debian":
        if getattr(args, "data_from", None):  # an earlier run's pool and sets, with the tokenizer they were made by
            if not getattr(args, "tokenizer_from", None):
                raise SystemExit("--data-from needs --tokenizer-from (the tokenizer its pool was measured with)")
            copy_tokenizer(args.tokenizer_from, run)
            data = read_data(Path(args.data_from))
            (run / "data.json").write_text(json.dumps(data))
            return data
        import debian_text
        docs = debian_text.load_documents()
        tok = (copy_tokenizer(args.tokenizer_from, run) if getattr(args, "tokenizer_from", None) else
               L.train_tokenizer([x for d in docs["train"] for x in d], args.vocab, run / "tokenizer"))
        data = {**S.build_pool(tok, docs["train"], args.max_tokens),
                "eval": S.make_eval_sets(tok, docs["heldout"], args.max_tokens), "sources": docs["sources"],
                "n_train_sentences": sum(map(len, docs["train"])), "n_heldout_sentences": sum(map(len, docs["heldout"])),
                "words": S.dictionary_words(), "names": S.capitalised_words()}
        (run / "data.json").write_text(json.dumps(data))
        return data
    if getattr(args, "data_from", None):
        if not getattr(args, "tokenizer_from", None):
            raise SystemExit("--data-from needs --tokenizer-from (the tokenizer its pool was measured with)")
        tok = copy_tokenizer(args.tokenizer_from, run)
        if not getattr(args, "widen_pool", False):
            shutil.copyfile(args.data_from, run / "data.json")
            return json.loads((run / "data.json").read_text())
        old = json.loads(Path(args.data_from).read_text())
        corpus = L.load_corpus(getattr(args, "corpus_extra", "none"))
        got = (len(corpus["train"]), len(corpus["heldout"]))
        if got != (old["n_train_sentences"], old["n_heldout_sentences"]):
            raise SystemExit(f"--widen-pool: the installed corpus splits into {got} train/held-out sentences, "
                             f"{args.data_from} was made from {(old['n_train_sentences'], old['n_heldout_sentences'])}")
        train, sets = pool_of(tok, corpus["train"], args.max_tokens), old["eval"]
    else:
        corpus = L.load_corpus(getattr(args, "corpus_extra", "none"))
        if getattr(args, "tokenizer_from", None):
            tok = copy_tokenizer(args.tokenizer_from, run)
        else:
            tok = L.train_tokenizer(corpus["train"], args.vocab, run / "tokenizer")
        train, sets = pool_of(tok, corpus["train"], args.max_tokens), make_eval_sets(tok, corpus["heldout"])
    data = {"train": [s for s, _ in train], "train_len": [n for _, n in train], "eval": sets,
            "n_train_sentences": len(corpus["train"]), "n_heldout_sentences": len(corpus["heldout"])}
    (run / "data.json").write_text(json.dumps(data))
    return data


def pool_of(tok, sentences, max_tokens):
    """(sentence, token count) of the training sentences that leave room for an inserted number (up to 6 tokens)."""
    ids = L.encode_batch(tok, sentences)
    return [(s, len(i)) for s, i in zip(sentences, ids) if len(i) <= max_tokens - 6]


def make_eval_sets(tok, heldout, size=500, seed=12345):
    """Held-out evaluation sets, fixed by seed (independent of the training seed):
    seg: held-out segments through the same number pipeline (40% get a number), <= 24 tokens;
    num: held-out segments each carrying an inserted 3-5 digit number, <= 24 tokens;
    recall: held-out segments <= 24 tokens with their first 3 words as prompt;
    passkey: the passkey sentence with a 3-5 digit N, prompt 'The pass key is' (evaluation only)."""
    rng = random.Random(seed)
    order = heldout[:]
    rng.shuffle(order)
    seg, num, recall = [], [], []
    for s in order:
        if len(seg) < size:
            t = L.insert_number(s, rng)[0] if rng.random() < 0.4 else s
            if len(tok.encode(t).ids) <= 24:
                seg.append({"text": t})
        if len(num) < size:
            t, n = L.insert_number(s, rng, 3, 5)
            if len(tok.encode(t).ids) <= 24:
                num.append({"text": t, "number": n})
        if len(recall) < size and len(tok.encode(s).ids) <= 24 and len(s.split(" ")) > 4:
            w = s.split(" ")
            recall.append({"text": s, "prompt": " ".join(w[:3])})
    passkey = []
    for _ in range(size):
        n = L.random_number(rng, 3, 5)
        passkey.append({"text": L.PASSKEY_TEMPLATE.format(n=n), "prompt": "The pass key is", "number": n})
    return {"seg": seg, "num": num, "recall": recall, "passkey": passkey}


def make_batch(args, data, tok, step):
    """The batch of one step: a pure function of (seed, step)."""
    if getattr(args, "corpus", "tiny") == "debian":
        return batch_of(args, tok, S.make_segments(args, data, step, tok), step)
    rng = random.Random(args.seed * 1_000_003 + step)
    lens = data["train_len"]
    limit = args.max_tokens - 6
    if args.curriculum_start > 0:
        frac = min(1.0, step / max(1, args.curriculum_steps))
        limit = int(round(args.curriculum_start + frac * (args.max_tokens - args.curriculum_start))) - 6
        limit = max(limit, 4)
    eligible = data["_eligible"].get(limit)
    if eligible is None:
        eligible = [i for i, n in enumerate(lens) if n <= limit]
        if len(eligible) < 512:  # never train on a handful of sentences: the 512 shortest instead
            eligible = sorted(range(len(lens)), key=lambda i: (lens[i], i))[:512]
        data["_eligible"][limit] = eligible
    texts = []
    for _ in range(args.batch):
        s = data["train"][eligible[rng.randrange(len(eligible))]]
        if getattr(args, "scramble_prob", 0.0) > 0 and rng.random() < args.scramble_prob:
            s = L.scramble(data["train"], rng)
        if rng.random() < args.number_prob:
            s = L.insert_number(s, rng)[0]
        texts.append(s)
    return batch_of(args, tok, texts, step)


def batch_of(args, tok, texts, step):
    """Encoder and decoder tensors of one step's texts (cut at --max-tokens), word dropout drawn from (seed, step)."""
    toks = [t[:args.max_tokens] for t in L.encode_batch(tok, texts)]
    enc_ids, enc_mask = L.encoder_inputs(toks)
    dec_in, _ = L.pad_batch([[L.EOT] + t for t in toks])
    target, tmask = L.pad_batch([t + [L.EOT] for t in toks])
    target[tmask == 0] = -100
    if args.word_dropout > 0:
        g = torch.Generator().manual_seed(args.seed * 7_000_003 + step)
        drop = torch.rand(dec_in.shape, generator=g) < args.word_dropout
        drop[:, 0] = False
        dec_in = torch.where(drop, torch.full_like(dec_in, L.DROP), dec_in)
    return enc_ids, enc_mask, dec_in, target


def lr_at(args, step):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = min(1.0, (step - args.warmup) / max(1, args.total_steps - args.warmup))
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


# ------------------------------------------------------------------------------------------------ eval
def generate_texts(model, tok, items, with_prompt=True, max_new=36):
    """Greedy outputs (prompt included) for items {"text", "prompt"}, batched by prompt length."""
    toks = L.encode_batch(tok, [it["text"] for it in items])
    z, _ = model.encode(*L.encoder_inputs(toks))
    outs = [None] * len(items)
    prompts = [([L.EOT] + tok.encode(it["prompt"]).ids) if with_prompt else [L.EOT] for it in items]
    by_len = {}
    for i, p in enumerate(prompts):
        by_len.setdefault(len(p), []).append(i)
    for n, idx in by_len.items():
        gen = model.generate(z[idx], [prompts[i] for i in idx], max_new=max_new)
        for i, g in zip(idx, gen):
            outs[i] = prompts[i][1:] + g
    return [tok.decode(o) for o in outs]


@torch.no_grad()
def evaluate_debian(model, tok, sets, size, max_tokens):
    """larimar-small's held-out figures (segments.score): {set: fraction} and two samples of the long set."""
    model.eval()
    res = {}
    for name, items in sets.items():
        items = items[:size]
        outs = generate_texts(model, tok, items, True, max_tokens + 2)
        res[name] = float(np.mean([S.score(name, it, o) for it, o in zip(items, outs)]))
        if name in ("long", "sf"):
            res[name + "_samples"] = outs[:2]
    model.train()
    return res


@torch.no_grad()
def evaluate(model, tok, sets, size):
    """Greedy decoding, exact string match. Returns {metric: fraction}."""
    model.eval()
    res = {}

    def run(items, with_prompt):
        return generate_texts(model, tok, items, with_prompt)

    seg = sets["seg"][:size]
    res["seg_exact"] = float(np.mean([o == it["text"] for o, it in zip(run(seg, False), seg)]))
    num = sets["num"][:size]
    outs = run(num, False)
    res["num_exact"] = float(np.mean([o == it["text"] for o, it in zip(outs, num)]))
    res["num_digits"] = float(np.mean([it["number"] in o.split(" ") or it["number"] in
                                       [w.strip(".,!?;:") for w in o.split(" ")] for o, it in zip(outs, num)]))
    rec = sets["recall"][:size]
    res["recall_exact"] = float(np.mean([o == it["text"] for o, it in zip(run(rec, True), rec)]))
    pk = sets["passkey"][:size]
    outs = run(pk, True)
    res["passkey_exact"] = float(np.mean([o == it["text"] for o, it in zip(outs, pk)]))
    res["passkey_samples"] = outs[:2]
    # The recall pipeline's passkey criterion (pipeline::is_correct, first_number): the first run of digits after
    # the prompt equals N.
    res["passkey_number"] = float(np.mean([re.findall(r"\d+", o[len(it["prompt"]):])[:1] == [it["number"]]
                                           for o, it in zip(outs, pk)]))
    # The needle as the recall pipeline segments it (sentence split): "The pass key is N." is its own segment, so
    # the decoder, given that segment's latent and the prompt "The pass key is", must say " N." exactly.
    short = [{"text": f"The pass key is {it['number']}.", "prompt": "The pass key is"} for it in pk]
    outs = run(short, True)
    res["passkey_sentence_exact"] = float(np.mean([o == it["text"] for o, it in zip(outs, short)]))
    model.train()
    return res


# ------------------------------------------------------------------------------------------------ checkpoint
def load_checkpoint(path: Path):
    """A checkpoint.pt, on the CPU whatever device wrote it (its RNG states are Python objects, hence not
    weights_only)."""
    return torch.load(path, map_location="cpu", weights_only=False)


def load_weights(path: Path):
    """{"model": state dict (fp32), "step", "cpu_seconds"} from a checkpoint.pt / weights.pt, or from a kept run's
    weights.safetensors (+ weights.json beside it, keep_run.py)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        meta = json.loads(path.with_suffix(".json").read_text())
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        for k, same in meta.pop("tied", {}).items():
            state[k] = state[same]
        return {"model": state, **meta}
    return load_checkpoint(path)


def read_data(path: Path):
    """A data.json, or the data.json.xz a kept run stores."""
    if path.suffix == ".xz":
        import lzma
        return json.loads(lzma.decompress(path.read_bytes()))
    return json.loads(path.read_text())


_batch_source = None  # (args, data, tok) of the batch-making worker processes, set before they fork


def _worker_init():
    # Stopping is the trainer's: a forked worker would inherit its SIGTERM handler, and `pkill -f train.py` reaches
    # the workers too; they finish their batch and leave when the trainer shuts the pool down.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def _worker_batch(step):
    args, data, tok = _batch_source
    return make_batch(args, data, tok, step)


def batches(args, data, tok, first):
    """The batches of steps first, first+1, ... in order: made inline, or up to 2 per worker ahead by --workers
    processes (each batch depends on its step alone, so which process makes it does not matter)."""
    workers = getattr(args, "workers", 0)
    if workers <= 0:
        step = first
        while True:
            yield make_batch(args, data, tok, step)
            step += 1
    import collections
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    global _batch_source
    _batch_source = (args, data, tok)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init)
    ahead = collections.deque(pool.submit(_worker_batch, first + i) for i in range(2 * workers))
    nxt = first + len(ahead)
    try:
        while True:
            batch = ahead.popleft().result()
            ahead.append(pool.submit(_worker_batch, nxt))
            nxt += 1
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def save_checkpoint(run: Path, state):
    tmp = run / "checkpoint.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, run / "checkpoint.pt")


def log(run: Path, rec):
    with open(run / "log.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    line = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items())
    with open(run / "log.txt", "a") as f:
        f.write(line + "\n")
    print(line, flush=True)


def main(argv=None):
    cli = parse_args(argv)
    run = cli.run
    if cli.resume:
        saved = json.loads((run / "args.json").read_text())
        args = argparse.Namespace(**saved)
        # only the stopping limits, the batch workers and the schedule's horizon may change on resume; a new horizon
        # changes the learning rate of the steps still to come (logged as an event), nothing before it
        changed = {}
        for k in ("max_steps", "max_cpu_minutes", "max_wall_minutes", "workers", "log_every", "total_steps"):
            if f"--{k.replace('_', '-')}" in (argv or sys.argv):
                changed[k] = (getattr(args, k), getattr(cli, k))
                setattr(args, k, getattr(cli, k))
        if "total_steps" in changed:
            saved["total_steps"] = args.total_steps
            (run / "args.json").write_text(json.dumps(saved, indent=1))
        args.run, args.resume = run, True
    else:
        args = cli
        run.mkdir(parents=True, exist_ok=False)
        (run / "args.json").write_text(json.dumps({k: (str(v) if isinstance(v, Path) else v)
                                                   for k, v in vars(args).items()}, indent=1))
    torch.set_num_threads(args.threads)
    device = torch.device(getattr(args, "device", "cpu"))
    amp = getattr(args, "amp", "none") == "bf16"
    if not cli.resume:
        data = prepare_data(args, run)
    else:
        data = json.loads((run / "data.json").read_text())
    data["_eligible"] = {}
    tok = L.load_tokenizer(run / "tokenizer")
    vocab_size = tok.get_vocab_size()

    torch.manual_seed(args.seed)
    cfg = L.default_config(vocab_size, d=args.d_model, enc_layers=args.enc_layers, dec_layers=args.dec_layers,
                           heads=args.heads, latent=args.latent, mode=args.latent_mode, pooling=args.pooling,
                           max_tokens=max(args.max_tokens, 40), dec_positions=getattr(args, "dec_positions", 0),
                           slots=getattr(args, "latent_slots", 1))
    model = L.LarimarTiny(cfg).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98), eps=1e-8)
    step, cpu_prev, wall_prev = 0, 0.0, 0.0
    if cli.resume:
        ck = load_checkpoint(run / "checkpoint.pt")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["python_rng"])
        np.random.set_state(ck["numpy_rng"])
        step, cpu_prev, wall_prev = ck["step"], ck["cpu_seconds"], ck["wall_seconds"]
        log(run, {"event": "resume", "step": step, "cpu_min": cpu_prev / 60})
        if "total_steps" in changed:
            log(run, {"event": "schedule", "step": step, "total_steps_was": changed["total_steps"][0],
                      "total_steps": args.total_steps})
    else:
        if getattr(args, "init_from", None):
            init = load_weights(Path(args.init_from))
            model.load_state_dict(init["model"])
            log(run, {"event": "init", "from": str(args.init_from), "from_step": init["step"],
                      "from_cpu_min": init["cpu_seconds"] / 60})
        log(run, {"event": "start", "params": sum(p.numel() for p in model.parameters()),
                  "train_segments": len(data["train"]), "vocab": vocab_size, "device": str(device),
                  "amp": "bf16" if amp else "none"})
    n_layer_params = None  # noqa: F841

    M0 = torch.eye(args.slots, args.latent, device=device)  # memory prior for the episode term (identity rows)
    t_cpu0, t_wall0 = time.process_time(), time.time()
    cpu_now = lambda: cpu_prev + time.process_time() - t_cpu0  # noqa: E731
    wall_now = lambda: wall_prev + time.time() - t_wall0  # noqa: E731
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(flag=True))

    def state():
        return {"model": {k: v.cpu() for k, v in model.state_dict().items()}, "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                "python_rng": random.getstate(), "numpy_rng": np.random.get_state(), "step": step,
                "cpu_seconds": cpu_now(), "wall_seconds": wall_now(), "config": cfg}

    last_ckpt = time.time()
    loss_acc, n_acc, t_acc = 0.0, 0, time.time()
    model.train()
    source = batches(args, data, tok, step)
    while (step < args.max_steps and cpu_now() < args.max_cpu_minutes * 60
           and wall_now() < getattr(args, "max_wall_minutes", 1e9) * 60 and not stop["flag"]):
        torch.manual_seed(args.seed * 9_000_011 + step)
        for g in opt.param_groups:
            g["lr"] = lr_at(args, step)
        enc_ids, enc_mask, dec_in, target = (t.to(device, non_blocking=True) for t in next(source))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            mu, logvar = model.encode(enc_ids, enc_mask)
            if args.kl > 0:
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
            else:
                z, kl = mu, torch.zeros((), device=device)
            logits = model.decode_logits(z, dec_in)
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                                 ignore_index=-100)
            loss = ce + args.kl * kl
            if args.memory_weight > 0:
                with torch.autocast(device.type, enabled=False):  # the least-squares write in fp32 (pinv)
                    zr = torch.cat([L.memory_write_read(zz, M0, args.memory_noise)
                                    for zz in z.float().split(args.episode)])
                lm = model.decode_logits(zr, dec_in)
                cem = F.cross_entropy(lm.reshape(-1, lm.shape[-1]).float(), target.reshape(-1), ignore_index=-100)
                loss = loss + args.memory_weight * cem
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_acc += ce.item()
        n_acc += 1
        if step % getattr(args, "log_every", 50) == 0:
            dt = time.time() - t_acc
            log(run, {"step": step, "cpu_min": cpu_now() / 60, "wall_min": wall_now() / 60,
                      "loss": loss_acc / n_acc, "steps_per_s": n_acc / dt, "lr": lr_at(args, step - 1)})
            loss_acc, n_acc, t_acc = 0.0, 0, time.time()
        if step % args.eval_every == 0:
            r = (evaluate_debian(model, tok, data["eval"], args.eval_size, args.max_tokens)
                 if getattr(args, "corpus", "tiny") == "debian" else evaluate(model, tok, data["eval"], args.eval_size))
            log(run, {"step": step, "cpu_min": cpu_now() / 60, "eval": 1, **r})
            t_acc = time.time()
        if time.time() - last_ckpt > args.ckpt_minutes * 60:
            save_checkpoint(run, state())
            last_ckpt = time.time()
    source.close()
    save_checkpoint(run, state())
    log(run, {"event": "stop", "step": step, "cpu_min": cpu_now() / 60, "wall_min": wall_now() / 60,
              "reason": "signal" if stop["flag"] else "limit"})


if __name__ == "__main__":
    main()
