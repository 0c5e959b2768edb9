#pragma once
// A content-address policy decides how keys::content addresses a segment in a sequential write: against the
// memory M (K×C) as the previous segment's Kalman step left it, through a map A (C×K) with w = z·A. The memory's
// solver is handed in (the pseudoinverse address uses it; an exact rule may ignore it); σ is the observation
// noise σ_ξ of the memory's config.
#include <concepts>
#include <cstddef>

#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar {

template <class A, class T, class S>
concept content_address_policy =
    storage_policy<S, T> && requires(const solver::pseudoinverse& solver, const T* mean, T* map, std::size_t n, T sigma) {
      { A::name } -> std::convertible_to<const char*>;
      A::template map<S>(solver, mean, n, n, sigma, map);  // map (C×K) for mean (K×C), in S's memory space
    };

}  // namespace larimar
