#!/usr/bin/env python3
"""Writes the memory parity fixtures: test/fixtures/memory/parity.json (seeded, deterministic).

Run from anywhere (needs numpy only: Debian's python3-numpy, or the project venv):
    python3 tools/make_memory_fixtures.py          # /usr/bin/python3 with python3-numpy
    .venv/bin/python tools/make_memory_fixtures.py # same result
Writes test/fixtures/memory/parity.json (about 292 KiB, kept under 300 KB) and prints one line per case.
Re-running gives the same file byte for byte on the same numpy/LAPACK (every case draws from its own generator
seeded with SEED and the case name; values may differ in the last bits on another LAPACK). The cases, the exact formulas
and the JSON layout are described in test/fixtures/memory/README.md. The math is tools/memory_reference.py
(docs/design.md, numpy, float64).

File layout: a JSON array of cases, one per line; each case is
    {"name": str, "op": str, "params": {...}, "inputs": {...}, "outputs": {...}}
Matrices are nested lists (row-major, list of rows) of float64 written with Python's repr (shortest string that
round-trips); a single address w or latent z is a 1 x K or 1 x C matrix. Scalars are plain numbers; lists of
scalars (singular values, per-step residuals) are flat lists.
"""

from __future__ import annotations

import json
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memory_reference as ref  # noqa: E402  (numpy import and its error message live there)
import numpy as np  # noqa: E402

SEED = 20261125
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "memory", "parity.json")

# Every pseudoinverse in these cases must have a clear rank gap, so that a float32 C++ solver with its own
# relative cut-off finds the same rank: kept singular values >= GAP_KEEP * sigma_max, cut ones <= GAP_CUT * sigma_max.
GAP_KEEP = 1e-4
GAP_CUT = 1e-13

BIC_STEPS = [1, 3, 15, 40]


