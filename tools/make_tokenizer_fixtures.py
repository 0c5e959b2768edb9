#!/usr/bin/env python3
"""Reference fixtures for the C++ tokenizers (include/larimar/tokenizer/), made with Hugging Face `tokenizers`
and `transformers` on real text from Debian's fortune packages.

Run (from the repository root; needs the venv from tools/setup_venv.sh and the Debian packages
fortunes-min + fortunes plus fortunes-de, fortunes-ru, fortunes-es, fortunes-zh for the non-English lines):
    apt-get install -y fortunes-min fortunes fortunes-de fortunes-ru fortunes-es fortunes-zh
    .venv/bin/python tools/make_tokenizer_fixtures.py
Seeded (SEED below): the text selection, the GPT-2 files and every reference id are deterministic for given package
and library versions (recorded in cases.json). The two BERT vocab.txt files are not quite: `tokenizers`' WordPiece
trainer orders equally frequent characters in hash-map order, so a rerun may give a slightly different vocabulary;
cases.json is always regenerated from the files just written, so the fixtures stay consistent with each other.
Takes about 30 s (most of it probing every code point, see probe_disagreements).

Writes test/fixtures/tokenizer/:
  gpt2_vocab.json, gpt2_merges.txt  a GPT-2-format byte-level BPE (vocab ~2000, <|endoftext|> special) trained by
                                     tokenizers.ByteLevelBPETokenizer on fortune text.
  bert_uncased_vocab.txt            a BERT WordPiece vocab.txt (~3000) trained lower-cased with accents stripped.
  bert_cased_vocab.txt              the same trained without lower-casing/stripping.
  cases.json                        the test texts and, for each, the ids from transformers' GPT2TokenizerFast,
                                     BertTokenizerFast (uncased and cased, with [CLS]/[SEP]) and the uncased decode;
                                     GPT-2 pre-tokenization pieces from tokenizers' ByteLevel pre-tokenizer for the
                                     edge cases and random code-point lines; a few pair encodings and padded batches;
                                     and random byte strings with Python's
                                     bytes.decode('utf-8', 'replace') of each (the lossy UTF-8 repair rule).
Texts: ~2400 English fortune lines, ~100 multi-line fortunes, German/Russian/Spanish/Chinese lines, hand-written
edge cases, and lines of random code points (excluding the few code points whose Unicode properties differ between
Python's unicodedata, which generates our tables, and the older Unicode data compiled into `tokenizers`; the
script lists them).
"""
import glob
import json
import os
import random
import sys
import tempfile
import unicodedata

import tokenizers
import transformers
from tokenizers import ByteLevelBPETokenizer, BertWordPieceTokenizer, normalizers, pre_tokenizers
from transformers import BertTokenizerFast, GPT2Tokenizer, GPT2TokenizerFast

SEED = 20260311
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizer")
FORTUNES = "/usr/share/games/fortunes"


def read_fortunes(paths):
    """Returns (lines, fortunes): non-empty lines and whole fortunes (text between % lines)."""
    lines, fortunes = [], []
    for path in sorted(paths):
        if path.endswith((".dat", ".u8")) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            continue
        for fortune in text.split("\n%\n"):
            fortune = fortune.strip("\n%")
            if fortune:
                fortunes.append(fortune)
            lines.extend(l for l in fortune.split("\n") if l.strip())
    return lines, fortunes


def dedupe(items):
    seen, out = set(), []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


