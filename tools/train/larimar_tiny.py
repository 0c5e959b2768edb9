"""larimar-tiny: data pipeline, tokenizer, model and export shared by the training scripts.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`). Nothing here downloads anything:
the corpus is Debian's English fortune files under /usr/share/games/fortunes (packages fortunes, fortunes-min).

The model follows the project's model format (docs/model.md):
  encoder  = HF BertModel (names without "bert.") + latent_head [2C, hidden] (no bias)
  decoder  = HF GPT2LMHeadModel (LM head tied to wte) + latent_kv [n_layer*n_embd, C] (+ latent_emb [n_embd, C])
The latent enters the decoder as S = latent_slots extra past key/value positions per layer (key = value = h_{l,s};
latent_kv is [n_layer*S*n_embd, C], with a bias when S > 1 that tags each slot), real tokens take positions S..S+T-1;
in "kv+embedding" mode latent_emb(z) is also added to every token's input embedding. With several slots the decoder
attends to the part of the latent it needs at each position instead of unpacking one vector everywhere.
"""
from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FORTUNE_DIR = Path("/usr/share/games/fortunes")
# English fortune files only (the others are Chinese, German, Spanish, Russian, Portuguese (mario.*), ASCII art
# or untranslated samples). Packages: fortunes, fortunes-min, fortune-anarchism, fortunes-bofh-excuses.
NON_ENGLISH = {"chinese", "song100", "tang300", "translate-me", "de", "es", "ru", "zh", "off", "ascii-art", "art"}
# Held out by source text: every sentence of these files is evaluation-only (about 7% of the sentences).
HELDOUT_FILES = ("science", "pets", "sports", "medicine")

SPECIALS = ["<|endoftext|>", "<|pad|>", "[CLS]", "[SEP]", "<|drop|>"]
EOT, PAD, CLS, SEP, DROP = range(5)

PASSKEY_TEMPLATE = "The pass key is {n}. Remember it. {n} is the pass key."  # evaluation only, never trained


