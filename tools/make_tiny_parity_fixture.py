#!/usr/bin/env python3
"""Reference outputs of the shipped models/larimar-tiny under PyTorch, for test/model/test_larimar_tiny.cpp.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/make_tiny_parity_fixture.py
Loads models/larimar-tiny with tools/train/larimar_tiny.py (load_model_dir: the torch model rebuilt from the
exported safetensors), takes 200 held-out segments (load_corpus()["heldout"]: the science, pets, sports and medicine
fortune files, never trained on) drawn with random.Random(SEED) among those that fit the encoder's 42 positions,
and writes test/fixtures/model/larimar_tiny_parity.json:
  {"model": "models/larimar-tiny", "seed", "max_new_tokens",
   "segments": [{"text", "encoder_ids" ([CLS] tokens [SEP]), "latent_mean" (C floats, 6 significant digits),
                 "greedy" (ids generated greedily from <|endoftext|> with that latent, EOS excluded)}]}
Every segment is encoded and decoded alone (batch of one), float32, one thread.
"""
import json
import random
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "train"))
import larimar_tiny as L  # noqa: E402

SEED = 20261125
COUNT = 200
MAX_NEW = 40  # the window: n_positions 42 = latent slot + <|endoftext|> + 40 new tokens
MODEL_DIR = ROOT / "models" / "larimar-tiny"
OUT = ROOT / "test" / "fixtures" / "model" / "larimar_tiny_parity.json"


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    model = L.load_model_dir(MODEL_DIR)
    tok = L.load_tokenizer(MODEL_DIR)
    max_tokens = model.cfg["encoder"]["max_position_embeddings"] - 2
    held = L.load_corpus()["heldout"]
    fits = [s for s, ids in zip(held, L.encode_batch(tok, held)) if len(ids) <= max_tokens]
    texts = random.Random(SEED).sample(fits, COUNT)
    segments = []
    with torch.no_grad():
        for text in texts:
            ids = tok.encode(text).ids
            enc_ids, mask = L.encoder_inputs([ids])
            mean, _ = model.encode(enc_ids, mask)
            greedy = model.generate(mean, [[L.EOT]], max_new=MAX_NEW)[0]
            segments.append({"text": text, "encoder_ids": enc_ids[0].tolist(),
                             "latent_mean": [float(f"{v:.6g}") for v in mean[0].tolist()], "greedy": greedy})
    OUT.write_text(json.dumps({"model": "models/larimar-tiny", "seed": SEED, "max_new_tokens": MAX_NEW,
                               "segments": segments}, separators=(",", ":")) + "\n")
    exact = sum(tok.decode(s["greedy"]) == s["text"] for s in segments)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); {exact}/{COUNT} reconstructed exactly")


if __name__ == "__main__":
    main()
