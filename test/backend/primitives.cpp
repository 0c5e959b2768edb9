// Every primitive of backend::linalg_backend, on every backend that runs here (backend::host, backend::omp; both
// take host pointers), against a plain reference or its defining property: the contracts backend/concepts.hpp
// states. A new backend joins by adding it to the template list.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "larimar/backend/blas_info.hpp"
#include "larimar/backend/host/host.hpp"
#include "larimar/backend/omp/omp.hpp"
#include "larimar/core/random.hpp"

using namespace larimar;

namespace {
template <class B_, class T_>
struct on {
  using B = B_;
  using T = T_;
};
#define LARIMAR_BACKENDS                                                                                  \
  on<backend::host, float>, on<backend::host, double>, on<backend::omp, float>, on<backend::omp, double>

template <class T>
std::vector<T> gaussian(std::size_t n, std::uint64_t seed) {
  std::vector<T> v(n);
  splitmix64 rng(seed);
  for (auto& x : v) x = static_cast<T>(rng.normal());
  return v;
}
// Row-major C = op(A)·op(B) in double, A m×k (or k×m when ta), B k×n (or n×k when tb).
template <class T>
std::vector<double> reference_product(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k,
                                      const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<double> c(m * n, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t t = 0; t < k; ++t)
        c[i * n + j] += double(ta ? a[t * m + i] : a[i * k + t]) * double(tb ? b[j * k + t] : b[t * n + j]);
  return c;
}
template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}
}  // namespace

TEST_CASE_TEMPLATE("element-wise primitives and reductions", P, LARIMAR_BACKENDS) {
  using B = typename P::B;
  using T = typename P::T;
  const std::size_t rows = 37, cols = 300;  // past one arg-max slice (256 columns) of the thrust backends
  const auto a = gaussian<T>(rows * cols, 1);

  std::vector<T> t(rows * cols);
  B::transpose(a.data(), rows, cols, t.data());
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) REQUIRE(t[j * rows + i] == a[i * cols + j]);

  std::vector<T> id(6 * 4, T(7));
  B::set_identity(id.data(), 6, 4, T(2.5));
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 4; ++j) CHECK(id[i * 4 + j] == (i == j ? T(2.5) : T(0)));

  std::vector<T> f(1000, T(1));
  B::fill(f.data(), f.size(), T(-3));
  CHECK(std::all_of(f.begin(), f.end(), [](T v) { return v == T(-3); }));

  std::vector<T> y = gaussian<T>(rows * cols, 2);
  const auto y0 = y;
  B::axpby(y.size(), T(2), a.data(), T(-0.5), y.data());
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == doctest::Approx(2 * a[i] - 0.5 * y0[i]).epsilon(1e-6));

  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += double(a[i]) * double(y0[i]);
  CHECK(double(B::dot(a.size(), a.data(), y0.data())) == doctest::Approx(d).epsilon(tolerance<T>() * 10));
  CHECK(B::dot(0, a.data(), y0.data()) == T(0));

  std::vector<T> n = a;
  std::fill_n(n.begin() + 3 * cols, cols, T(0));  // a zero row stays zero
  B::normalize_rows(n.data(), rows, cols);
  for (std::size_t i = 0; i < rows; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < cols; ++j) s += double(n[i * cols + j]) * n[i * cols + j];
    CHECK(s == doctest::Approx(i == 3 ? 0.0 : 1.0).epsilon(1e-5));
  }

  std::vector<T> sc = a, s(cols);
  for (std::size_t j = 0; j < cols; ++j) s[j] = T(j % 5) - T(2);
  B::scale_columns(sc.data(), rows, cols, s.data());
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < cols; ++j) REQUIRE(sc[i * cols + j] == a[i * cols + j] * s[j]);

  std::vector<T> diag(17);
  const auto sq = gaussian<T>(17 * 17, 3);
  B::diagonal(sq.data(), 17, diag.data());
  for (std::size_t i = 0; i < 17; ++i) CHECK(diag[i] == sq[i * 17 + i]);

  // Arg-max per row; ties go to the lowest column, across the thrust backends' slices too.
  std::vector<T> scores = a;
  scores[5 * cols + 10] = scores[5 * cols + 290] = T(100);
  std::vector<std::size_t> idx(rows);
  std::vector<T> val(rows);
  B::row_argmax(scores.data(), rows, cols, idx.data(), val.data());
  for (std::size_t i = 0; i < rows; ++i) {
    const auto* r = scores.data() + i * cols;
    const auto best = static_cast<std::size_t>(std::max_element(r, r + cols) - r);
    CHECK(idx[i] == best);
    CHECK(val[i] == r[best]);
  }
  CHECK(idx[5] == 10);

  CHECK(B::all_finite(a.data(), a.size()));
  for (T bad : {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity()}) {
    auto c = a;
    c[c.size() - 1] = bad;
    CHECK_FALSE(B::all_finite(c.data(), c.size()));
  }

  for (precision p : {precision::fp16, precision::bf16}) {
    std::vector<std::uint16_t> h(a.size());
    std::vector<T> back(a.size());
    B::narrow(a.data(), a.size(), h.data(), p);
    B::widen(h.data(), h.size(), back.data(), p);
    const double u = p == precision::fp16 ? 0x1p-11 : 0x1p-8;  // unit roundoff of the format
    for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(std::abs(double(back[i]) - a[i]) <= u * std::abs(double(a[i])));
  }
}

