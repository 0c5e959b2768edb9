"""larimar-small's training segments and held-out evaluation sets (train.py --corpus debian).

A training segment is what the recall pipeline writes: one sentence, or consecutive sentences of one document
packed up to a token budget, sometimes carrying an inserted item the model must copy exactly (a number of 1-12
digits, a uuid, a hex string, a date, a hyphenated word pair, a product-style code, a name). Every segment of a step
is a pure function of (seed, step). Evaluation sets are drawn once, with their own seed, from held-out documents
(debian_text.heldout); the needle-shaped sets use templates that never occur in training.
"""
from __future__ import annotations

import random
import re
import string

import larimar_tiny as L

WORDS_FILE = "/usr/share/dict/words"  # wamerican


def dictionary_words():
    """Lower-case ASCII words of 3-9 letters from the system dictionary, sorted (wamerican)."""
    with open(WORDS_FILE, encoding="utf-8", errors="replace") as f:
        return sorted({w.strip() for w in f if re.fullmatch(r"[a-z]{3,9}", w.strip())})


def capitalised_words():
    with open(WORDS_FILE, encoding="utf-8", errors="replace") as f:
        return sorted({w.strip() for w in f if re.fullmatch(r"[A-Z][a-z]{2,9}", w.strip())})


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def random_item(rng: random.Random, words, names):
    """One item to copy exactly, and its kind."""
    kind = rng.choice(["number", "number", "number", "uuid", "hex", "date", "pair", "code", "name"])
    if kind == "number":
        return L.random_number(rng, 1, 12), kind
    if kind == "uuid":
        h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", kind
    if kind == "hex":
        return "0x" * rng.randint(0, 1) + "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(4, 16))), kind
    if kind == "date":
        y, m, d = rng.randint(1700, 2099), rng.randint(1, 12), rng.randint(1, 28)
        return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{MONTHS[m - 1]} {d}, {y}", f"{d} {MONTHS[m - 1]} {y}"]), kind
    if kind == "pair":
        return f"{rng.choice(words)}-{rng.choice(words)}", kind
    if kind == "code":
        a = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(1, 4)))
        b = "".join(rng.choice(string.digits + string.ascii_uppercase) for _ in range(rng.randint(2, 8)))
        return f"{a}-{b}", kind
    return f"{rng.choice(names)} {rng.choice(names)}", kind


def insert_item(sentence: str, item: str, rng: random.Random):
    """The item at a random word boundary (never before the first word, the final punctuation kept last)."""
    words = sentence.split(" ")
    k = rng.randint(1, len(words))
    if k == len(words) and words[-1] and words[-1][-1] in ".!?":
        words[-1], last = words[-1][:-1], words[-1][-1]
        words.append(item + last)
    else:
        words.insert(k, item)
    return " ".join(words)


def build_pool(tok, docs, max_tokens):
    """Training documents as flat lists: sentences, their token counts and the index of each document's first
    sentence; sentences longer than max_tokens are dropped (the segmenter cuts them before they reach a model)."""
    flat, lens, starts = [], [], []
    for d in docs:
        ids = L.encode_batch(tok, d)
        kept = [(s, len(i)) for s, i in zip(d, ids) if len(i) <= max_tokens]
        if not kept:
            continue
        starts.append(len(flat))
        flat += [s for s, _ in kept]
        lens += [n for _, n in kept]
    return {"train": flat, "train_len": lens, "doc_start": starts}


def _doc_end(starts, n_total, i):
    """End (exclusive) of the document holding sentence i (starts is sorted)."""
    import bisect
    j = bisect.bisect_right(starts, i)
    return starts[j] if j < len(starts) else n_total


def make_segments(args, data, step, tok):
    """The texts of one step's batch: all drawn for one length bucket, so a batch pads little."""
    rng = random.Random(args.seed * 1_000_003 + step)
    top = args.max_tokens
    lo = rng.choice(range(4, top, 8))  # bucket [lo, lo + 8)
    hi = min(top + 1, lo + 8)
    lens, flat, starts = data["train_len"], data["train"], data["doc_start"]
    texts = []
    for _ in range(args.batch):
        if rng.random() < args.scramble_prob:  # decided per segment, so the bucket does not change the share
            texts.append(L.scramble(flat, rng, 4, 30))
            continue
        for tries in range(50):  # a start whose segment falls in the bucket (else the last one drawn)
            i = rng.randrange(len(flat))
            n, j, end = lens[i], i + 1, _doc_end(starts, len(flat), i)
            if rng.random() < args.pack_prob:  # consecutive sentences of one document up to the bucket's top
                while j < end and n + lens[j] < hi:
                    n += lens[j]
                    j += 1
            if lo <= n < hi:
                break
        text = " ".join(flat[i:j])
        if rng.random() < args.number_prob:  # an item to copy, where it fits
            item, _ = random_item(rng, data["words"], data["names"])
            with_item = insert_item(text, item, rng)
            if len(tok.encode(with_item).ids) <= top:
                text = with_item
        texts.append(text)
    return texts


# ----------------------------------------------------------------------------------------------------- eval
SF_NEEDLE = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
SF_PROMPT = "The best thing to do in San Francisco is"
RULER_NUMBER = "One of the special magic numbers for {key} is: {value}."
RULER_UUID = "One of the special magic uuids for {key} is: {value}."


