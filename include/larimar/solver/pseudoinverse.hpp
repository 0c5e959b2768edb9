#pragma once
// solver::pseudoinverse — the exact Moore–Penrose pseudoinverse.
//
// method::svd (default): LAPACK gesdd; singular values below rcond·σ_max are dropped. rcond defaults to
//   max(m, n)·ε of the element type (numpy's matrix_rank convention): about 6e-5 for a 512-wide float matrix.
// method::cholesky: for a wide (m ≤ n) matrix known to have full row rank and a modest condition number,
//   A⁺ = Aᵀ·(A·Aᵀ)⁻¹ through a Cholesky factorisation of the m×m Gram matrix (a tall matrix uses the transpose).
//   Cheaper than the SVD; when the Gram matrix is not clearly positive definite (cond(A) beyond ε^(-1/4) by the
//   factor's diagonal), it falls back to the SVD, so the result is never worse than method::svd's.
#include <algorithm>
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
    S::pinv(a, m, n, cut, out);
  }

 private:
  template <class S, class T>
  static bool cholesky(const T* a, std::size_t m, std::size_t n, T* out) {
    if (m == 0 || n == 0) return true;
    if (m <= n) {
      // a⁺ = aᵀ·G⁻¹ with G = a·aᵀ (m×m). Solve G·X = a (m×n): X = G⁻¹·a, then a⁺ = Xᵀ (n×m).
      auto x = S::template make<T>(m, n);
      S::copy(a, m * n, S::data(x));
      if (!S::cholesky_solve_gram(a, m, n, S::data(x), n)) return false;
      S::transpose(S::data(x), m, n, out);
      return true;
    }
    // Tall: a⁺ = (aᵀ)⁺ᵀ, and aᵀ is wide.
    auto at = S::template make<T>(n, m);
    S::transpose(a, m, n, S::data(at));
    auto atp = S::template make<T>(m, n);
    if (!cholesky<S>(S::data(at), n, m, S::data(atp))) return false;
    S::transpose(S::data(atp), m, n, out);
    return true;
  }
};

}  // namespace larimar::solver