TEST_CASE_TEMPLATE("gemm in every transposition, a single row included", P, LARIMAR_BACKENDS) {
  using B = typename P::B;
  using T = typename P::T;
  for (std::size_t m : {std::size_t{1}, std::size_t{9}}) {
    const std::size_t n = 13, k = 21;
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const auto a = gaussian<T>(m * k, 4), b = gaussian<T>(k * n, 5);
        std::vector<T> c = gaussian<T>(m * n, 6);
        const auto c0 = c;
        B::gemm(ta, tb, m, n, k, T(1.5), a.data(), ta ? m : k, b.data(), tb ? k : n, T(-1), c.data(), n);
        const auto ref = reference_product(ta, tb, m, n, k, a, b);
        for (std::size_t i = 0; i < m * n; ++i)
          REQUIRE(double(c[i]) == doctest::Approx(1.5 * ref[i] - c0[i]).epsilon(tolerance<T>() * 10).scale(10));
      }
  }
}

TEST_CASE_TEMPLATE("svd: a = u·diag(s)·vt, s descending, orthonormal factors; wide and tall", P, LARIMAR_BACKENDS) {
  using B = typename P::B;
  using T = typename P::T;
  for (auto [m, n] : {std::pair<std::size_t, std::size_t>{12, 30}, {30, 12}}) {
    const std::size_t r = std::min(m, n);
    const auto a = gaussian<T>(m * n, 7);
    std::vector<T> s(r), u(m * r), vt(r * n);
    B::svd(a.data(), m, n, s.data(), u.data(), vt.data());
    CHECK(std::is_sorted(s.rbegin(), s.rend()));
    CHECK(s.back() > T(0));
    std::vector<T> us = u;
    B::scale_columns(us.data(), m, r, s.data());
    const auto back = reference_product(false, false, m, n, r, us, vt);
    for (std::size_t i = 0; i < m * n; ++i) REQUIRE(back[i] == doctest::Approx(a[i]).epsilon(100 * tolerance<T>()).scale(1));
    const auto utu = reference_product(true, false, r, r, m, u, u), vvt = reference_product(false, true, r, r, n, vt, vt);
    for (std::size_t i = 0; i < r; ++i)
      for (std::size_t j = 0; j < r; ++j) {
        CHECK(utu[i * r + j] == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(100 * tolerance<T>()).scale(1));
        CHECK(vvt[i * r + j] == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(100 * tolerance<T>()).scale(1));
      }
  }
}

TEST_CASE_TEMPLATE("cholesky factors a positive definite matrix, refuses an indefinite one; cholesky_solve solves",
                   P, LARIMAR_BACKENDS) {
  using B = typename P::B;
  using T = typename P::T;
  const std::size_t m = 10, n = 25, nrhs = 4;
  const auto a = gaussian<T>(m * n, 8);
  std::vector<T> g(m * m);
  B::gemm(false, true, m, m, n, T(1), a.data(), n, a.data(), n, T(0), g.data(), m);  // a·aᵀ: positive definite
  const auto g0 = g;
  REQUIRE(B::cholesky(g.data(), m));
  const auto x0 = gaussian<T>(nrhs * m, 9);  // column-major m×nrhs right-hand sides: b = G·x0
  std::vector<T> b(nrhs * m, T(0));
  for (std::size_t c = 0; c < nrhs; ++c)
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < m; ++j) b[c * m + i] += g0[i * m + j] * x0[c * m + j];
  REQUIRE(B::cholesky_solve(static_cast<const T*>(g.data()), m, b.data(), nrhs));
  for (std::size_t i = 0; i < b.size(); ++i) CHECK(b[i] == doctest::Approx(x0[i]).epsilon(1e3 * tolerance<T>()).scale(1));

  std::vector<T> indefinite(m * m, T(0));
  for (std::size_t i = 0; i < m; ++i) indefinite[i * m + i] = i == 4 ? T(-1) : T(1);
  CHECK_FALSE(B::cholesky(indefinite.data(), m));
}

// backend/blas_info.hpp: the OpenBLAS this suite links is found, and a fallback to pre-AVX2 kernels is named.
TEST_CASE("blas_info: OpenBLAS's core is read at run time; pre-AVX2 kernels on an AVX2/AVX-512 CPU are flagged") {
  const auto here = backend::blas_info();
  MESSAGE("OpenBLAS core: " << here.core << (here.fallback() ? " (" + here.advice() + ")" : std::string()));
  CHECK(!here.core.empty());  // this suite links OpenBLAS (cblas_sgemm above)
  const backend::cpu_vector_units avx512{true, true}, avx2{true, false}, sse{false, false};
  CHECK(backend::assess_blas("Prescott", false, avx512).better == "SkylakeX");
  CHECK(backend::assess_blas("Prescott", false, avx2).better == "Haswell");
  CHECK(backend::assess_blas("Core2", false, avx2).better == "Haswell");
  CHECK(!backend::assess_blas("Prescott", false, sse).fallback());    // nothing better to run
  CHECK(!backend::assess_blas("Prescott", true, avx512).fallback());  // OPENBLAS_CORETYPE chose them
  CHECK(!backend::assess_blas("SkylakeX", false, avx512).fallback());
  CHECK(!backend::assess_blas("Haswell", false, avx512).fallback());  // AVX2 kernels: not the 5x case
  CHECK(!backend::assess_blas("", false, avx512).fallback());         // not OpenBLAS
  const auto r = backend::assess_blas("Prescott", false, avx512);
  CHECK(r.advice().find("OPENBLAS_CORETYPE=SkylakeX") != std::string::npos);
  CHECK(backend::assess_blas("Haswell", false, avx512).advice().empty());
}