def make_eval_sets(tok, heldout_docs, max_tokens, size=500, seed=12345):
    """Held-out sets, fixed by seed: short (8-25 words) and long (26-40 words) sentences with their first three
    words as prompt; sentences carrying a 3-12-digit number; RULER-form needles (7-digit values, uuids) with the
    text up to the value as prompt; the passkey sentence. Every text fits max_tokens."""
    rng = random.Random(seed)
    sents = [s for d in heldout_docs for s in d]
    rng.shuffle(sents)
    words, fits = dictionary_words(), (lambda t: len(tok.encode(t).ids) <= max_tokens)
    short, long_, num = [], [], []
    for s in sents:
        w = s.split(" ")
        if 8 <= len(w) <= 25 and len(short) < size and fits(s):
            short.append({"text": s, "prompt": " ".join(w[:3])})
        elif 26 <= len(w) <= 40 and len(long_) < size and fits(s):
            long_.append({"text": s, "prompt": " ".join(w[:3])})
        if 8 <= len(w) <= 30 and len(num) < size:
            n = L.random_number(rng, 3, 12)
            t = insert_item(s, n, rng)
            prompt = " ".join(t.split(" ")[:3])
            if fits(t) and n not in prompt:
                num.append({"text": t, "prompt": prompt, "number": n})
    ruler_num, ruler_uuid, passkey = [], [], []
    for _ in range(size):
        key = f"{rng.choice(words)}-{rng.choice(words)}"
        v = str(rng.randint(10 ** 6, 10 ** 7 - 1))
        t = RULER_NUMBER.format(key=key, value=v)
        ruler_num.append({"text": t, "prompt": t[:t.index(" is:") + 4], "value": v})
        key = f"{rng.choice(words)}-{rng.choice(words)}"
        h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        v = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        t = RULER_UUID.format(key=key, value=v)
        ruler_uuid.append({"text": t, "prompt": t[:t.index(" is:") + 4], "value": v})
        n = L.random_number(rng, 3, 7)
        passkey.append({"text": L.PASSKEY_TEMPLATE.format(n=n), "prompt": "The pass key is", "value": n})
    return {"short": short, "long": long_, "num": num, "ruler_number": ruler_num, "ruler_uuid": ruler_uuid,
            "passkey": passkey, "sf": [{"text": SF_NEEDLE, "prompt": SF_PROMPT}]}


def score(name, item, out):
    """1.0 when the output is right for the set: exact text, the number/value present as generated."""
    if name in ("short", "long", "sf"):
        return float(out == item["text"])
    if name == "num":
        return float(item["number"] in re.findall(r"\d+", out[len(item["prompt"]):]))
    # needle values: the value exactly, right after the prompt
    return float(out[len(item["prompt"]):].lstrip().startswith(item["value"]))


WORD_BUCKETS = ((8, 12), (13, 16), (17, 20), (21, 25), (26, 30), (31, 35), (36, 40))


def heldout_items(heldout_docs, size=500, seed=4242):
    """The model-independent held-out items that larimar-model-eval scores through the C++ runtime (no token
    filter, so that one file serves every model): up to `size` sentences in each word-count bucket of WORD_BUCKETS
    (prompt: the first three words, scored exact), sentences of 8-30 words carrying a 3-12-digit number (scored:
    the number generated after the prompt), RULER-form needles with 7-digit values and with uuids, and passkey
    sentences (scored: the value right after the prompt). Each item: set, text, prompt, score[, value]."""
    rng = random.Random(seed)
    sents = sorted({s for d in heldout_docs for s in d})
    rng.shuffle(sents)
    words = dictionary_words()
    items, per_bucket, numbers = [], {b: 0 for b in WORD_BUCKETS}, 0
    for s in sents:
        w = s.split(" ")
        for b in WORD_BUCKETS:
            if b[0] <= len(w) <= b[1] and per_bucket[b] < size:
                per_bucket[b] += 1
                items.append({"set": f"words_{b[0]}_{b[1]}", "text": s, "prompt": " ".join(w[:3]), "score": "exact"})
        if 8 <= len(w) <= 30 and numbers < size:
            n = L.random_number(rng, 3, 12)
            t = insert_item(s, n, rng)
            prompt = " ".join(t.split(" ")[:3])
            if n not in prompt:
                numbers += 1
                items.append({"set": "number", "text": t, "prompt": prompt, "score": "number", "value": n})
    for _ in range(size):
        for template, kind in ((RULER_NUMBER, "ruler_number"), (RULER_UUID, "ruler_uuid")):
            key = f"{rng.choice(words)}-{rng.choice(words)}"
            if kind == "ruler_number":
                v = str(rng.randint(10 ** 6, 10 ** 7 - 1))
            else:
                h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
                v = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            t = template.format(key=key, value=v)
            items.append({"set": kind, "text": t, "prompt": t[:t.index(" is:") + 4], "score": "value", "value": v})
        n = L.random_number(rng, 3, 7)
        items.append({"set": "passkey", "text": L.PASSKEY_TEMPLATE.format(n=n), "prompt": "The pass key is",
                      "score": "value", "value": n})
    items.append({"set": "sf_needle", "text": SF_NEEDLE, "prompt": SF_PROMPT, "score": "exact"})
    return items
