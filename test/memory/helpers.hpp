#pragma once
// Shared by the memory tests: seeded data and error norms.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <vector>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "larimar/core/random.hpp"

namespace larimar::test {

template <class T>
xt::xtensor<T, 2> gaussian(std::size_t rows, std::size_t cols, std::uint64_t seed, double scale = 1.0) {
  xt::xtensor<T, 2> m = xt::zeros<T>({rows, cols});
  splitmix64 rng(seed);
  for (auto& x : m) x = static_cast<T>(scale * rng.normal());
  return m;
}

// rows×cols of rank `rank`: Gaussian coefficients times a Gaussian basis (dependent rows, as real prefix
// encodings are numerically).
template <class T>
xt::xtensor<T, 2> low_rank(std::size_t rows, std::size_t cols, std::size_t rank, std::uint64_t seed) {
  const auto coef = gaussian<T>(rows, rank, seed);
  const auto basis = gaussian<T>(rank, cols, seed + 1);
  xt::xtensor<T, 2> m = xt::zeros<T>({rows, cols});
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t k = 0; k < rank; ++k)
      for (std::size_t j = 0; j < cols; ++j) m(i, j) += coef(i, k) * basis(k, j);
  return m;
}

// ‖a − b‖_F / ‖b‖_F
template <class A, class B>
double rel_error(const A& a, const B& b) {
  double num = 0, den = 0;
  auto ia = a.begin();
  for (auto ib = b.begin(); ib != b.end(); ++ib, ++ia) {
    const double d = static_cast<double>(*ia) - static_cast<double>(*ib);
    num += d * d;
    den += static_cast<double>(*ib) * static_cast<double>(*ib);
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

// Relative error of each row.
template <class A, class B>
std::vector<double> row_rel_errors(const A& a, const B& b) {
  std::vector<double> out(b.shape()[0]);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = rel_error(xt::xtensor<double, 1>(xt::row(a, static_cast<long>(i))),
                       xt::xtensor<double, 1>(xt::row(b, static_cast<long>(i))));
  return out;
}

}  // namespace larimar::test

#include <type_traits>

#include "larimar/memory/detail/memory_base.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"

namespace larimar::detail {

// White-box access for the memory tests (memory_base befriends it): the store behind a memory's public calls.
struct store_inspector {
  template <class Memory>
  static auto& store(Memory& mem) {
    using M = std::remove_const_t<Memory>;
    using base = memory_base<typename M::value_type, typename M::storage_type, typename M::keys_type,
                             typename M::solver_type>;
    if constexpr (std::is_const_v<Memory>)
      return static_cast<const base&>(mem).store_;
    else
      return static_cast<base&>(mem).store_;
  }
};

}  // namespace larimar::detail

namespace larimar::test {

// A typed test runs once per (element type, storage) pair: every memory test covers storage::host and
// storage::device (thrust's OpenMP system here, CUDA under nvcc) as one test, not as copies.
template <class T_, class S_>
struct setup {
  using T = T_;
  using S = S_;
};
using H = storage::host;  // reference computations in the tests themselves run on the host

template <class Memory>
auto& store_of(Memory& mem) {
  return detail::store_inspector::store(mem);
}

template <class T>
xt::xtensor<T, 2> host(const xt::xtensor<T, 2>& m) {
  return m;
}
template <class T>
xt::xtensor<T, 2> host(const storage::device_matrix<T>& m) {
  xt::xtensor<T, 2> out = xt::zeros<T>({m.rows(), m.cols()});
  const auto v = m.to_host();
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}
// A host matrix in storage S.
template <class S, class T>
typename S::template matrix<T> on(const xt::xtensor<T, 2>& h) {
  auto m = S::template make<T>(h.shape()[0], h.shape()[1]);
  S::upload(h.data(), h.size(), S::data(m));
  return m;
}

}  // namespace larimar::test

#define LARIMAR_ALL_SETUPS                                                                                 \
  larimar::test::setup<float, larimar::storage::host>, larimar::test::setup<double, larimar::storage::host>, \
      larimar::test::setup<float, larimar::storage::device>, larimar::test::setup<double, larimar::storage::device>
#define LARIMAR_DOUBLE_SETUPS \
  larimar::test::setup<double, larimar::storage::host>, larimar::test::setup<double, larimar::storage::device>
#define LARIMAR_FLOAT_SETUPS \
  larimar::test::setup<float, larimar::storage::host>, larimar::test::setup<float, larimar::storage::device>