def rng_for(name):
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def mat(a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    assert a.ndim == 2 and np.all(np.isfinite(a)), "fixture matrices must be finite 2-D"
    return [[float(v) for v in row] for row in a]


def flat(v):
    v = np.asarray(v, dtype=np.float64).ravel()
    assert np.all(np.isfinite(v))
    return [float(x) for x in v]


def check_gap(A, what):
    """Asserts the rank of A is unambiguous; returns (singular values, rank at ref.PINV_RCOND)."""
    s = np.linalg.svd(np.asarray(A, dtype=np.float64), compute_uv=False)
    rel = s / s[0]
    ambiguous = (rel < GAP_KEEP) & (rel > GAP_CUT)
    assert not ambiguous.any(), f"{what}: singular values without a clear gap: {rel}"
    rank = ref.numerical_rank(A)
    assert rank == int(np.sum(rel >= GAP_KEEP))
    return s, rank


def rel_err(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


cases = []


def add(name, op, params, inputs, outputs):
    assert all(c["name"] != name for c in cases), name
    cases.append({"name": name, "op": op, "params": params, "inputs": inputs, "outputs": outputs})


def gaussian_prior(rng, K, C):
    M0, _ = ref.prior(K, C, "gaussian", rng=rng)
    return M0


# --- prior -------------------------------------------------------------------------------------------------------
for K, C, logvar in [(13, 7, 0.0), (7, 13, -2.0)]:
    name = f"prior_identity_K{K}_C{C}_logvar{logvar:g}"
    M0, U0 = ref.prior(K, C, "identity", memory_logvar=logvar)
    add(name, "prior", {"K": K, "C": C, "kind": "identity", "memory_logvar": logvar},
        {}, {"M0": mat(M0), "U0": mat(U0), "sigma0_2": ref.prior_variance(logvar)})

# --- exact pseudoinverse -----------------------------------------------------------------------------------------
for name, shape, rank in [("pinv_tall_13x7", (13, 7), None), ("pinv_wide_5x13", (5, 13), None),
                          ("pinv_rank_deficient_9x13_rank4", (9, 13), 4)]:
    rng = rng_for(name)
    if rank is None:
        A = rng.standard_normal(shape)
    else:
        A = rng.standard_normal((shape[0], rank)) @ rng.standard_normal((rank, shape[1]))
    s, r = check_gap(A, name)
    if rank is not None:
        assert r == rank
    add(name, "pinv", {"rcond": ref.PINV_RCOND},
        {"A": mat(A)}, {"A_pinv": mat(ref.pinv(A)), "singular_values": flat(s), "rank": r})

# --- content addressing ------------------------------------------------------------------------------------------
for K, C, N in [(13, 7, 5), (7, 13, 5)]:
    name = f"content_address_K{K}_C{C}_N{N}"
    rng = rng_for(name)
    M = gaussian_prior(rng, K, C)
    Z = rng.standard_normal((N, C))
    check_gap(M, name)
    add(name, "content_address", {"rcond": ref.PINV_RCOND},
        {"Z": mat(Z), "M": mat(M)}, {"W": mat(ref.content_address(Z, M))})

# --- one-shot write with content addressing against the prior (sigma_xi = 0) -----------------------------------
written = {}  # name -> (Z, W, M), reused by the read cases
for K, C, N, kind in [(13, 7, 5, "identity"), (13, 7, 13, "identity"), (13, 7, 17, "identity"),
                      (13, 7, 5, "gaussian"), (13, 7, 17, "gaussian"),
                      (7, 13, 5, "identity"), (7, 13, 5, "gaussian"), (7, 13, 13, "gaussian")]:
    name = f"one_shot_write_{kind}_K{K}_C{C}_N{N}"
    rng = rng_for(name)
    M0 = np.eye(K, C) if kind == "identity" else gaussian_prior(rng, K, C)
    Z = rng.standard_normal((N, C))
    check_gap(M0, name + " M0")
    W, M = ref.one_shot_write(Z, M0)
    s_w, rank_w = check_gap(W, name + " W")
    written[name] = (Z, W, M)
    add(name, "one_shot_write", {"prior": kind, "sigma_xi2": 0.0, "rcond": ref.PINV_RCOND, "K": K, "C": C, "N": N},
        {"Z": mat(Z), "M0": mat(M0)},
        {"W": mat(W), "M": mat(M), "W_singular_values": flat(s_w), "W_rank": rank_w,
         "readback_rel_error": rel_err(W @ M, Z)})

# --- one-shot write at fixed keys: M = W^+ Z ----------------------------------------------------------------------
for K, C, N, keys in [(13, 7, 5, "gaussian"), (13, 7, 17, "gaussian"), (13, 7, 5, "orthonormal"),
                      (7, 13, 5, "gaussian")]:
    name = f"keyed_write_{keys}_K{K}_C{C}_N{N}"
    rng = rng_for(name)
    if keys == "gaussian":
        W = rng.standard_normal((N, K)) / np.sqrt(K)
    else:  # orthonormal rows (N <= K): W^+ = W^T
        q, _ = np.linalg.qr(rng.standard_normal((K, N)))
        W = q.T
    Z = rng.standard_normal((N, C))
    s_w, rank_w = check_gap(W, name)
    M = ref.keyed_write(W, Z)
    written[name] = (Z, W, M)
    add(name, "keyed_write", {"keys": keys, "rcond": ref.PINV_RCOND, "K": K, "C": C, "N": N},
        {"W": mat(W), "Z": mat(Z)},
        {"M": mat(M), "W_rank": rank_w, "readback_rel_error": rel_err(W @ M, Z)})

# --- reads --------------------------------------------------------------------------------------------------------
for src in ["keyed_write_gaussian_K13_C7_N5", "keyed_write_gaussian_K13_C7_N17"]:
    Z, W, M = written[src]
    name = "read_keyed_after_" + src
    add(name, "read", {"source_case": src}, {"W": mat(W), "M": mat(M)}, {"Z_read": mat(ref.read(W, M))})

for src in ["one_shot_write_identity_K13_C7_N5", "one_shot_write_gaussian_K13_C7_N5",
            "one_shot_write_gaussian_K7_C13_N5", "one_shot_write_gaussian_K7_C13_N13"]:
    Z, W, M = written[src]
    name = "read_content_after_" + src
    rng = rng_for(name)
    # Up to four written latents, then two fresh queries and a noisy copy of the first latent.
    Zq = np.vstack([Z[:4], rng.standard_normal((2, Z.shape[1])), Z[:1] + 0.1 * rng.standard_normal((1, Z.shape[1]))])
    check_gap(M, name + " M")
    Wq, Zr = ref.read_content(Zq, M)
    add(name, "read_content", {"source_case": src, "rcond": ref.PINV_RCOND, "rank_M": ref.numerical_rank(M)},
        {"Zq": mat(Zq), "M": mat(M)}, {"W": mat(Wq), "Z_read": mat(Zr)})

# --- single Kalman step -------------------------------------------------------------------------------------------
for K, C, kind, s2 in [(13, 7, "identity", 0.0), (13, 7, "identity", 0.1), (7, 13, "gaussian", 0.0),
                       (7, 13, "gaussian", 0.1)]:
    name = f"kalman_step_{kind}_K{K}_C{C}_sxi2_{s2:g}"
    rng = rng_for(name)
    M0, U0 = ref.prior(K, C, kind, rng=rng)
    w = rng.standard_normal((1, K)) / np.sqrt(K)
    z = rng.standard_normal((1, C))
    M1, U1, sz = ref.kalman_step(M0, U0, w, z, s2)
    add(name, "kalman_step", {"sigma_xi2": s2, "prior": kind, "memory_logvar": 0.0},
        {"M": mat(M0), "U": mat(U0), "w": mat(w), "z": mat(z)}, {"M": mat(M1), "U": mat(U1), "sigma_z": sz})

# A step from a non-prior state (full, non-diagonal covariance after three earlier steps).
name = "kalman_step_from_written_state_K13_C7_sxi2_0.1"
rng = rng_for(name)
M0, U0 = ref.prior(13, 7, "gaussian", rng=rng)
Wpre = rng.standard_normal((3, 13)) / np.sqrt(13)
Ms, Us, _, _ = ref.kalman_sequence(M0, U0, rng.standard_normal((3, 7)), 0.1, W=Wpre)
w = rng.standard_normal((1, 13)) / np.sqrt(13)
z = rng.standard_normal((1, 7))
M1, U1, sz = ref.kalman_step(Ms, Us, w, z, 0.1)
add(name, "kalman_step", {"sigma_xi2": 0.1},
    {"M": mat(Ms), "U": mat(Us), "w": mat(w), "z": mat(z)}, {"M": mat(M1), "U": mat(U1), "sigma_z": sz})

# --- Kalman sequences of N steps from (M0, U0) --------------------------------------------------------------------
# sigma_xi^2 = 0 needs every address outside the span of the earlier ones (else sigma_z = 0 and c = 0/0), so the
# noise-free sequences have N <= min(K, C); the noisy ones also go past K.
for K, C, N, kind, addressing, s2 in [
        (13, 7, 5, "identity", "keys", 0.0), (13, 7, 5, "identity", "keys", 0.1),
        (7, 13, 11, "gaussian", "keys", 0.1),          # tall: N > K
        (7, 13, 5, "gaussian", "content", 0.0), (7, 13, 5, "gaussian", "content", 0.1),
        (7, 13, 13, "gaussian", "content", 0.1),
        (9, 5, 4, "gaussian", "content", 0.1),         # K > C: M^+ M = I, so Delta = 0 and only U moves
        (7, 13, 5, "gaussian", "content_ridge", 0.1)]:  # the reference's own sequential address (difference 2)
    name = f"kalman_sequence_{addressing}_{kind}_K{K}_C{C}_N{N}_sxi2_{s2:g}"
    rng = rng_for(name)
    M0, U0 = ref.prior(K, C, kind, rng=rng)
    Z = rng.standard_normal((N, C))
    inputs = {"M0": mat(M0), "U0": mat(U0), "Z": mat(Z)}
    W = None
    if addressing == "keys":
        W = rng.standard_normal((N, K)) / np.sqrt(K)
        inputs["W"] = mat(W)
    else:
        check_gap(M0, name + " M0")
    M, U, used, sigmas = ref.kalman_sequence(M0, U0, Z, s2, W=W, addressing=addressing)
    # Noise-free: the smallest innovation variance must stay well above rounding (no 0/0 gain).
    assert s2 > 0.0 or sigmas.min() > 1e-3, (name, sigmas)
    outputs = {"M": mat(M), "U": mat(U), "sigma_z": flat(sigmas)}
    if addressing != "keys":  # with keys the addresses used are inputs["W"]
        outputs["W_used"] = mat(used)
    add(name, "kalman_sequence",
        {"addressing": addressing, "sigma_xi2": s2, "prior": kind, "memory_logvar": 0.0, "rcond": ref.PINV_RCOND,
         "K": K, "C": C, "N": N},
        inputs, outputs)

# Sequential equals one-shot: sigma_xi = 0, M0 = 0, U0 = s I, N <= K full-row-rank keys  =>  M = W^+ Z.
name = "kalman_sequence_equals_keyed_write_K13_C7_N5"
rng = rng_for(name)
K, C, N = 13, 7, 5
M0 = np.zeros((K, C))
U0 = ref.prior_variance(0.0) * np.eye(K)
W = rng.standard_normal((N, K)) / np.sqrt(K)
Z = rng.standard_normal((N, C))
M, U, used, sigmas = ref.kalman_sequence(M0, U0, Z, 0.0, W=W)
M_one = ref.keyed_write(W, Z)
assert rel_err(M, M_one) < 1e-10
add(name, "kalman_sequence",
    {"addressing": "keys", "sigma_xi2": 0.0, "prior": "zero", "memory_logvar": 0.0, "K": K, "C": C, "N": N},
    {"M0": mat(M0), "U0": mat(U0), "Z": mat(Z), "W": mat(W)},
    {"M": mat(M), "U": mat(U), "sigma_z": flat(sigmas), "M_keyed_write": mat(M_one)})

# --- Ben-Israel-Cohen ---------------------------------------------------------------------------------------------
def bic_case(name, A, alpha, alpha_kind, steps, residual_steps):
    A_pinv = ref.pinv(A)
    _, its = ref.ben_israel_cohen(A, max(max(steps), residual_steps), alpha,
                                  record=set(steps) | set(range(residual_steps + 1)))
    res = [float(np.linalg.norm(A @ its[t] @ A - A)) for t in range(residual_steps + 1)]
    err = [rel_err(its[t], A_pinv) for t in range(residual_steps + 1)]
    sn = ref.spectral_norm(A)
    add(name, "ben_israel_cohen",
        {"alpha": alpha, "alpha_kind": alpha_kind, "steps": steps, "alpha_sigma_max2": alpha * sn * sn},
        {"A": mat(A)},
        {"iterates": [mat(its[t]) for t in steps], "spectral_norm": sn, "A_pinv": mat(A_pinv),
         "residual_per_step": flat(res), "pinv_rel_error_per_step": flat(err)})
    return res, err


# Well scaled: sigma in about [4, 25], alpha_ref * sigma_max^2 ~ 0.3 < 2: both inits converge.
name = "bic_well_scaled_9x5"
rng = rng_for(name)
A = 4.0 * rng.standard_normal((9, 5))
check_gap(A, name)
_, e_ref = bic_case(name + "_reference_alpha", A, ref.REFERENCE_ALPHA, "reference", BIC_STEPS, 40)
_, e_safe = bic_case(name + "_safe_alpha", A, ref.safe_alpha(A), "safe", BIC_STEPS, 40)
assert e_ref[40] < 1e-12 and e_safe[40] < 1e-12

# Reference init diverges: scaled so that alpha_ref * sigma_max^2 = 2.5 > 2. The top singular direction's error
# e_t = (1 - alpha sigma_max^2)^(2^t) = (-1.5)^(2^t) grows; residuals recorded up to step 9 (~1e90: its
# square still fits a float64 Frobenius norm; float32 overflows after step 7). The safe alpha converges on the same matrix.
name = "bic_divergent_5x13"
rng = rng_for(name)
A = rng.standard_normal((5, 13))
A *= np.sqrt(2.5 / ref.REFERENCE_ALPHA) / ref.spectral_norm(A)
check_gap(A, name)
r_div, _ = bic_case(name + "_reference_alpha", A, ref.REFERENCE_ALPHA, "reference", [1, 3], 9)
assert all(r_div[t + 1] > r_div[t] for t in range(1, 9)) and 1e80 < r_div[9] < 1e100
_, e_conv = bic_case(name + "_safe_alpha", A, ref.safe_alpha(A), "safe", BIC_STEPS, 40)
assert e_conv[40] < 1e-12

# a measured fact: the identity prior with the reference init and 3 steps is far from M0^+.
name = "bic_identity_prior_9x5_reference_alpha"
A = np.eye(9, 5)
_, e_id = bic_case(name, A, ref.REFERENCE_ALPHA, "reference", BIC_STEPS, 40)
assert e_id[3] > 0.99 and e_id[15] < 1e-6

# --- the reference's direct write with the iterative solver everywhere (difference 1) ---------------------------
for kind, K, C, N in [("identity", 13, 7, 5), ("gaussian", 7, 13, 5)]:
    for steps in [3, 15]:
        name = f"one_shot_write_iterative_{kind}_K{K}_C{C}_N{N}_steps{steps}"
        rng = rng_for(f"one_shot_write_iterative_{kind}")  # same Z and M0 for every step count
        M0 = np.eye(K, C) if kind == "identity" else gaussian_prior(rng, K, C)
        Z = rng.standard_normal((N, C))
        W, M = ref.one_shot_write_iterative(Z, M0, steps)
        add(name, "one_shot_write_iterative",
            {"prior": kind, "steps": steps, "alpha": ref.REFERENCE_ALPHA, "sigma_xi2": 0.0},
            {"Z": mat(Z), "M0": mat(M0)},
            {"W": mat(W), "M": mat(M), "readback_rel_error": rel_err(W @ M, Z)})


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    text = "[\n" + ",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c in cases) + "\n]\n"
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, OUT)
    for c in cases:
        extra = ""
        o = c["outputs"]
        if "readback_rel_error" in o:
            extra = f"  readback_rel_error={o['readback_rel_error']:.3g}"
        print(f"{c['op']:<26} {c['name']}{extra}")
    print(f"wrote {len(cases)} cases, {len(text) / 1024:.1f} KiB -> {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
