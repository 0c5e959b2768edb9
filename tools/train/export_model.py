#!/usr/bin/env python3
"""Export a training checkpoint to a model directory in the project's format and measure it.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/train/export_model.py runs/<name> models/larimar-tiny [--fp16] [--eval-size 500]
Writes config.json, encoder.safetensors, decoder.safetensors, vocab.json, merges.txt and metrics.json (held-out
figures measured on the EXPORTED weights, reloaded from disk, greedy decoding) into the output directory.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import larimar_tiny as L  # noqa: E402
import train as T  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--eval-size", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--segment-tokens", type=int, default=0,
                   help="the segment budget a pipeline should cut text into for this model (config.json's "
                        "segment_tokens; 0: none said, the pipeline takes the most the model takes)")
    p.add_argument("--segment-overlap", type=int, default=0,
                   help="tokens each later piece of a longer sentence repeats (config.json's segment_overlap)")
    a = p.parse_args()
    if a.segment_overlap and not 0 <= a.segment_overlap < (a.segment_tokens or 10**9):
        p.error("--segment-overlap must be less than --segment-tokens")
    torch.set_num_threads(a.threads)
    ck = T.load_checkpoint(a.run / "checkpoint.pt")
    model = L.LarimarTiny(ck["config"])
    model.load_state_dict(ck["model"])
    if a.segment_tokens:
        model.cfg["segment_tokens"] = a.segment_tokens
    if a.segment_overlap:
        model.cfg["segment_overlap"] = a.segment_overlap
    L.save_model_dir(model, a.run / "tokenizer", a.out, torch.float16 if a.fp16 else torch.float32)
    back = L.load_model_dir(a.out)
    tok = L.load_tokenizer(a.out)
    data = json.loads((a.run / "data.json").read_text())
    args = json.loads((a.run / "args.json").read_text())
    t = time.time()
    if args.get("corpus", "tiny") == "debian":
        metrics = T.evaluate_debian(back, tok, data["eval"], a.eval_size, args["max_tokens"])
    else:
        metrics = T.evaluate(back, tok, data["eval"], a.eval_size)
    metrics.update({"step": ck["step"], "cpu_minutes": ck["cpu_seconds"] / 60, "wall_minutes": ck["wall_seconds"] / 60,
                    "eval_size": a.eval_size, "dtype": "float16" if a.fp16 else "float32",
                    "eval_seconds": time.time() - t, "run": str(a.run)})
    (a.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
