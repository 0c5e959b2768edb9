#pragma once
// What a storage policy must provide: an owning row-major matrix type in its memory space, allocation, and
// transfer to and from the host — and, as `linalg`, the backend whose primitives work on its pointers
// (backend/concepts.hpp: host pointers for storage::host, the active thrust system's for storage::device), so
// one memory algorithm serves every space.
#include <concepts>
#include <cstddef>

#include "larimar/backend/concepts.hpp"

namespace larimar {

template <class S, class T>
concept storage_policy = requires { typename S::template matrix<T>; typename S::linalg; } &&
  backend::linalg_backend<typename S::linalg, T> &&
  requires(typename S::template matrix<T>& m, const typename S::template matrix<T>& cm, std::size_t n, const T* p,
           T* q) {
    { S::name } -> std::convertible_to<const char*>;
    { S::template make<T>(n, n) } -> std::same_as<typename S::template matrix<T>>;  // zero-filled
    { S::rows(cm) } -> std::convertible_to<std::size_t>;
    { S::cols(cm) } -> std::convertible_to<std::size_t>;
    { S::data(m) } -> std::same_as<T*>;
    { S::data(cm) } -> std::same_as<const T*>;
    S::resize_rows(m, n);  // keeps the leading rows
    S::upload(p, n, q);    // host -> storage
    S::download(p, n, q);  // storage -> host
    S::copy(p, n, q);      // storage -> storage
  };

}  // namespace larimar