# ----------------------------------------------------------------------------------------------------- corpus
def _fortune_entries(path: Path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    for entry in re.split(r"^%\s*$", text, flags=re.M):
        yield entry


_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_OK_CHARS = re.compile(r"^[A-Za-z0-9 .,;:!?'\"()\-&$%/]+$")


def split_sentences(entry: str):
    """An entry's prose as single-line sentences: attributions, indented verse/code and odd characters dropped."""
    lines = []
    for line in entry.splitlines():
        s = line.strip()
        if not s or s.startswith("--") or s.startswith("-- ") or re.match(r"^\s{4,}", line) and "  " in line.strip():
            continue
        lines.append(s)
    flat = re.sub(r"\s+", " ", " ".join(lines)).strip()
    for sent in _SENT_END.split(flat):
        sent = sent.strip()
        if len(sent) > 110:  # long sentences: packed clauses (cut after , ; :) of at most ~90 characters
            yield from _clauses(sent)
            continue
        if 16 <= len(sent) <= 110 and _OK_CHARS.match(sent) and re.search(r"[a-z]", sent) \
                and sent[0].isupper() and "pass key" not in sent.lower():
            yield sent


def _clauses(sent: str):
    parts, cur = re.split(r"(?<=[,;:]) ", sent), ""
    for p in parts:
        if cur and len(cur) + 1 + len(p) > 90:
            if 16 <= len(cur) <= 110 and _OK_CHARS.match(cur) and cur[0].isupper() and re.search(r"[a-z]", cur):
                yield cur
            cur = p
        else:
            cur = (cur + " " + p) if cur else p
    if 16 <= len(cur) <= 110 and _OK_CHARS.match(cur) and re.search(r"[a-z]", cur) and cur[0].isupper():
        yield cur


PYDOC_ROOTS = ("/usr/lib/python3.11", "/usr/lib/python3/dist-packages")


def docstring_paragraphs():
    """(path, [paragraph, ...]) for every module of Debian's installed Python code (PYDOC_ROOTS), test code skipped:
    the docstring paragraphs of its module, classes and functions, those with doctests, reST directives, lists or
    'name:' field lines skipped."""
    import ast
    for root in PYDOC_ROOTS:
        for path in sorted(Path(root).rglob("*.py")):
            if "/test" in str(path) or "idlelib" in str(path) or "lib2to3" in str(path):
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            paras = []
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
                    for para in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                        if not re.search(r">>>|::|^\s*[-*]|^\s*\w+\s*:\s*$", para, re.M):
                            paras.append(para)
            yield path, paras


def python_docstring_sentences():
    """Extra training text: English sentences from the docstrings of Debian's installed Python code (packages
    libpython3.11-stdlib, python3-numpy, python3-torch, python3-matplotlib, ...; docstring_paragraphs). Training
    only; never held out."""
    out = set()
    for _, paras in docstring_paragraphs():
        for para in paras:
            out.update(split_sentences(para))
    return out


MAN_SECTIONS = ("/usr/share/man/man1", "/usr/share/man/man8")
# roff escapes that carry no text: font changes, size changes, named strings/characters, zero-width marks
_ROFF_ESCAPE = re.compile(r"\\f(\[[^\]]*\]|\(..|.)|\\s[-+]?\d|\\\*(\(..|\[[^\]]*\]|.)|\\\(..|\\\[[^\]]*\]|\\[&|^%:/,]")
_ROFF_BREAK = re.compile(r"^\.(PP|P|LP|SH|SS|TP|IP|HP|sp|br|nf|fi|RS|RE|TH|Vb|Ve)\b")


def man_page_paragraphs(text: str):
    """A roff manual page's text paragraphs: macro lines dropped, escapes stripped, lines joined at paragraph breaks."""
    paras = [[]]  # the last one is the paragraph being read
    for line in text.splitlines():
        if line.startswith((".", "'")):
            if _ROFF_BREAK.match(line):
                paras.append([])
            continue
        s = _ROFF_ESCAPE.sub("", line).replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ")
        if "\\" in s:  # an escape we do not model: end the paragraph rather than guess
            paras.append([])
            continue
        paras[-1].append(s.strip())
    return [" ".join(p) for p in paras if p]


def man_page_sentences():
    """Extra training text: English sentences from the manual pages installed here (sections 1 and 8, the roff
    sources under /usr/share/man of every installed Debian package; ~85K sentences on the training machine).
    Macro lines are dropped, escapes stripped, paragraphs joined, then the same sentence filter as the fortunes.
    Training only; never held out."""
    import gzip
    out = set()
    for root in MAN_SECTIONS:
        for path in sorted(Path(root).glob("*.gz")):
            try:
                text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
            except (OSError, EOFError):
                continue
            for para in man_page_paragraphs(text):
                out.update(split_sentences(para))
    return out


def scramble(pool, rng: random.Random, lo_words=4, hi_words=14):
    """A segment no model can have memorised: words drawn from two random training sentences, shuffled, cut to a
    random length, capitalised, ending in '.'. Used for a share of every batch (--scramble-prob) so that the
    decoder must copy from the latent instead of recalling a sentence it has seen."""
    words = (pool[rng.randrange(len(pool))] + " " + pool[rng.randrange(len(pool))]).split(" ")
    words = [w.strip(".,;:!?\"()") for w in words]
    words = [w for w in words if w]
    rng.shuffle(words)
    words = words[:rng.randint(lo_words, hi_words)]
    text = " ".join(words)
    return text[:1].upper() + text[1:] + "."


def load_corpus(extra: str = "none"):
    """{'train': [...], 'heldout': [...]} sentence lists, deduplicated, split by source file, sorted (stable).
    extra="pydoc" adds python_docstring_sentences() to the training side; "pydoc+man" also man_page_sentences()."""
    train, held = set(), set()
    for path in sorted(FORTUNE_DIR.iterdir()):
        if not path.is_file() or path.suffix in (".dat", ".u8") or path.name in NON_ENGLISH \
                or path.name.startswith("mario."):
            continue
        bucket = held if path.name in HELDOUT_FILES else train
        for entry in _fortune_entries(path):
            bucket.update(split_sentences(entry))
    if extra in ("pydoc", "pydoc+man"):
        train |= python_docstring_sentences()
    if extra == "pydoc+man":
        train |= man_page_sentences()
    train -= held
    return {"train": sorted(train), "heldout": sorted(held)}


# ----------------------------------------------------------------------------------------------------- numbers
def random_number(rng: random.Random, lo_digits=2, hi_digits=5) -> str:
    d = rng.randint(lo_digits, hi_digits)
    return str(rng.randint(10 ** (d - 1), 10 ** d - 1))


def insert_number(sentence: str, rng: random.Random, lo_digits=2, hi_digits=5):
    """Insert a random number at a random word boundary (never before the first word). Returns (text, number)."""
    words = sentence.split(" ")
    n = random_number(rng, lo_digits, hi_digits)
    k = rng.randint(1, len(words))
    if k == len(words) and words[-1] and words[-1][-1] in ".!?":  # keep the final punctuation last
        last = words[-1]
        words[-1] = last[:-1]
        words.append(n + last[-1])
    else:
        words.insert(k, n)
    return " ".join(words), n


# ----------------------------------------------------------------------------------------------------- tokenizer
def train_tokenizer(sentences, vocab_size: int, out_dir: Path):
    """Byte-level BPE (GPT-2 file format) whose merges never join two digits: every digit is its own token,
    optionally preceded by a space token "Ġd" (merges 'Ġ d' are added by hand). Writes vocab.json + merges.txt."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 10, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(sentences, trainer)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.model.save(str(out_dir))
    vocab = json.loads((out_dir / "vocab.json").read_text())
    merges = (out_dir / "merges.txt").read_text().splitlines()
    header = merges[0] if merges and merges[0].startswith("#") else None
    body = [m for m in merges if m and not m.startswith("#")]
    assert not any(re.search(r"\d", m) for m in body), "a learned merge contains a digit"
    for d in "0123456789":
        vocab["Ġ" + d] = len(vocab)
        body.append("Ġ " + d)
    assert sorted(vocab.values()) == list(range(len(vocab)))
    for i, s in enumerate(SPECIALS):
        assert vocab[s] == i
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (out_dir / "merges.txt").write_text("\n".join(([header] if header else []) + body) + "\n")
    return load_tokenizer(out_dir)


def load_tokenizer(tok_dir: Path):
    """The GPT-2-style tokenizer from vocab.json + merges.txt (standard GPT-2 regex pre-tokenizer), as the C++
    runtime reads it. Special tokens are never produced from text."""
    from tokenizers import ByteLevelBPETokenizer
    return ByteLevelBPETokenizer(str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt"), add_prefix_space=False)


def encode_batch(tok, texts):
    return [e.ids for e in tok.encode_batch(list(texts))]


# ----------------------------------------------------------------------------------------------------- model
def default_config(vocab_size, d=256, enc_layers=2, dec_layers=3, heads=4, latent=256, mode="kv+embedding",
                   pooling="mean", max_tokens=32, dec_positions=0, slots=1):
    cfg = {
        "format": "larimar-model", "version": 1, "latent_size": latent, "latent_mode": mode,
        "encoder": {"vocab_size": vocab_size, "hidden_size": d, "num_hidden_layers": enc_layers,
                    "num_attention_heads": heads, "intermediate_size": 4 * d,
                    "max_position_embeddings": max_tokens + 2, "type_vocab_size": 1, "layer_norm_eps": 1e-12,
                    "pooling": pooling, "tokenizer": "bpe", "lowercase": False,
                    "cls_token_id": CLS, "sep_token_id": SEP, "pad_token_id": PAD},
        "decoder": {"vocab_size": vocab_size, "n_embd": d, "n_layer": dec_layers, "n_head": heads,
                    "n_positions": dec_positions or max_tokens + 2, "layer_norm_epsilon": 1e-5, "tokenizer": "bpe",
                    "bos_token_id": EOT, "eos_token_id": EOT, "pad_token_id": PAD},
    }
    if slots != 1:
        cfg["latent_slots"] = slots
    return cfg


def latent_slots(cfg):
    return cfg.get("latent_slots", 1)


class LarimarTiny(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel
        self.cfg = cfg
        e, d, C = cfg["encoder"], cfg["decoder"], cfg["latent_size"]
        self.encoder = BertModel(BertConfig(
            vocab_size=e["vocab_size"], hidden_size=e["hidden_size"], num_hidden_layers=e["num_hidden_layers"],
            num_attention_heads=e["num_attention_heads"], intermediate_size=e["intermediate_size"],
            max_position_embeddings=e["max_position_embeddings"], type_vocab_size=e["type_vocab_size"],
            layer_norm_eps=e["layer_norm_eps"], hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            pad_token_id=e["pad_token_id"], attn_implementation="eager"), add_pooling_layer=True)
        # "positions" pooling: the masked hidden states of every encoder position, concatenated (zeros past the end),
        # so the latent head is a position-wise linear map and the encoder need not bind tokens to positions itself
        pooled = e["hidden_size"] * (e["max_position_embeddings"] if e["pooling"] == "positions" else 1)
        self.latent_head = nn.Linear(pooled, 2 * C, bias=False)
        self.decoder = GPT2LMHeadModel(GPT2Config(
            vocab_size=d["vocab_size"], n_embd=d["n_embd"], n_layer=d["n_layer"], n_head=d["n_head"],
            n_positions=d["n_positions"], layer_norm_epsilon=d["layer_norm_epsilon"], resid_pdrop=0.0,
            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=d["bos_token_id"], eos_token_id=d["eos_token_id"],
            attn_implementation="eager"))
        S = latent_slots(cfg)
        self.latent_kv = nn.Linear(C, d["n_layer"] * S * d["n_embd"], bias=S > 1)
        self.latent_emb = nn.Linear(C, d["n_embd"], bias=False) if cfg["latent_mode"] == "kv+embedding" else None
        for lin in (self.latent_head, self.latent_kv, self.latent_emb):
            if lin is not None:
                nn.init.normal_(lin.weight, std=0.02)
        if self.latent_kv.bias is not None:
            nn.init.normal_(self.latent_kv.bias, std=0.02)

    # encoder ids: [CLS] tokens [SEP], right-padded with PAD; mask 1 on real positions
    def encode(self, ids, mask):
        dev = self.latent_head.weight.device
        ids, mask = ids.to(dev), mask.to(dev)
        out = self.encoder(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
        if self.cfg["encoder"]["pooling"] == "mean":
            m = mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            pooled = (out.last_hidden_state * m).sum(1) / m.sum(1)
        elif self.cfg["encoder"]["pooling"] == "positions":
            h = out.last_hidden_state * mask.unsqueeze(-1).to(out.last_hidden_state.dtype)
            P = self.cfg["encoder"]["max_position_embeddings"]
            pooled = F.pad(h, (0, 0, 0, P - h.shape[1])).flatten(1)
        else:
            pooled = out.pooler_output
        stats = self.latent_head(pooled)
        C = self.cfg["latent_size"]
        return stats[:, :C], stats[:, C:]

    def latent_past(self, z):
        d = self.cfg["decoder"]
        B, L, H, E, S = z.shape[0], d["n_layer"], d["n_head"], d["n_embd"], latent_slots(self.cfg)
        h = self.latent_kv(z).view(B, L, S, H, E // H).transpose(2, 3)
        return tuple((h[:, l], h[:, l]) for l in range(L))

    def token_embeds(self, ids, z):
        x = self.decoder.transformer.wte(ids)
        if self.latent_emb is not None:
            x = x + self.latent_emb(z).unsqueeze(1)
        return x

    def decode_logits(self, z, ids):
        """Logits for decoder input ids (positions 1..T after the latent position 0)."""
        out = self.decoder(inputs_embeds=self.token_embeds(ids.to(z.device), z), past_key_values=self.latent_past(z),
                           use_cache=False)
        return out.logits

    @torch.no_grad()
    def generate(self, z, prompts, max_new=30):
        """Greedy decoding; prompts: list of id lists that start with BOS (all of one length). Returns new ids
        (up to, excluding, EOS)."""
        B = z.shape[0]
        ids = torch.tensor(prompts, dtype=torch.long, device=z.device)
        past = self.latent_past(z)
        limit = self.cfg["decoder"]["n_positions"] - latent_slots(self.cfg) - ids.shape[1]
        out = [[] for _ in range(B)]
        done = [False] * B
        x = ids
        for _ in range(min(max_new, limit)):
            res = self.decoder(inputs_embeds=self.token_embeds(x, z), past_key_values=past, use_cache=True)
            past = res.past_key_values
            nxt = res.logits[:, -1].argmax(-1)
            for b, t in enumerate(nxt.tolist()):  # one transfer per step on an accelerator
                if not done[b]:
                    if t == EOT:
                        done[b] = True
                    else:
                        out[b].append(t)
            if all(done):
                break
            x = nxt.unsqueeze(1)
        return out


def pad_batch(seqs, pad=PAD):
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask


def encoder_inputs(token_lists):
    return pad_batch([[CLS] + t + [SEP] for t in token_lists])


# ----------------------------------------------------------------------------------------------------- memory
def memory_write_read(Z, M0, noise_std=0.0, gen=None):
    """Larimar's one-shot episode write and read (docs/design.md) in torch, differentiable:
    W = Z_xi M0^+, M = W^+ Z_xi, Z_read = W M. With N <= K and W of full row rank, Z_read = Z_xi."""
    Zx = Z + noise_std * torch.randn(Z.shape, generator=gen, device=Z.device) if noise_std > 0 else Z
    W = Zx @ torch.linalg.pinv(M0)
    M = torch.linalg.pinv(W) @ Zx
    return W @ M


# ----------------------------------------------------------------------------------------------------- export
def parameters_for_export(model: LarimarTiny, dtype=torch.float32):
    enc = {k: v.detach().to(dtype).contiguous() for k, v in model.encoder.named_parameters()}
    enc["latent_head.weight"] = model.latent_head.weight.detach().to(dtype).contiguous()
    dec = {k: v.detach().to(dtype).contiguous() for k, v in model.decoder.named_parameters()
           if k != "lm_head.weight"}
    dec["latent_kv.weight"] = model.latent_kv.weight.detach().to(dtype).contiguous()
    if model.latent_kv.bias is not None:
        dec["latent_kv.bias"] = model.latent_kv.bias.detach().to(dtype).contiguous()
    if model.latent_emb is not None:
        dec["latent_emb.weight"] = model.latent_emb.weight.detach().to(dtype).contiguous()
    return enc, dec


def save_model_dir(model: LarimarTiny, tok_dir: Path, out_dir: Path, dtype=torch.float32):
    """Writes a model directory in the project's format: config.json, encoder/decoder.safetensors, tokenizer."""
    from safetensors.torch import save_file
    import shutil
    out_dir.mkdir(parents=True, exist_ok=True)
    enc, dec = parameters_for_export(model, dtype)
    save_file(enc, str(out_dir / "encoder.safetensors"), metadata={"format": "pt"})
    save_file(dec, str(out_dir / "decoder.safetensors"), metadata={"format": "pt"})
    (out_dir / "config.json").write_text(json.dumps(model.cfg, indent=2) + "\n")
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(tok_dir / f, out_dir / f)


def load_model_dir(model_dir: Path) -> LarimarTiny:
    from safetensors.torch import load_file
    cfg = json.loads((model_dir / "config.json").read_text())
    model = LarimarTiny(cfg)
    enc = load_file(str(model_dir / "encoder.safetensors"))
    dec = load_file(str(model_dir / "decoder.safetensors"))
    model.latent_head.weight.data.copy_(enc.pop("latent_head.weight").float())
    model.latent_kv.weight.data.copy_(dec.pop("latent_kv.weight").float())
    if model.latent_kv.bias is not None:
        model.latent_kv.bias.data.copy_(dec.pop("latent_kv.bias").float())
    if model.latent_emb is not None:
        model.latent_emb.weight.data.copy_(dec.pop("latent_emb.weight").float())
    missing, unexpected = model.encoder.load_state_dict({k: v.float() for k, v in enc.items()}, strict=False)
    assert not unexpected and all("position_ids" in k or "token_type_ids" in k for k in missing), (missing, unexpected)
    missing, unexpected = model.decoder.load_state_dict({k: v.float() for k, v in dec.items()}, strict=False)
    assert not unexpected and all(k == "lm_head.weight" or k.endswith(".attn.bias") or k.endswith("masked_bias")
                                  for k in missing), (missing, unexpected)
    model.decoder.tie_weights()
    return model.eval()
