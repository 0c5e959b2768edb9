#!/usr/bin/env python3
"""Writes the held-out evaluation items that `larimar-model-eval` scores through the C++ runtime (JSON lines).

Python: .venv/bin/python (bash tools/setup_venv.sh). Seeded; the held-out sources are debian_text.heldout's (whole
sources neither larimar-tiny nor larimar-small trained on). About a minute (the corpus is read once).
  .venv/bin/python tools/train/make_eval_items.py --out build/eval/heldout.jsonl [--size 500]
"""
import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import debian_text  # noqa: E402
import segments as S  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--out", type=Path, required=True)
p.add_argument("--size", type=int, default=500)
p.add_argument("--seed", type=int, default=4242)
a = p.parse_args()
items = S.heldout_items(debian_text.load_documents()["heldout"], a.size, a.seed)
a.out.parent.mkdir(parents=True, exist_ok=True)
a.out.write_text("".join(json.dumps(it) + "\n" for it in items))
print(a.out, dict(Counter(it["set"] for it in items)))
