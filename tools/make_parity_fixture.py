#!/usr/bin/env python3
"""Reference outputs of a shipped model under PyTorch, for the C++ parity test (test/model/test_shipped_models.cpp).

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/make_parity_fixture.py larimar-tiny                 # models/larimar-tiny, 200 segments
  .venv/bin/python tools/make_parity_fixture.py larimar-small --corpus debian --count 100
Loads models/<name> with tools/train/larimar_tiny.py (load_model_dir: the torch model rebuilt from the exported
safetensors), takes COUNT held-out segments drawn with random.Random(SEED) among those that fit the encoder's
positions — `tiny`: the science, pets, sports and medicine fortune files; `debian`: the held-out sources of
tools/train/debian_text.py (never trained on) — and writes test/fixtures/model/<name with _>_parity.json:
  {"model": "models/<name>", "seed", "max_new_tokens",
   "segments": [{"text", "encoder_ids" ([CLS] tokens [SEP]), "latent_mean" (C floats, 6 significant digits),
                 "greedy" (ids generated greedily from <|endoftext|> with that latent, EOS excluded)}]}
Every segment is encoded and decoded alone (batch of one), float32, one thread.
"""
import argparse
import json
import random
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "train"))
import larimar_tiny as L  # noqa: E402

SEED = 20261125


def heldout_texts(corpus):
    if corpus == "tiny":
        return L.load_corpus()["heldout"]
    import debian_text as D  # reads the Debian sources: only for models trained on them
    return [s for doc in D.load_documents()["heldout"] for s in doc]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name", help="a folder of models/")
    p.add_argument("--corpus", choices=("tiny", "debian"), default="tiny")
    p.add_argument("--count", type=int, default=200)
    a = p.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    model_dir = ROOT / "models" / a.name
    out = ROOT / "test" / "fixtures" / "model" / f"{a.name.replace('-', '_')}_parity.json"
    model = L.load_model_dir(model_dir)
    tok = L.load_tokenizer(model_dir)
    max_tokens = model.cfg["encoder"]["max_position_embeddings"] - 2
    # The window after the latent slots and <|endoftext|>: every held-out segment can be said back in full.
    max_new = model.cfg["decoder"]["n_positions"] - L.latent_slots(model.cfg) - 1
    held = heldout_texts(a.corpus)
    fits = [s for s, ids in zip(held, L.encode_batch(tok, held)) if len(ids) <= max_tokens]
    texts = random.Random(SEED).sample(fits, a.count)
    segments = []
    with torch.no_grad():
        for text in texts:
            ids = tok.encode(text).ids
            enc_ids, mask = L.encoder_inputs([ids])
            mean, _ = model.encode(enc_ids, mask)
            greedy = model.generate(mean, [[L.EOT]], max_new=max_new)[0]
            segments.append({"text": text, "encoder_ids": enc_ids[0].tolist(),
                             "latent_mean": [float(f"{v:.6g}") for v in mean[0].tolist()], "greedy": greedy})
    out.write_text(json.dumps({"model": f"models/{a.name}", "seed": SEED, "max_new_tokens": max_new,
                               "segments": segments}, separators=(",", ":")) + "\n")
    exact = sum(tok.decode(s["greedy"]) == s["text"] for s in segments)
    print(f"wrote {out} ({out.stat().st_size} bytes); {exact}/{a.count} reconstructed exactly")


if __name__ == "__main__":
    main()
