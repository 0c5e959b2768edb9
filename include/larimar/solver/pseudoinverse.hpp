#pragma once
// solver::pseudoinverse — the exact Moore–Penrose pseudoinverse, written once over the storage's backend
// primitives (S::linalg: LAPACK on the host, cuSOLVER on the GPU).
//
// method::svd (default): a = U·S·Vᵀ, a⁺ = V·S⁺·Uᵀ; singular values below rcond·σ_max are dropped. rcond defaults
//   to max(m, n)·ε of the element type (numpy's matrix_rank convention): about 6e-5 for a 512-wide float matrix.
// method::cholesky: for a wide (m ≤ n) matrix known to have full row rank and a modest condition number,
//   A⁺ = Aᵀ·(A·Aᵀ)⁻¹ through a Cholesky factorisation of the m×m Gram matrix (a tall matrix uses the transpose).
//   Cheaper than the SVD; when the Gram matrix is not clearly positive definite (cond(A) beyond ε^(-1/4) by the
//   factor's diagonal), it falls back to the SVD, so the result is never worse than method::svd's.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "larimar/storage/concepts.hpp"

namespace larimar::solver {

struct pseudoinverse {
  static constexpr const char* name = "pseudoinverse";
  enum class method { svd, cholesky };

  method how = method::svd;
  double rcond = 0;  // 0: max(m, n)·ε

  template <class S, class T>
  void pinv(const T* a, std::size_t m, std::size_t n, T* out) const {
    const T cut = rcond > 0 ? static_cast<T>(rcond) : static_cast<T>(std::max(m, n)) * std::numeric_limits<T>::epsilon();
    if (how == method::cholesky && cholesky<S>(a, m, n, out)) return;
    svd<S>(a, m, n, cut, out);
  }

  // Whether a Cholesky factor with this diagonal (m values, on the host) is trusted: its diagonal must not span
  // more than ε^(-1/4) in scale (cond(A) ≈ that span, cond(A·Aᵀ) its square), else the normal equations would
  // lose more than half the digits and the SVD is used instead.
  template <class T>
  static bool factor_acceptable(const std::vector<T>& diag) {
    T dmax(0), dmin = std::numeric_limits<T>::max();
    for (T d : diag) {
      dmax = std::max(dmax, std::abs(d));
      dmin = std::min(dmin, std::abs(d));
    }
    return dmin > T(0) && dmax / dmin <= T(1) / std::sqrt(std::sqrt(std::numeric_limits<T>::epsilon()));
  }

 private:
  // out (n×m) = V·S⁺·Uᵀ = vtᵀ·(u·S⁺)ᵀ, σ ≤ rcond·σ_max counting as zero.
  template <class S, class T>
  static void svd(const T* a, std::size_t m, std::size_t n, T rcond, T* out) {
    using L = typename S::linalg;
    if (m == 0 || n == 0) return;
    const std::size_t r = std::min(m, n);
    auto s = S::template make<T>(r, 1);
    auto u = S::template make<T>(m, r);
    auto vt = S::template make<T>(r, n);
    L::svd(a, m, n, S::data(s), S::data(u), S::data(vt));
    std::vector<T> inv(r);
    S::download(S::data(s), r, inv.data());
    const T cutoff = rcond * *std::max_element(inv.begin(), inv.end());
    for (auto& x : inv) x = x > cutoff ? T(1) / x : T(0);
    S::upload(inv.data(), r, S::data(s));
    L::scale_columns(S::data(u), m, r, static_cast<const T*>(S::data(s)));
    L::gemm(true, true, n, m, r, T(1), S::data(vt), n, S::data(u), r, T(0), out, m);
  }

  template <class S, class T>
  static bool cholesky(const T* a, std::size_t m, std::size_t n, T* out) {
    using L = typename S::linalg;
    if (m == 0 || n == 0) return true;
    if (m <= n) {
      // a⁺ = aᵀ·G⁻¹ with G = a·aᵀ (m×m): solve G·X = a (m×n) for X = G⁻¹·a; a⁺ = Xᵀ. LAPACK solves column-major
      // right-hand sides, and aᵀ (row-major n×m) is a column-major m×n: solved in place, it is a⁺ itself.
      auto g = S::template make<T>(m, m);
      L::gemm(false, true, m, m, n, T(1), a, n, a, n, T(0), S::data(g), m);
      if (!L::cholesky(S::data(g), m)) return false;
      auto d = S::template make<T>(m, 1);
      L::diagonal(static_cast<const T*>(S::data(g)), m, S::data(d));
      std::vector<T> diag(m);
      S::download(S::data(d), m, diag.data());
      if (!factor_acceptable(diag)) return false;
      L::transpose(a, m, n, out);
      return L::cholesky_solve(static_cast<const T*>(S::data(g)), m, out, n);
    }
    // Tall: a⁺ = (aᵀ)⁺ᵀ, and aᵀ is wide.
    auto at = S::template make<T>(n, m);
    L::transpose(a, m, n, S::data(at));
    auto atp = S::template make<T>(m, n);
    if (!cholesky<S>(S::data(at), n, m, S::data(atp))) return false;
    L::transpose(S::data(atp), m, n, out);
    return true;
  }
};

}  // namespace larimar::solver
