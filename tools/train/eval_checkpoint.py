#!/usr/bin/env python3
"""Held-out figures of a training checkpoint (the same greedy, exact-match evaluation as train.py and
export_model.py), without exporting it.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/train/eval_checkpoint.py runs/<name> [--checkpoint path.pt] [--eval-size 500]
The evaluation sets come from the run's data.json (fixed by seed 12345, identical for every run that shares the
tokenizer), so figures of different runs are comparable item for item.
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
    p.add_argument("--checkpoint", type=Path, default=None, help="default: <run>/checkpoint.pt")
    p.add_argument("--eval-size", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ck = T.load_checkpoint(a.checkpoint or a.run / "checkpoint.pt")
    model = L.LarimarTiny(ck["config"])
    model.load_state_dict(ck["model"])
    tok = L.load_tokenizer(a.run / "tokenizer")
    data = json.loads((a.run / "data.json").read_text())
    t = time.time()
    metrics = T.evaluate(model, tok, data["eval"], a.eval_size)
    metrics.update({"step": ck["step"], "cpu_minutes": ck["cpu_seconds"] / 60, "eval_size": a.eval_size,
                    "eval_seconds": time.time() - t})
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
