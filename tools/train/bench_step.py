#!/usr/bin/env python3
"""Seconds per training step (forward + backward + AdamW) of larimar-tiny shapes on this CPU.

Python: .venv/bin/python (recreate with `bash tools/setup_venv.sh`). Random token ids, 5 timed steps
after one warm-up step per shape; prints wall and CPU seconds per step. About a minute on one thread.
  .venv/bin/python tools/train/bench_step.py [threads]
"""
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import larimar_tiny as L  # noqa: E402

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)
for d, B, T in [(256, 64, 20), (192, 64, 20), (128, 64, 20), (256, 32, 20), (128, 128, 20)]:
    m = L.LarimarTiny(L.default_config(2048, d=d, enc_layers=2, dec_layers=2, heads=4, latent=d))
    opt = torch.optim.AdamW(m.parameters(), 1e-3)
    ids = torch.randint(5, 2048, (B, T))
    mask = torch.ones_like(ids)

    def step():
        z, _ = m.encode(ids, mask)
        logits = m.decode_logits(z, ids)
        loss = F.cross_entropy(logits.reshape(-1, 2048), ids.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t, c = time.time(), time.process_time()
    for _ in range(5):
        step()
    print(f"d={d} batch={B} tokens={T} threads={torch.get_num_threads()}: "
          f"{(time.time() - t) / 5:.3f} s/step wall, {(time.process_time() - c) / 5:.3f} s/step CPU", flush=True)
