#!/usr/bin/env python3
"""Where a checkpoint's reconstructions go wrong: teacher-forced token accuracy on held-out segments by position,
and greedy generation for any text and prompt (e.g. the "San Francisco" needle).

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/train/inspect_checkpoint.py <run or checkpoints/ folder> [--checkpoint path.pt]
      [--segments 200] [--text "..." --prompt "..."]
The held-out segments are the first --segments items of the run's fixed `seg` evaluation set (data.json), so
figures of runs that share a tokenizer are comparable. docs/training.md §7 quotes this tool's output.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import larimar_tiny as L  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path)
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="default: <run>/checkpoint.pt, else <run>/weights.pt")
    p.add_argument("--segments", type=int, default=200)
    p.add_argument("--text", default=None)
    p.add_argument("--prompt", default="")
    a = p.parse_args()
    torch.set_num_threads(1)
    path = a.checkpoint or next(f for f in (a.run / "checkpoint.pt", a.run / "weights.pt") if f.exists())
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = L.LarimarTiny(ck["config"])
    model.load_state_dict(ck["model"])
    model.eval()
    tok = L.load_tokenizer(a.run / "tokenizer")
    texts = [it["text"] for it in json.loads((a.run / "data.json").read_text())["eval"]["seg"][:a.segments]]
    ids = L.encode_batch(tok, texts)
    with torch.no_grad():
        z, _ = model.encode(*L.encoder_inputs(ids))
        dec_in, _ = L.pad_batch([[L.EOT] + t for t in ids])
        target, tmask = L.pad_batch([t + [L.EOT] for t in ids])
        pred = model.decode_logits(z, dec_in).argmax(-1)
    ok = (pred == target) & (tmask == 1)
    print(f"{path} (step {ck['step']}): teacher-forced token accuracy {ok.sum().item() / tmask.sum().item():.3f} "
          f"on {len(texts)} held-out segments")
    for pos in range(0, target.shape[1], 3):
        real = tmask[:, pos] == 1
        if real.sum() >= 10:
            print(f"  position {pos:2d}: {ok[:, pos][real].float().mean().item():.3f} ({int(real.sum())} segments)")
    if a.text is not None:
        tids = tok.encode(a.text).ids
        with torch.no_grad():
            z, _ = model.encode(*L.encoder_inputs([tids]))
            out = model.generate(z, [[L.EOT] + tok.encode(a.prompt).ids], max_new=36)[0]
        print(f"text ({len(tids)} tokens): {a.text!r}\ngenerated: {a.prompt + tok.decode(out)!r}")


if __name__ == "__main__":
    main()
