#!/usr/bin/env python3
"""Keep a run for the next session: runs/ is git-ignored and dies with the session, so the run's weights and
everything it needs to go on are copied into one committed folder (replaced, not accumulated).

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/train/keep_run.py runs/<name> checkpoints/<name> [--fp16]
Writes weights.safetensors (the model weights; --fp16 halves them) with weights.json beside it (step, CPU and wall
seconds, config: what train.py --init-from reads), args.json, data.json.xz (the training pool and the fixed
evaluation sets; train.py --data-from reads it), log.jsonl, log.txt and tokenizer/. The optimiser state is left
out (a continuation starts fresh AdamW moments with a short warm-up); docs/training.md gives the command.
"""
import argparse
import json
import lzma
import shutil
from pathlib import Path

import torch


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--fp16", action="store_true")
    a = p.parse_args()
    from safetensors.torch import save_file
    if a.dst.exists():
        shutil.rmtree(a.dst)
    a.dst.mkdir(parents=True)
    ck = torch.load(a.run / "checkpoint.pt", map_location="cpu", weights_only=False)  # as train.load_checkpoint
    dtype = torch.float16 if a.fp16 else torch.float32
    tensors, tied, seen = {}, {}, {}
    for k, v in ck["model"].items():  # a tied tensor (the LM head is wte) is stored once
        if v.data_ptr() in seen:
            tied[k] = seen[v.data_ptr()]
        else:
            seen[v.data_ptr()] = k
            tensors[k] = v.to(dtype).contiguous()
    save_file(tensors, str(a.dst / "weights.safetensors"))
    meta = {k: ck[k] for k in ("step", "cpu_seconds", "wall_seconds", "config")}
    (a.dst / "weights.json").write_text(json.dumps({**meta, "tied": tied}, indent=1) + "\n")
    (a.dst / "data.json.xz").write_bytes(lzma.compress((a.run / "data.json").read_bytes(), preset=6))
    for f in ("args.json", "log.jsonl", "log.txt"):
        shutil.copyfile(a.run / f, a.dst / f)
    shutil.copytree(a.run / "tokenizer", a.dst / "tokenizer")
    print(f"kept {a.run} in {a.dst}: step {ck['step']}, {ck['cpu_seconds'] / 60:.1f} CPU minutes")


if __name__ == "__main__":
    main()
