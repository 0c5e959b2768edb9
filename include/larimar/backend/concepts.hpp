#pragma once
// What a backend must provide: the BLAS/LAPACK-level primitives every memory algorithm and solver is written
// against, on raw pointers into the backend's memory space (host pointers for backend::host and backend::omp,
// device pointers for backend::cuda), row-major unless a primitive says otherwise. Storage policies name their
// backend (`S::linalg`); solvers and the memory compose these primitives, so an algorithm is written once.
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "larimar/core/precision.hpp"

namespace larimar::backend {

template <class B, class T>
concept linalg_backend = requires(std::size_t n, T a, const T* p, T* q, std::size_t* idx, std::uint16_t* h,
                                  precision f) {
  { B::name } -> std::convertible_to<const char*>;
  { B::host_accessible } -> std::convertible_to<bool>;  // its pointers may be read on the host
  B::fill(q, n, a);
  B::transpose(p, n, n, q);                // out (cols×rows) = aᵀ
  B::set_identity(q, n, n, a);             // a on the diagonal of a rows×cols block, 0 elsewhere
  B::gemm(true, false, n, n, n, a, p, n, p, n, a, q, n);  // C = α·op(A)·op(B) + β·C
  B::axpby(n, a, p, a, q);                 // y = a·x + b·y
  { B::dot(n, p, p) } -> std::same_as<T>;  // result on the host
  B::normalize_rows(q, n, n);
  B::scale_columns(q, n, n, p);            // column j of a rows×cols matrix times s[j]
  B::diagonal(p, n, q);                    // d[i] = a[i][i] of an n×n matrix
  B::row_argmax(p, n, n, idx, q);          // per row: index and value of the maximum; outputs on the host
  { B::all_finite(p, n) } -> std::same_as<bool>;
  B::narrow(p, n, h, f);                   // h = p rounded to fp16/bf16
  B::widen(static_cast<const std::uint16_t*>(h), n, q, f);  // q = h widened to T
  // LAPACK level. Thin SVD: a (m×n) = u (m×r)·diag(s)·vt (r×n), r = min(m, n), s descending; throws on failure.
  B::svd(p, n, n, q, q, q);
  // Cholesky factor of a symmetric n×n matrix in place (LAPACK's upper layout); false if not positive definite.
  { B::cholesky(q, n) } -> std::same_as<bool>;
  // Solves G·X = B for the G whose factor cholesky() left: B column-major n×nrhs (row-major nrhs×n), in place.
  { B::cholesky_solve(p, n, q, n) } -> std::same_as<bool>;
};

}  // namespace larimar::backend
