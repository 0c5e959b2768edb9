#!/usr/bin/env python3
"""Independent numpy reference of Larimar's memory math (docs/design.md).

Used by tools/make_memory_fixtures.py (parity fixtures for the C++ tests) and tools/bench_memory_numpy.py.
Needs only numpy (Debian's python3-numpy, or .venv/bin/python made by `bash tools/setup_venv.sh`). It is a
library module; running it directly (`python3 tools/memory_reference.py`) runs a few self-checks.

Written from the formulas of docs/design.md, not from the C++ of this repository. Every formula was then
compared with the public reference implementation (IBM/larimar, larimar_base/modules/memory.py, class GPM; read
only, nothing copied).

Notation: row-vector convention as in docs/design.md. Z is N x C (one latent per row), M is K x C, W is N x K,
U is K x K, a single address w is 1 x K and a single latent z is 1 x C.

Agreement with the reference implementation (GPM), formula by formula
-----------------------------------------------------------------------
- Prior: M0 = torch.eye(K, C) (rectangular identity) when `identity`, else torch.randn(K, C) (standard normal);
  U0 = diag(exp(memory_logvar) + 1e-6), memory_logvar = 0 and not trained. Same as here.
- One-shot ("direct") write: W = Z_xi . M0^+, M = W^+ . Z_xi, Z_xi = Z + xi; the covariance is left at U0.
  Same as here (sigma_xi = 0 path; the new M replaces M0, it is not added to it).
- Read: w = z . M^+ then z_read = w . M. Same (the deterministic read; see difference 4).
- Kalman step: Delta = z - w.M; wU = w.U; sigma_z = wU.w^T + sigma_xi^2; c = wU / sigma_z; M += c^T Delta;
  U -= c^T wU. Same, with sigma_xi^2 = observation_noise_std ** 2.
- Ben-Israel-Cohen: X0 = alpha . A^T with alpha = min(exp(ben_cohen_memory_init), 5e-4) and
  ben_cohen_memory_init = -5 (a fixed buffer), so alpha = min(e^-5, 5e-4) = 5e-4; X <- 2X - X.A.X for
  `pseudoinverse_approx_step` steps (default 3). Same.

Differences between the reference implementation and docs/design.md (docs/design.md is what this module does)
------------------------------------------------------------------------------------------------------------
1. The reference never computes an exact pseudoinverse: every "^+" (M0^+ in the write, W^+ in the write, M^+
   in the read) is the Ben-Israel-Cohen iterate with alpha = 5e-4 and `pseudoinverse_approx_step` steps.
   docs/design.md's exact solver (SVD with a relative cut-off) is the converged limit of that. Here: pinv() is exact;
   one_shot_write_iterative() reproduces the reference path with the iterative solver everywhere.
2. The sequential (Kalman, non-direct) write of the reference does not address with z . M^+: it uses
   w = z . M^T (M M^T + sigma_xi^2 I_K)^-1 (a ridge / regularised least squares, torch.inverse, no
   pseudoinverse). With sigma_xi = 0 and M of full row rank (K <= C, as in Larimar's K = 512 < C = 768) this is
   exactly z . M^+; for sigma_xi > 0 it differs, and for K > C with sigma_xi = 0 the reference's M M^T is
   singular. docs/design.md says w = z . M^+; content_address() does that, content_address_ridge() is the reference's.
3. With noise (sigma_xi > 0) the reference's direct write adds noise twice: Z_xi = Z + xi, and the address
   solve adds a second independent draw to Z_xi before multiplying by M0^+. Irrelevant for sigma_xi = 0, the
   only path this module implements for the one-shot write.
4. The reference's read samples w ~ N(w_mean, exp(w_logvar)) unless `deterministic`, and with sigma_xi > 0 it
   adds observation noise to the query before addressing and to z_read even when deterministic. docs/design.md (and
   this module) use the deterministic, noise-free read w = zq . M^+, z_read = w . M.
5. The reference works in float32, batched over a batch dimension; this module is float64, one memory.
"""

from __future__ import annotations

import math

try:
    import numpy as np
except ImportError as exc:  # pragma: no cover - message for a bare interpreter
    raise SystemExit("memory_reference.py needs numpy: apt-get install python3-numpy, "
                     "or use .venv/bin/python (bash tools/setup_venv.sh)") from exc

