#!/usr/bin/env python3
"""Writes test/fixtures/memory/ibm_reference.json: results of IBM's own Larimar memory (class GPM) on small
seeded cases, for the C++ test test/memory/ibm_parity.cpp.

The reference code is not part of this repository and is never committed. Get it first, into a folder outside
the repository (any commit of github.com/IBM/larimar that has larimar_base/modules/memory.py; the fixtures were
made from commit f5692c71d3f9fca980b760d70f90d1c5e96d7050):

    git clone --depth 1 https://github.com/IBM/larimar /tmp/ibm-larimar
    # or, from a bare mirror (the project's workspace `fetch github:IBM/larimar` gives one):
    #   mkdir -p /tmp/ibm && git --git-dir=/work/.mirror/IBM+larimar/repo show HEAD:larimar_base/modules/memory.py > /tmp/ibm/memory.py

then run, with Debian's python3-torch and python3-numpy (torch 1.13 on the CPU):

    python3 tools/make_ibm_reference_fixtures.py /tmp/ibm-larimar/larimar_base/modules/memory.py

The file is read and executed in memory with its `.cuda()` calls removed (the only change; nothing is written
back), so the class runs on the CPU. Each case runs the class twice, in float64 (the stored results) and in
float32 as the reference trains (only the relative difference to float64 is stored, `float32_rel_error`, to
justify the float tolerances of the C++ test). The output is about 190 KB, seeded and repeatable.

What each case runs (GPM's own methods; K slots, C code size, N segments, batch size 1, deterministic reads):
- one_shot: GPM(direct_writing=True).write_to_memory(Z): W = Z·BIC(M0), M = BIC(W)·Z, U = U0 (σ_ξ = 0: the
  direct write draws random noise otherwise).
- sequential, address "ridge": GPM(direct_writing=False).write_to_memory(Z): per row w = z·Mᵀ(M·Mᵀ + σ_ξ²I)⁻¹
  of the current memory, then GPM._update_memory (the Kalman step). The per-row addresses are recomputed by the
  same two methods in the same order, and the result is checked to equal write_to_memory's.
- sequential, address "pinv": the Kalman steps of GPM._update_memory at w = z·BIC(M) of the current memory,
  the address GPM._solve_w_mean(pseudoinverse=True) computes (GPM offers it in its direct write and its read, not
  in its sequential write). With σ_ξ > 0 that method adds a random draw to z; the address is taken from a second
  GPM with σ_ξ = 0, i.e. the noise-free mean of GPM's address.
- every case then reads its queries Zq with GPM.read_with_encoded_input(deterministic=True) of a GPM
  with σ_ξ = 0 (with σ_ξ > 0 the read adds random noise to the query and to the result): w = q·BIC(M), z = w·M.
BIC is GPM._approx_pseudo_inverse: X₀ = 5e-4·Aᵀ, X ← 2X − X·A·X, `steps` times (3 and 15; 60 is the converged
iteration, the exact pseudoinverse to double precision on these matrices).

The Gaussian prior M0 is this library's own seeded prior (memory_config{.seed, .prior = gaussian}: splitmix64
with Box–Muller, reproduced below) loaded into GPM.memory_mean, so the C++ memory starts from the same M0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import types
import zlib

try:
    import numpy as np
    import torch
except ImportError as exc:  # pragma: no cover - message for a bare interpreter
    raise SystemExit("make_ibm_reference_fixtures.py needs torch and numpy: apt-get install python3-torch") from exc

SEED = 20261126
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "memory", "ibm_reference.json")
MASK = (1 << 64) - 1


def load_gpm(path):
    """GPM from IBM's memory.py, executed in memory with `.cuda()` removed."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    if "class GPM" not in source:
        raise SystemExit(f"{path}: no class GPM; pass larimar_base/modules/memory.py of github.com/IBM/larimar")
    module = types.ModuleType("ibm_larimar_memory")
    exec(compile(source.replace(".cuda()", ""), path, "exec"), module.__dict__)  # noqa: S102 (reference code)
    return module.GPM, hashlib.sha256(source.encode()).hexdigest(), source.count(".cuda()")


# --- this library's seeded Gaussian prior (include/larimar/core/prior.hpp, core/random.hpp) ----------------------
class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (float(self.next() >> 11) + 1.0) * (1.0 / 9007199254740992.0)

    def normal(self):
        u1, u2 = self.uniform(), self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def library_prior(K, C, kind, seed):
    if kind == "identity":
        return np.eye(K, C)
    rng = SplitMix64(seed ^ 0x7072696F72)  # "prior"
    return np.array([[rng.normal() for _ in range(C)] for _ in range(K)])


# --- running GPM ----------------------------------------------------------------------------------------------------
def make_gpm(GPM, K, C, M0, dtype, direct, steps, sigma):
    torch.set_default_dtype(dtype)
    g = GPM(code_size=C, memory_size=K, direct_writing=direct, ordering=False, pseudoinverse_approx_step=steps,
            observation_noise_std=sigma, identity=True, deterministic=True)
    g = g.to(dtype)
    with torch.no_grad():
        g.memory_mean.copy_(torch.tensor(M0, dtype=dtype))
    return g


def episode(x, dtype):  # N×C -> (N, batch 1, C)
    return torch.tensor(x, dtype=dtype).unsqueeze(1)


