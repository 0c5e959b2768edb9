#pragma once
// A solver policy computes Moore–Penrose pseudoinverses for the memory. It receives the storage policy so the
// same solver runs on host or device memory.
#include <concepts>
#include <cstddef>

#include "larimar/storage/concepts.hpp"

namespace larimar {

template <class Solver, class T, class S>
concept solver_policy = storage_policy<S, T> && requires(const Solver& solver, const T* a, T* out, std::size_t n) {
  { Solver::name } -> std::convertible_to<const char*>;
  // out (n×m) = pinv(a (m×n)), both row-major in S's memory space.
  solver.template pinv<S>(a, n, n, out);
};

}  // namespace larimar
