#!/usr/bin/env python3
"""numpy reference timings of the memory operations that the C++ benchmarks (bench/memory) time.

Run (numpy over the system OpenBLAS; Debian's python3-numpy or the project venv):
    nice -n 5 python3 tools/bench_memory_numpy.py                 # all cases, float32, 2 BLAS threads
    nice -n 5 .venv/bin/python tools/bench_memory_numpy.py --json-out out/bench_memory_numpy.json
Options: --threads N (default 2: sets OPENBLAS_NUM_THREADS/OMP_NUM_THREADS before numpy loads), --dtype
float32|float64, --quick (fewer repeats, for a smoke run), --budget S (skip a case whose first run or whose
estimate exceeds S seconds; default 30). Prints a table to stderr and a JSON document to stdout (and to --json-out).
Takes about 2 to 4 minutes on the 2-core development machine and peaks at about 1 GB of memory.

Each figure is the median over repeats (after one warm-up run) of time.perf_counter around the operation alone;
inputs are drawn beforehand from a seeded generator. The "floor" of an operation is the sum of the medians of the
plain GEMMs at the shapes it needs (timed in the same run), and "ratio" = median / floor, the same ratio the C++
benchmarks report against their OpenBLAS sgemm floor. The math is that of tools/memory_reference.py (docs/design.md
section 2); here it is rewritten in float32 with preallocated outputs, the way a fast numpy user would.

Operations (C = 768 throughout):
  write_keys_gaussian      M = pinv(W) . Z, W (N x K) Gaussian fixed keys, N = K (pinv by SVD, numpy.linalg.pinv)
  write_keys_orthonormal   M = W^T . Z, W orthonormal fixed keys (W^+ = W^T), N = K
  write_content            W = Z . pinv(M0); M = pinv(W) . Z, Gaussian prior M0, N = K (the reference's direct write)
  write_content_bic15      the same with the Ben-Israel-Cohen pseudoinverse (15 steps, safe alpha = 1/||A||_2^2,
                           ||A||_2 by 20 power iterations) for both pseudoinverses
  read_keyed               z = w . M for one address w (1 x K)
  read_content_pinv        z = (zq . pinv(M)) . M, M^+ recomputed per read (as the reference does)
  read_content_cached      z = (zq . M^+) . M with M^+ computed once beforehand
  sgemm MxKxN              C(MxN) = A(MxK) . B(KxN), plain numpy matmul (OpenBLAS sgemm)
  sharded_write_50000      50,000 latents in blocks of 512: M_b = A^T . Z_b with one fixed orthonormal 512 x 512 key
                           matrix A (the last block uses its first 336 rows); plus (second row) normalising the
                           50,000 full-latent lookup vectors for cosine search
  nn_lookup_50000          i* = argmax_j cos(q, l_j) over 50,000 x 768 pre-normalised lookups for one query
  sharded_read_50000       nn_lookup_50000 plus the read a_{i*} . M_b in the chosen block
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--budget", type=float, default=30.0, help="skip cases estimated or measured above this (s)")
    p.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    p.add_argument("--json-out", default=None)
    p.add_argument("--sizes", default="512,2048,8192", help="K values for the write and read cases")
    return p.parse_args()


ARGS = parse_args()
# Thread counts must be fixed before numpy (and OpenBLAS) load.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

try:
    import numpy as np  # noqa: E402
except ImportError:  # pragma: no cover
    raise SystemExit("bench_memory_numpy.py needs numpy: apt-get install python3-numpy, or use .venv/bin/python")

DT = np.dtype(ARGS.dtype)
C = 768
SEGMENTS = 50_000
BLOCK = 512
RNG = np.random.default_rng(20261125)

results = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def gaussian(*shape):
    return RNG.standard_normal(shape, dtype=np.float32).astype(DT, copy=False)


def orthonormal(n):
    q, _ = np.linalg.qr(RNG.standard_normal((n, n)))
    return q.astype(DT)


def orthonormal_large(n, block=2048):
    """A dense orthonormal n x n matrix without an n^3 QR: block-diagonal orthonormal blocks, rows permuted.
    (GEMM time does not depend on the values; this keeps set-up cheap for n = 8192.)"""
    if n <= block:
        return orthonormal(n)
    out = np.zeros((n, n), dtype=DT)
    for s in range(0, n, block):
        out[s:s + block, s:s + block] = orthonormal(block)
    return out[RNG.permutation(n)]


def time_op(fn, repeats, min_total=1.0, max_repeats=50, budget=None):
    """Warm-up run, then `repeats` timed runs (more, up to max_repeats, while the total stays under min_total).
    Returns (list of seconds, skipped reason or None)."""
    budget = ARGS.budget if budget is None else budget
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first > budget:
        return [first], f"first run took {first:.1f} s > {budget:g} s budget; not repeated"
    # A multi-second operation gains nothing from a warm-up: count its first run.
    times = [first] if first > 2.0 else []
    total = sum(times)
    while len(times) < repeats or (total < min_total and len(times) < max_repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
    return times, None


def record(name, shape, fn, floor_names=(), repeats=None, skip=None, note=None):
    repeats = repeats if repeats is not None else (3 if ARGS.quick else 7)
    row = {"name": name, "shape": shape, "floor": list(floor_names)}
    if note:
        row["note"] = note
    if skip:
        row.update({"skipped": skip})
        log(f"  {name:<34} {shape:<22} skipped: {skip}")
        results.append(row)
        return row
    times, skipped = time_op(fn, repeats)
    row.update({"median_s": statistics.median(times), "min_s": min(times), "repeats": len(times)})
    if skipped:
        row["skipped"] = skipped
    floor = 0.0
    for f in floor_names:
        match = [r for r in results if r["name"] == f and "median_s" in r]
        if not match:
            floor = None
            break
        floor += match[0]["median_s"]
    if floor_names and floor:
        row["floor_s"] = floor
        row["ratio_to_floor"] = row["median_s"] / floor
    log(f"  {name:<34} {shape:<22} {row['median_s'] * 1e3:12.3f} ms" +
        (f"   ratio {row['ratio_to_floor']:.2f}" if "ratio_to_floor" in row else ""))
    results.append(row)
    return row


def sgemm(m, k, n, tag=""):
    """Times C = A(m x k) . B(k x n) once per shape (and tag); returns the result name. A tag re-measures the
    shape next to the operation that uses it, so that a changing machine load hits both alike."""
    name = f"sgemm {m}x{k}x{n}{tag}"
    if any(r["name"] == name for r in results):
        return name
    a, b = gaussian(m, k), gaussian(k, n)
    out = np.empty((m, n), dtype=DT)
    record(name, f"{m}x{k} . {k}x{n}", lambda: np.matmul(a, b, out=out))
    return name


def power_norm(A, iters=20):
    """||A||_2 by power iteration on A^T A (slightly below the true value: scaled up by 1.01 to stay safe)."""
    v = np.ones(A.shape[1], dtype=DT) / np.sqrt(A.shape[1])
    for _ in range(iters):
        v = A.T @ (A @ v)
        v /= np.linalg.norm(v)
    return float(np.linalg.norm(A @ v)) * 1.01


def bic(A, steps):
    alpha = 1.0 / power_norm(A) ** 2
    X = (alpha * A.T).astype(DT)
    m, n = A.shape
    for _ in range(steps):
        # Form the smaller square product first: A.X is m x m, X.A is n x n.
        X = 2 * X - (X @ (A @ X) if m <= n else (X @ A) @ X)
    return X


def estimate_pinv_seconds(n_rows, n_cols, measured):
    """Scales a measured pinv time (SVD ~ m n min(m, n)) to another shape."""
    (m0, n0), t0 = measured
    cost = lambda m, n: m * n * min(m, n)  # noqa: E731
    return t0 * cost(n_rows, n_cols) / cost(m0, n0)


def bench_writes(K):
    N = K
    log(f"write, N = K = {K}, C = {C}")
    Z = gaussian(N, C)
    g1 = sgemm(K, N, C)      # M = W^+ (K x N) . Z (N x C)
    g0 = sgemm(N, C, K)      # W = Z (N x C) . M0^+ (C x K)
    pinv_ref = PINV_TIMES.get(512)
    est = estimate_pinv_seconds(N, K, pinv_ref) if pinv_ref else 0.0
    skip = None
    if est > ARGS.budget:
        skip = f"estimated {est:.0f} s (SVD of {N}x{K}, scaled from the measured 512x512 pinv) > {ARGS.budget:g} s"

    W = None if skip else gaussian(N, K) / np.sqrt(K)
    out = np.empty((K, C), dtype=DT)
    row = record(f"write_keys_gaussian K={K}", f"N={N}", lambda: np.matmul(np.linalg.pinv(W), Z, out=out),
                 floor_names=[g1], skip=skip, repeats=3 if K > 512 else None)
    if K == 512 and "median_s" in row:
        PINV_TIMES[512] = ((N, K), row["median_s"] - next(r["median_s"] for r in results if r["name"] == g1))
    del W

    Wo = orthonormal_large(K)
    record(f"write_keys_orthonormal K={K}", f"N={N}", lambda: np.matmul(Wo.T, Z, out=out), floor_names=[g1],
           note="orthonormal keys: block-diagonal QR blocks, rows permuted" if K > 2048 else None)
    del Wo

    M0 = gaussian(K, C)

    def content_write():
        W = np.matmul(Z, np.linalg.pinv(M0))
        return np.matmul(np.linalg.pinv(W), Z, out=out)

    est_c = (estimate_pinv_seconds(N, K, PINV_TIMES[512]) + estimate_pinv_seconds(K, C, PINV_TIMES[512])
             if 512 in PINV_TIMES else 0.0)
    skip_c = None
    if est_c > ARGS.budget:
        skip_c = f"estimated {est_c:.0f} s (SVDs of {K}x{C} and {N}x{K}) > {ARGS.budget:g} s"
    record(f"write_content K={K}", f"N={N}", content_write, floor_names=[g0, g1], skip=skip_c,
           repeats=3 if K > 512 else None)

    def content_write_bic():
        W = np.matmul(Z, bic(M0, 15))
        return np.matmul(bic(W, 15), Z, out=out)

    # BIC on the N x K address matrix costs 15 * 2 GEMMs of N x K x N: too slow beyond K = 2048 here.
    skip_b = None
    if K > 2048:
        skip_b = (f"estimated > {ARGS.budget:g} s (30 GEMMs of {N}x{K}x{N} "
                  f"≈ {30 * 2 * N * K * N / 80e9:.0f} s at ~80 GFLOP/s)")
    record(f"write_content_bic15 K={K}", f"N={N}", content_write_bic, floor_names=[g0, g1], skip=skip_b,
           repeats=3 if K > 512 else None)


def bench_reads(K):
    log(f"read, K = {K}, C = {C}, one query")
    M = gaussian(K, C)
    w = gaussian(1, K)
    zq = gaussian(1, C)
    out = np.empty((1, C), dtype=DT)
    gr = sgemm(1, K, C)   # z = w (1 x K) . M (K x C)
    ga = sgemm(1, C, K)   # w = zq (1 x C) . M^+ (C x K)
    record(f"read_keyed K={K}", "1 query", lambda: np.matmul(w, M, out=out), floor_names=[gr])
    Mp = np.linalg.pinv(M)
    record(f"read_content_cached K={K}", "1 query", lambda: np.matmul(zq @ Mp, M, out=out), floor_names=[ga, gr])
    record(f"read_content_pinv K={K}", "1 query, M+ per read", lambda: np.matmul(zq @ np.linalg.pinv(M), M, out=out),
           floor_names=[ga, gr], repeats=3 if K > 512 else None)
    record(f"read_content_bic15 K={K}", "1 query, BIC per read", lambda: np.matmul(zq @ bic(M, 15), M, out=out),
           floor_names=[ga, gr], repeats=3 if K > 512 else None)


def bench_sharded():
    log(f"sharded: {SEGMENTS} segments, blocks of {BLOCK}, C = {C}")
    Z = gaussian(SEGMENTS, C)
    A = orthonormal(BLOCK)
    blocks = (SEGMENTS + BLOCK - 1) // BLOCK
    Ms = np.empty((blocks, BLOCK, C), dtype=DT)
    L = np.empty_like(Z)
    g = sgemm(BLOCK, BLOCK, C, tag=" (sharded)")

    def write_blocks():
        for b in range(blocks):
            Zb = Z[b * BLOCK:(b + 1) * BLOCK]
            np.matmul(A[:Zb.shape[0]].T, Zb, out=Ms[b])

    def write_with_lookups():
        write_blocks()
        norms = np.sqrt(np.einsum("ij,ij->i", Z, Z))
        np.divide(Z, norms[:, None], out=L)

    reps = 3 if ARGS.quick else 5
    record(f"sharded_write_{SEGMENTS}", f"{blocks} blocks of {BLOCK}", write_blocks, repeats=reps,
           note=f"floor = {blocks} x sgemm {BLOCK}x{BLOCK}x{C} (the last block is 336 rows)")
    row = results[-1]
    floor = [r for r in results if r["name"] == g][0]["median_s"] * blocks
    row["floor_s"], row["ratio_to_floor"] = floor, row["median_s"] / floor
    log(f"    floor {floor * 1e3:.1f} ms, ratio {row['ratio_to_floor']:.2f}")
    record(f"sharded_write_{SEGMENTS}+lookups", "blocks + normalise L", write_with_lookups, repeats=reps)

    # Lookup vectors: the full latents, normalised (the "no prefix" lookup).
    q = Z[12345] + 0.1 * gaussian(C)
    scores = np.empty(SEGMENTS, dtype=DT)
    z_out = np.empty(C, dtype=DT)

    def lookup():
        qn = q / np.linalg.norm(q)
        np.matmul(L, qn, out=scores)
        return int(np.argmax(scores))

    assert lookup() == 12345, "nearest neighbour must find the perturbed segment"

    def read():
        i = lookup()
        b, s = divmod(i, BLOCK)
        np.matmul(A[s], Ms[b], out=z_out)
        return z_out

    rel = float(np.linalg.norm(read() - Z[12345]) / np.linalg.norm(Z[12345]))
    gemv = np.empty(SEGMENTS, dtype=DT)
    record(f"sgemv {SEGMENTS}x{C}", "L . q (the scan alone)", lambda: np.matmul(L, q, out=gemv), repeats=20)
    record(f"nn_lookup_{SEGMENTS}", "cosine argmax, 1 query", lookup, floor_names=[f"sgemv {SEGMENTS}x{C}"],
           repeats=20)
    record(f"sharded_read_{SEGMENTS}", "lookup + block read", read, floor_names=[f"sgemv {SEGMENTS}x{C}"],
           repeats=20, note=f"read-back relative error of the found segment: {rel:.2e}")


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() or "lapack" in line.lower()})
        return [os.path.realpath(p) for p in libs]
    except OSError:
        return []


PINV_TIMES = {}


def main():
    sizes = [int(s) for s in ARGS.sizes.split(",") if s]
    started = time.time()
    load_before = os.getloadavg()
    np.matmul(gaussian(64, 64), gaussian(64, 64))  # load BLAS before reading the maps
    log(f"numpy {np.__version__}, {ARGS.dtype}, {ARGS.threads} BLAS threads, BLAS: {blas_library()}")
    for K in sizes:
        bench_writes(K)
    for K in sizes:
        bench_reads(K)
    bench_sharded()
    doc = {
        "tool": "tools/bench_memory_numpy.py",
        "dtype": ARGS.dtype, "threads": ARGS.threads, "C": C, "numpy": np.__version__,
        "blas": blas_library(), "python": platform.python_version(), "machine": platform.machine(),
        "cpu": _cpu_name(), "nproc": os.cpu_count(), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_s": time.time() - started, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "results": results,
    }
    print_table(doc)
    text = json.dumps(doc, indent=1)
    print(text)
    if ARGS.json_out:
        os.makedirs(os.path.dirname(os.path.abspath(ARGS.json_out)), exist_ok=True)
        with open(ARGS.json_out, "w") as f:
            f.write(text + "\n")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_table(doc):
    log("")
    log(f"{'operation':<36} {'shape':<24} {'median':>12} {'floor':>12} {'ratio':>7}  repeats")
    for r in doc["results"]:
        if "median_s" not in r:
            log(f"{r['name']:<36} {r['shape']:<24} {'skipped':>12}   {r['skipped']}")
            continue
        fl = f"{r['floor_s'] * 1e3:.3f} ms" if "floor_s" in r else "-"
        ra = f"{r['ratio_to_floor']:.2f}" if "ratio_to_floor" in r else "-"
        extra = f"  ({r['skipped']})" if "skipped" in r else ""
        log(f"{r['name']:<36} {r['shape']:<24} {r['median_s'] * 1e3:9.3f} ms {fl:>12} {ra:>7}  {r['repeats']}{extra}")
    log(f"wall {doc['wall_s']:.0f} s; load average before {doc['loadavg_before'][0]:.2f}, "
        f"after {doc['loadavg_after'][0]:.2f}")


if __name__ == "__main__":
    main()