def run_case(GPM, p, Z, Zq, M0, dtype):
    K, C, steps, sigma = p["K"], p["C"], p["steps"], p["sigma"]
    out = {}
    with torch.no_grad():
        if p["write"] == "one_shot":
            g = make_gpm(GPM, K, C, M0, dtype, True, steps, sigma)
            z = episode(Z, dtype)
            (M, U), _ = g.write_to_memory(z)
            W = g._solve_w_mean(z=z, M=g._get_prior_state(1)[0], pseudoinverse=True)
        else:
            g = make_gpm(GPM, K, C, M0, dtype, False, steps, sigma)
            addr = g if p["address"] == "ridge" else make_gpm(GPM, K, C, M0, dtype, False, steps, 0.0)
            state = g._get_prior_state(1)
            rows = []
            for i in range(Z.shape[0]):  # GPM._update_state's loop, keeping each row's address
                z = episode(Z[i:i + 1], dtype)
                w = addr._solve_w_mean(z=z, M=state[0], pseudoinverse=p["address"] == "pinv")
                rows.append(w[0, 0])
                state = g._update_memory(old_memory=state, w=w, z=z)
            M, U = state
            W = torch.stack(rows).unsqueeze(1)
            if p["address"] == "ridge":  # the loop above is write_to_memory's
                (Mw, Uw), _ = g.write_to_memory(episode(Z, dtype))
                assert torch.equal(Mw, M) and torch.equal(Uw, U), "ridge loop differs from GPM.write_to_memory"
        reader = make_gpm(GPM, K, C, M0, dtype, True, steps, 0.0)
        zr, _ = reader.read_with_encoded_input(episode(Zq, dtype), (M, U), deterministic=True)
    out["W"] = W[:, 0, :]
    out["M"] = M[0]
    out["U"] = U[0]
    out["Z_read"] = zr[:, 0, :]
    return {k: v.double().numpy() for k, v in out.items()}


def mat(a):
    a = np.asarray(a, dtype=np.float64)
    assert a.ndim == 2 and np.all(np.isfinite(a)), "fixture matrices must be finite 2-D"
    return [[float(v) for v in row] for row in a]


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def cases():
    """(name, params): K < C is Larimar's own shape (512 < 768); K > C and N > K are covered too."""
    out = []
    for prior, K, C, steps_list in [("identity", 8, 12, (3, 15, 60)), ("gaussian", 8, 12, (3, 15, 60)),
                                    ("identity", 12, 8, (15, 60))]:
        for steps in steps_list:
            out.append((f"one_shot_{prior}_K{K}_C{C}_N5_steps{steps}",
                        dict(write="one_shot", address="pinv", prior=prior, K=K, C=C, N=5, steps=steps, sigma=0.0)))
    for address, prior, K, C, N, sigma, steps_list in [
            ("ridge", "gaussian", 8, 12, 6, 0.0, (60,)),
            ("ridge", "gaussian", 8, 12, 10, 0.3, (15, 60)),
            ("ridge", "identity", 8, 12, 6, 0.3, (60,)),
            ("ridge", "gaussian", 12, 8, 6, 0.3, (60,)),
            ("pinv", "gaussian", 8, 12, 6, 0.0, (15, 60)),
            ("pinv", "gaussian", 8, 12, 10, 0.3, (3, 15, 60)),
            ("pinv", "identity", 8, 12, 6, 0.0, (60,))]:
        for steps in steps_list:
            out.append((f"sequential_{address}_{prior}_K{K}_C{C}_N{N}_sigma{sigma:g}_steps{steps}",
                        dict(write="sequential", address=address, prior=prior, K=K, C=C, N=N, steps=steps,
                             sigma=sigma)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("memory_py", help="path to larimar_base/modules/memory.py of github.com/IBM/larimar")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    GPM, digest, patched = load_gpm(args.memory_py)
    torch.manual_seed(0)  # nothing below draws, but GPM's constructor does (its unused Gaussian prior)
    records = []
    for name, p in cases():
        rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
        p = dict(p, seed=int(zlib.crc32(name.encode())))
        M0 = library_prior(p["K"], p["C"], p["prior"], p["seed"])
        Z = rng.standard_normal((p["N"], p["C"]))
        # Up to four written latents, two fresh queries, a noisy copy of the first latent.
        Zq = np.vstack([Z[:4], rng.standard_normal((2, p["C"])), Z[:1] + 0.1 * rng.standard_normal((1, p["C"]))])
        ref64 = run_case(GPM, p, Z, Zq, M0, torch.float64)
        ref32 = run_case(GPM, p, Z, Zq, M0, torch.float32)
        f32 = {k: rel(ref32[k], v) for k, v in ref64.items()}
        records.append({"name": name, "params": p, "inputs": {"Z": mat(Z), "Zq": mat(Zq), "M0": mat(M0)},
                        "outputs": {k: mat(v) for k, v in ref64.items()}, "float32_rel_error": f32})
        print(f"{name:55s} read-back {rel(ref64['Z_read'][:min(4, p['N'])], Z[:4]):.3g}  "
              f"float32 vs float64: M {f32['M']:.1e}  Z_read {f32['Z_read']:.1e}")
    doc = {"source": "github.com/IBM/larimar larimar_base/modules/memory.py (class GPM)",
           "memory_py_sha256": digest, "cuda_calls_removed": patched, "torch": torch.__version__,
           "cases": records}
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("{" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items() if k != "cases"))
        f.write(',\n"cases": [\n' + ",\n".join(json.dumps(r) for r in records) + "\n]}\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {len(records)} cases)")


if __name__ == "__main__":
    sys.exit(main())
