#!/usr/bin/env python3
"""Keep a run for the next session: runs/ is git-ignored and dies with the session, so the run's weights and
everything it needs to go on are copied into a folder that is committed.

Python: /work/main/.venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/train/keep_run.py runs/<name> checkpoints/<name>
Writes weights.pt (model weights, step, CPU/wall seconds, config: what train.py --init-from reads; the optimiser
state is left out, which keeps the folder a third of the checkpoint's size), args.json, data.json (the training
pool and the fixed evaluation sets), log.jsonl, log.txt and tokenizer/. docs/training.md §9 gives the command that
continues from it.
"""
import shutil
import sys
from pathlib import Path

import torch


def main():
    run, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(parents=True, exist_ok=True)
    ck = torch.load(run / "checkpoint.pt")
    torch.save({k: ck[k] for k in ("model", "step", "cpu_seconds", "wall_seconds", "config")}, dst / "weights.pt")
    for f in ("args.json", "data.json", "log.jsonl", "log.txt"):
        shutil.copyfile(run / f, dst / f)
    shutil.copytree(run / "tokenizer", dst / "tokenizer", dirs_exist_ok=True)
    print(f"kept {run} in {dst}: step {ck['step']}, {ck['cpu_seconds'] / 60:.1f} CPU minutes")


if __name__ == "__main__":
    main()