# Relative singular-value cut-off of the exact pseudoinverse: singular values below PINV_RCOND * sigma_max are
# treated as zero (numpy's `rcond` argument has exactly this meaning). The fixtures only use matrices whose
# singular values are either >= 1e-4 * sigma_max or <= 1e-13 * sigma_max, so any cut-off between those (in
# particular a float32 one of a few times max(m, n) * 1.2e-7) gives the same rank.
PINV_RCOND = 1e-10

# The reference's initial scale of the Ben-Israel-Cohen iteration: min(exp(ben_cohen_memory_init), 5e-4), with
# ben_cohen_memory_init = -5. Equal to 5e-4.
REFERENCE_ALPHA = min(math.exp(-5.0), 5e-4)

# Added to the prior variance, as the reference's EPSILON.
PRIOR_VAR_EPSILON = 1e-6


def pinv(A, rcond=PINV_RCOND):
    """Moore-Penrose pseudoinverse by SVD; singular values < rcond * sigma_max are cut (relative cut-off)."""
    return np.linalg.pinv(np.asarray(A, dtype=np.float64), rcond=rcond)


def numerical_rank(A, rcond=PINV_RCOND):
    """Number of singular values >= rcond * sigma_max (the rank pinv() keeps)."""
    s = np.linalg.svd(np.asarray(A, dtype=np.float64), compute_uv=False)
    if s.size == 0 or s[0] == 0.0:
        return 0
    return int(np.sum(s >= rcond * s[0]))


def content_address(Z, M, rcond=PINV_RCOND):
    """Content addressing against memory M: W = Z . M^+ (N x K)."""
    return np.asarray(Z, dtype=np.float64) @ pinv(M, rcond)


def content_address_ridge(Z, M, sigma_xi2):
    """The reference's address in its sequential write: W = Z . M^T (M M^T + sigma_xi^2 I)^-1 (difference 2)."""
    M = np.asarray(M, dtype=np.float64)
    gram = M @ M.T + sigma_xi2 * np.eye(M.shape[0])
    # Solve instead of invert; the Gram matrix is symmetric, so Z M^T G^-1 = (G^-1 M Z^T)^T.
    return np.linalg.solve(gram, M @ np.asarray(Z, dtype=np.float64).T).T


def one_shot_write(Z, M0, rcond=PINV_RCOND):
    """Noise-free one-shot write with content addressing against the prior: W = Z . M0^+, M = W^+ . Z."""
    Z = np.asarray(Z, dtype=np.float64)
    W = content_address(Z, M0, rcond)
    M = pinv(W, rcond) @ Z
    return W, M


def keyed_write(W, Z, rcond=PINV_RCOND):
    """One-shot write at given addresses (fixed keys): M = W^+ . Z."""
    return pinv(W, rcond) @ np.asarray(Z, dtype=np.float64)


def read(W, M):
    """Keyed read: Z_read = W . M (W may be one address 1 x K or several N x K)."""
    return np.asarray(W, dtype=np.float64) @ np.asarray(M, dtype=np.float64)


def read_content(Zq, M, rcond=PINV_RCOND):
    """Content read: W = Zq . M^+, Z_read = W . M. Returns (W, Z_read)."""
    W = content_address(Zq, M, rcond)
    return W, W @ np.asarray(M, dtype=np.float64)


def kalman_step(M, U, w, z, sigma_xi2):
    """One sequential write of the pair (w, z) into the memory (mean M, covariance U).

    Delta = z - w.M; wU = w.U; sigma_z = wU.w^T + sigma_xi^2; c = wU / sigma_z; M' = M + c^T Delta;
    U' = U - c^T wU. w is 1 x K (or length K), z is 1 x C (or length C). Returns (M', U', sigma_z).
    """
    M = np.asarray(M, dtype=np.float64)
    U = np.asarray(U, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64).reshape(1, -1)
    z = np.asarray(z, dtype=np.float64).reshape(1, -1)
    delta = z - w @ M
    wU = w @ U
    sigma_z = float((wU @ w.T)[0, 0]) + sigma_xi2
    c = wU / sigma_z
    return M + c.T @ delta, U - c.T @ wU, sigma_z


