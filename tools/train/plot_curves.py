#!/usr/bin/env python3
"""Plot each run's held-out exact match and training loss against CPU minutes; print the curves as markdown.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`).
  .venv/bin/python tools/train/plot_curves.py runs/v1_d256 runs/v2_d128 ... --out docs/training_curves.png
Reads <run>/log.jsonl (written by train.py); writes the PNG and prints one markdown table per run to stdout.
"""
import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_log(run: Path):
    """Training and evaluation records in step order. A run warm-started from another run's checkpoint (an "init"
    event) is shifted by that run's CPU minutes, so the x axis is the CPU time spent on the weights in all. Where
    a step was logged twice (a process stopped between checkpoints and the step re-run after a resume), the
    later record wins."""
    train, evals, offset = {}, {}, 0.0
    for line in (run / "log.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("event") == "init":
            offset = r["from_cpu_min"]
        if "cpu_min" in r:
            r["cpu_min"] += offset
        if r.get("eval"):
            evals[r["step"]] = r
        elif "loss" in r:
            train[r["step"]] = r
    return [train[k] for k in sorted(train)], [evals[k] for k in sorted(evals)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=Path("docs/training_curves.png"))
    a = p.parse_args()
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.8))
    for run in a.runs:
        train, evals = read_log(run)
        name = run.name
        ax[0].plot([r["cpu_min"] for r in train], [r["loss"] for r in train], label=name)
        ax[1].plot([r["cpu_min"] for r in evals], [r["seg_exact"] for r in evals], marker=".", label=name)
        ax[2].plot([r["cpu_min"] for r in evals], [r["num_digits"] for r in evals], marker=".", label=name)
        print(f"\n{name}\n\n| step | CPU min | seg exact | num exact | digit-exact | recall exact | passkey exact |"
              " passkey sentence exact |")
        print("|---|---|---|---|---|---|---|---|")
        for r in evals:
            ps = f"{r['passkey_sentence_exact']:.2f}" if "passkey_sentence_exact" in r else "—"
            print(f"| {r['step']} | {r['cpu_min']:.1f} | {r['seg_exact']:.2f} | {r['num_exact']:.2f} | "
                  f"{r['num_digits']:.2f} | {r['recall_exact']:.2f} | {r['passkey_exact']:.2f} | {ps} |")
    ax[0].set(xlabel="CPU minutes", ylabel="train loss (nats/token)", title="training loss", yscale="log")
    ax[1].set(xlabel="CPU minutes", ylabel="exact", title="held-out segments <= 24 tokens, exact", ylim=(0, 1))
    ax[2].set(xlabel="CPU minutes", ylabel="digit-exact", title="held-out 3-5 digit numbers, digit-exact",
              ylim=(0, 1))
    for x in ax:
        x.grid(alpha=0.3)
        x.legend(fontsize=7)
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=90)
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