EDGE_CASES = [
    "", " ", "  ", "\t", "\n", "\n\n", " \n ", "a", "A", "I'm", "I'M", "you'll've", "don't", "they're",
    "it's 'quoted' and \"double\"", "can't won't shan't", "'s", "'", "''s", "x's", "x'S",
    "Hello  world", "Hello   world ", "trailing spaces   ", "   leading spaces", "tab\tseparated\tvalues",
    "line one\nline two\n\nline four", "CRLF\r\nline", "mixed \t\n whitespace", "a\u00a0b (no-break space)",
    "em\u2003space and ideographic\u3000space", "line\u2028separator", "paragraph\u2029separator",
    "numbers 123 4567 89.01 1,000,000", "phone: +1 (555) 010-9999", "version 1.2.3-rc4", "3.14159265358979",
    "hex 0xDEADBEEF and binary 0b1011", "50% off!!! $9.99 #1 @user", "email: someone@example.com",
    "https://www.example.com/path?query=1&x=y#frag", "C++ and C# are languages; so is F#.",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 co\u00f6perate", "cafe\u0301 (combining acute)", "\u00c5ngstr\u00f6m \u212b",
    "Stra\u00dfe GROSS gro\u00df \u1e9e", "\u0130stanbul \u0131s\u0131k", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03cd\u03c2",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u4f60\u597d\uff0c\u4e16\u754c\u3002", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "emoji \U0001f600\U0001f389 \U0001f44d\U0001f3fd family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "zero\u200bwidth\u200cjoiner\u200d", "bom\ufeffinside", "control\x01\x02chars\x7f", "bell\x07 and esc\x1b[0m",
    "vertical\x0btab and form\x0cfeed", "next\x85line", "nul\x00byte", "replacement \ufffd char",
    "private \ue000\uf8ff use", "supplementary \U00010400\U0001d400 \U00020000", "unassigned \u0378 \U000e0080",
    "fullwidth \uff21\uff22\uff23 \uff11\uff12\uff13", "superscripts x\u00b2 \u00bd \u2460", "roman \u2163 \u216b",
    "math \u2200x\u2208\u211d: x\u00b2\u22650", "arrows \u2190\u2192 \u21d2", "quotes \u201ctyped\u201d \u2018single\u2019 \u00abguillemets\u00bb",
    "dashes \u2013 en \u2014 em \u2012 figure", "ellipsis\u2026 and bullet \u2022", "A" * 120, "b" * 99, "c" * 100,
    "c" * 101, "supercalifragilisticexpialidocious " * 3, "antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "ALLCAPS SENTENCE WITH SHOUTING", "MiXeD CaSe WoRdS",
    "under_score and hy-phen and dot.ted", "a.b.c.d.e.f", "!!!???...,,,;;;:::", "(((nested)))", "[brackets] {braces}",
    "<tags> and </tags>", "back\\slash", "`code` ~tilde~ ^caret^ |pipe|", "    indented code", "\t\tdouble tab",
    "end with newline\n", "\n\nstarts with newlines", "spaces before newline   \nnext", "multiple\n\n\n\nnewlines",
    "word" + " " * 10 + "word", "<|endoftext|>", "before<|endoftext|>after", "a <|endoftext|> b <|endoftext|>",
    "<|endoftext", "|endoftext|>", "<|endoftext|><|endoftext|>",
]


def probe_disagreements():
    """Code points where Python's unicodedata and the Unicode data inside `tokenizers` give different behaviour."""
    bert_lower = normalizers.BertNormalizer(lowercase=True)
    bert_cased = normalizers.BertNormalizer(lowercase=False)
    bert_pre = pre_tokenizers.BertPreTokenizer()
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    ws = {0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, *range(0x9, 0xE), 0x20, *range(0x2000, 0x200B)}
    cjk = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
           (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]

    def model_normalize(ch, lower):
        c, cat = ord(ch), unicodedata.category(ch)
        if c in (0, 0xFFFD) or (ch not in "\t\n\r" and cat in ("Cc", "Cf", "Co", "Cs")):
            return ""
        if ch in "\t\n\r" or c in ws:
            return " "
        if lower:
            ch = "".join(x for x in unicodedata.normalize("NFD", ch) if unicodedata.category(x) != "Mn").lower()
        if any(a <= c <= b for a, b in cjk):
            return " " + ch + " "
        return ch

    def is_punct(c):
        return 33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126 or \
            unicodedata.category(chr(c)).startswith("P")

    bad = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch, cat = chr(c), unicodedata.category(chr(c))
        ok = bert_lower.normalize_str(ch) == model_normalize(ch, True) and \
            bert_cased.normalize_str(ch) == model_normalize(ch, False)
        if ok:
            got = [t for t, _ in bert_pre.pre_tokenize_str("a" + ch + "a")]
            want = ["a", "a"] if c in ws else (["a", ch, "a"] if is_punct(c) else ["a" + ch + "a"])
            ok = got == want
        if ok:
            letter = len(byte_level.pre_tokenize_str("a" + ch)) == 1
            number = len(byte_level.pre_tokenize_str("1" + ch)) == 1
            ok = letter == (cat[0] == "L") and number == (cat[0] == "N")
        if not ok:
            bad.append(c)
    return bad


def main():
    rng = random.Random(SEED)
    os.makedirs(OUT, exist_ok=True)
    english_files = [p for p in glob.glob(os.path.join(FORTUNES, "*"))
                     if os.path.basename(p) not in ("chinese", "tang300", "song100")]
    en_lines, en_fortunes = read_fortunes(english_files)
    de_lines, _ = read_fortunes(glob.glob(os.path.join(FORTUNES, "de", "*")))
    ru_lines, _ = read_fortunes(glob.glob(os.path.join(FORTUNES, "ru", "*")))
    es_lines, _ = read_fortunes(glob.glob(os.path.join(FORTUNES, "es", "*")))
    zh_lines, _ = read_fortunes([os.path.join(FORTUNES, n) for n in ("chinese", "tang300", "song100")])
    en_lines, de_lines, ru_lines, es_lines, zh_lines = map(dedupe, (en_lines, de_lines, ru_lines, es_lines, zh_lines))
    print(f"lines: en {len(en_lines)} de {len(de_lines)} ru {len(ru_lines)} es {len(es_lines)} zh {len(zh_lines)}")

    # Training text: all English lines plus samples of the others, so the vocabularies cover some of each script.
    train_text = en_lines + rng.sample(de_lines, 2000) + rng.sample(ru_lines, 1000) + rng.sample(es_lines, 1000) + \
        rng.sample(zh_lines, 1000)
    rng.shuffle(train_text)

    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(train_text, vocab_size=2000, min_frequency=2, special_tokens=["<|endoftext|>"],
                            show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        for src, dst in (("vocab.json", "gpt2_vocab.json"), ("merges.txt", "gpt2_merges.txt")):
            with open(os.path.join(tmp, src), encoding="utf-8") as f:
                data = f.read()
            with open(os.path.join(OUT, dst), "w", encoding="utf-8") as f:
                f.write(data)
    for name, lower in (("bert_uncased_vocab.txt", True), ("bert_cased_vocab.txt", False)):
        wp = BertWordPieceTokenizer(lowercase=lower, strip_accents=lower)
        wp.train_from_iterator(train_text, vocab_size=3000, min_frequency=2,
                               show_progress=False)
        with tempfile.TemporaryDirectory() as tmp:
            path = wp.save_model(tmp)[0]
            with open(path, encoding="utf-8") as f:
                data = f.read()
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            f.write(data)

    bad = set(probe_disagreements())
    print(f"{len(bad)} code points differ between unicodedata {unicodedata.unidata_version} and tokenizers: "
          + " ".join(f"U+{c:04X}" for c in sorted(bad)[:200]))
    candidates = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and c not in bad]
    probes = []
    for _ in range(120):
        parts = []
        for _ in range(rng.randint(5, 30)):
            r = rng.random()
            if r < 0.5:
                parts.append(chr(rng.choice(candidates)))
            elif r < 0.7:
                parts.append(rng.choice([" ", "  ", "\n", "\t", " \n"]))
            elif r < 0.85:
                parts.append(rng.choice(["the", "A", "z", "7", "42", "'s", "'ll", "!", "."]))
            else:
                parts.append(chr(rng.randint(0x80, 0x2FFF)) if rng.random() < 0.5 else chr(rng.choice(candidates)))
        probes.append("".join(parts))

    texts = rng.sample(en_lines, 2400) + ["\n".join(f.split("\n")) for f in rng.sample(en_fortunes, 100)] + \
        rng.sample(de_lines, 120) + rng.sample(ru_lines, 80) + rng.sample(es_lines, 80) + \
        rng.sample(zh_lines, 60) + EDGE_CASES + probes

    gpt2_fast = GPT2TokenizerFast(vocab_file=os.path.join(OUT, "gpt2_vocab.json"),
                                  merges_file=os.path.join(OUT, "gpt2_merges.txt"))
    gpt2_slow = GPT2Tokenizer(vocab_file=os.path.join(OUT, "gpt2_vocab.json"),
                              merges_file=os.path.join(OUT, "gpt2_merges.txt"))
    bert_uncased = BertTokenizerFast(vocab_file=os.path.join(OUT, "bert_uncased_vocab.txt"), do_lower_case=True)
    bert_cased = BertTokenizerFast(vocab_file=os.path.join(OUT, "bert_cased_vocab.txt"), do_lower_case=False)

    gpt2_ids, uncased_ids, cased_ids, uncased_decoded, slow_disagree = [], [], [], [], 0
    for t in texts:
        ids = gpt2_fast.encode(t)
        if gpt2_slow.encode(t) != ids:
            slow_disagree += 1
        assert gpt2_fast.decode(ids, clean_up_tokenization_spaces=False) == t, repr(t)
        gpt2_ids.append(ids)
        u = bert_uncased.encode(t)
        uncased_ids.append(u)
        uncased_decoded.append(bert_uncased.decode(u, skip_special_tokens=True, clean_up_tokenization_spaces=False))
        cased_ids.append(bert_cased.encode(t))
    print(f"GPT2Tokenizer (slow, Python regex) disagrees with GPT2TokenizerFast on {slow_disagree} of {len(texts)}")

    # GPT-2 pre-tokenization pieces (as text) for the edge cases and random code-point lines.
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    byte_decoder = {}
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    extra = 0
    for b in range(256):
        if b in printable:
            byte_decoder[chr(b)] = b
        else:
            byte_decoder[chr(256 + extra)] = b
            extra += 1
    pieces_from = len(texts) - len(EDGE_CASES) - len(probes)
    gpt2_pieces = [[bytes(byte_decoder[c] for c in piece).decode("utf-8")
                    for piece, _ in byte_level.pre_tokenize_str(t)] for t in texts[pieces_from:]]

    pair_texts = [(texts[i], texts[i + 1]) for i in range(0, 20, 2)]
    pairs = [{"a": a, "b": b, **{k: v for k, v in bert_uncased(a, b).items()}} for a, b in pair_texts]
    batch_texts = [texts[3], texts[4], "", texts[5]]
    batch = bert_uncased(batch_texts, padding=True)
    batch_trunc = bert_uncased(batch_texts, padding="max_length", truncation=True, max_length=8)

    byte_cases = []
    for _ in range(300):
        n = rng.randint(0, 12)
        pool = [rng.randint(0, 255) for _ in range(n)] if rng.random() < 0.5 else \
            [rng.choice([0x41, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0,
                         0x9F, 0x90, 0x8F])
             for _ in range(n)]
        raw = bytes(pool)
        byte_cases.append({"hex": raw.hex(), "replaced": raw.decode("utf-8", "replace")})

    cases = {
        "generator": "tools/make_tokenizer_fixtures.py",
        "seed": SEED,
        "versions": {"python": sys.version.split()[0], "unicodedata": unicodedata.unidata_version,
                     "tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "gpt2_slow_disagreements": slow_disagree,
        "unicode_disagreements": sorted(bad),
        "texts": texts,
        "gpt2": gpt2_ids,
        "gpt2_pieces_from": pieces_from,
        "gpt2_pieces": gpt2_pieces,
        "bert_uncased": uncased_ids,
        "bert_uncased_decoded": uncased_decoded,
        "bert_cased": cased_ids,
        "bert_uncased_pairs": pairs,
        "bert_uncased_batch": {"texts": batch_texts, **{k: v for k, v in batch.items()}},
        "bert_uncased_batch_truncated": {"texts": batch_texts, "max_length": 8,
                                         **{k: v for k, v in batch_trunc.items()}},
        "utf8_replace": byte_cases,
    }
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=True, separators=(",", ":"))
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