def kalman_sequence(M0, U0, Z, sigma_xi2, W=None, addressing="keys", rcond=PINV_RCOND):
    """Writes the rows of Z one by one with kalman_step, starting from (M0, U0).

    addressing: "keys" (w_i = W[i], W given), "content" (w_i = z_i . M^+ of the current memory, docs/design.md), or
    "content_ridge" (w_i = z_i . M^T (M M^T + sigma_xi^2 I)^-1 of the current memory, the reference's).
    Returns (M, U, W_used, sigma_z per step).
    """
    M = np.asarray(M0, dtype=np.float64).copy()
    U = np.asarray(U0, dtype=np.float64).copy()
    Z = np.asarray(Z, dtype=np.float64)
    used = np.zeros((Z.shape[0], M.shape[0]))
    sigmas = np.zeros(Z.shape[0])
    for i in range(Z.shape[0]):
        z = Z[i:i + 1]
        if addressing == "keys":
            w = np.asarray(W, dtype=np.float64)[i:i + 1]
        elif addressing == "content":
            w = content_address(z, M, rcond)
        elif addressing == "content_ridge":
            w = content_address_ridge(z, M, sigma_xi2)
        else:
            raise ValueError(f"kalman_sequence: unknown addressing {addressing!r}")
        used[i] = w[0]
        M, U, sigmas[i] = kalman_step(M, U, w, z, sigma_xi2)
    return M, U, used, sigmas


def ben_israel_cohen(A, steps, alpha=REFERENCE_ALPHA, record=None):
    """Ben-Israel-Cohen (Newton-Schulz) pseudoinverse: X0 = alpha . A^T, X <- 2X - X.A.X, `steps` times.

    Converges to A^+ iff 0 < alpha < 2 / sigma_max(A)^2. If `record` is a collection of step counts, returns
    (X_final, {t: X_t for t in record}) instead of X_final (t = 0 is X0).
    """
    A = np.asarray(A, dtype=np.float64)
    X = alpha * A.T
    saved = {}
    if record is not None and 0 in record:
        saved[0] = X.copy()
    for t in range(1, steps + 1):
        X = 2.0 * X - X @ A @ X
        if record is not None and t in record:
            saved[t] = X.copy()
    return (X, saved) if record is not None else X


def safe_alpha(A):
    """alpha = 1 / ||A||_2^2: always inside the convergence interval (0, 2 / sigma_max^2)."""
    return 1.0 / spectral_norm(A) ** 2


def spectral_norm(A):
    """||A||_2 = sigma_max(A)."""
    return float(np.linalg.norm(np.asarray(A, dtype=np.float64), 2))


def one_shot_write_iterative(Z, M0, steps, alpha=REFERENCE_ALPHA):
    """The reference's direct write with its iterative solver everywhere (difference 1):
    W = Z . BIC(M0), M = BIC(W) . Z, both with `steps` steps and the same alpha."""
    Z = np.asarray(Z, dtype=np.float64)
    W = Z @ ben_israel_cohen(M0, steps, alpha)
    return W, ben_israel_cohen(W, steps, alpha) @ Z


def prior_variance(memory_logvar=0.0):
    """sigma_0^2 = exp(memory_logvar) + 1e-6."""
    return math.exp(memory_logvar) + PRIOR_VAR_EPSILON


def prior(K, C, kind="identity", memory_logvar=0.0, rng=None):
    """The prior (M0, U0): M0 = rectangular identity K x C (ones on the diagonal) or standard Gaussian drawn
    from `rng` (a numpy Generator); U0 = sigma_0^2 . I_K."""
    if kind == "identity":
        M0 = np.eye(K, C)
    elif kind == "gaussian":
        if rng is None:
            raise ValueError("prior: a Gaussian prior needs a seeded rng")
        M0 = rng.standard_normal((K, C))
    else:
        raise ValueError(f"prior: unknown kind {kind!r}")
    return M0, prior_variance(memory_logvar) * np.eye(K)


def _self_check():
    rng = np.random.default_rng(1)
    K, C, N = 13, 7, 5
    Wk = rng.standard_normal((N, K))
    Z = rng.standard_normal((N, C))
    M = keyed_write(Wk, Z)
    assert np.allclose(read(Wk, M), Z), "exact recall with N <= K full-rank keys"
    # Sequential (sigma_xi = 0, M0 = 0, U0 = s I) equals the one-shot keyed write (minimum-norm solution).
    Ms, _, _, _ = kalman_sequence(np.zeros((K, C)), 2.0 * np.eye(K), Z, 0.0, W=Wk)
    assert np.allclose(Ms, M), "Kalman sequence vs one-shot"
    A = 3.0 * rng.standard_normal((K, C))
    assert np.allclose(ben_israel_cohen(A, 60, safe_alpha(A)), pinv(A)), "BIC converges with safe alpha"
    assert np.allclose(ben_israel_cohen(A, 60), pinv(A)), "BIC converges with reference alpha here"
    print("memory_reference self-check passed")


if __name__ == "__main__":
    _self_check()
