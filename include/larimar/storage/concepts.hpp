#pragma once
// What a storage policy must provide: an owning row-major matrix type in its memory space and the primitive
// operations the memory algorithms are written against, all on raw pointers into that space (host pointers for
// storage::host, device pointers for storage::device) so one algorithm serves every space.
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "larimar/core/precision.hpp"

namespace larimar {

template <class S, class T>
concept storage_policy = requires { typename S::template matrix<T>; } &&
  requires(typename S::template matrix<T>& m, const typename S::template matrix<T>& cm, std::size_t n, T a,
           const T* p, T* q, std::size_t* idx, std::uint16_t* h, precision f) {
    { S::name } -> std::convertible_to<const char*>;
    { S::template make<T>(n, n) } -> std::same_as<typename S::template matrix<T>>;
    { S::rows(cm) } -> std::convertible_to<std::size_t>;
    { S::cols(cm) } -> std::convertible_to<std::size_t>;
    { S::data(m) } -> std::same_as<T*>;
    { S::data(cm) } -> std::same_as<const T*>;
    S::resize_rows(m, n);                    // keeps the leading rows
    S::upload(p, n, q);                      // host -> storage
    S::download(p, n, q);                    // storage -> host
    S::copy(p, n, q);                        // storage -> storage
    S::fill(q, n, a);
    S::transpose(p, n, n, q);                // out (cols×rows) = aᵀ
    S::set_identity(q, n, n, a);             // a on the diagonal of a rows×cols block, 0 elsewhere
    S::gemm(true, false, n, n, n, a, p, n, p, n, a, q, n);  // row-major C = α·op(A)·op(B) + β·C
    S::axpby(n, a, p, a, q);                 // y = a·x + b·y
    { S::dot(n, p, p) } -> std::same_as<T>;  // result on the host
    S::normalize_rows(q, n, n);
    S::row_argmax(p, n, n, idx, q);          // per row: index and value of the maximum; outputs on the host
    S::pinv(p, n, n, a, q);                  // Moore–Penrose pseudoinverse by SVD with relative cut-off a
    { S::cholesky_solve_gram(p, n, n, q, n) } -> std::same_as<bool>;  // see storage::host
    { S::all_finite(p, n) } -> std::same_as<bool>;
    S::narrow(p, n, h, f);                   // h = p rounded to fp16/bf16 (lookup_precision)
    S::widen(static_cast<const std::uint16_t*>(h), n, q, f);  // q = h widened to T
  };

}  // namespace larimar
