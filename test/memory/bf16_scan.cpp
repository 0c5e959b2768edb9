// The fused AVX512-BF16 scan (memory/bf16_scan.hpp) that nearest_index::search takes for bf16 rows with T = float:
// against exact dot products in double over the same stored (bf16) rows, and against the widen + sgemm path that
// CPUs without avx512bf16 take (forced here with nearest_index::scan::widen_gemm).
//
// The bound e on |score − exact score| for a unit query q and a stored row r̂ (u = 2⁻⁸, u₃₂ = 2⁻²⁴,
// γ_m = m·u₃₂ / (1 − m·u₃₂)):
//   the query is normalised in fp32:  each q32_j within γ_(d+3)·|q_j| of the exact unit q_j,
//   then rounded to bf16 (the kernel): q̂_j within u·|q32_j|,
//   so Σ|q̂_j − q_j|·|r̂_j| ≤ (u + γ_(d+3)·(1 + u))·Σ|q_j|·|r̂_j| ≤ (u + γ_(d+3)·(1 + u))·‖r̂‖;
//   products of two bf16 are exact in fp32, the kernel sums them in fp32 with at most m = d/16 + 5 additions on
//   any path (two per vdpbf16ps step per lane, then a 16-lane tree): γ_m·Σ|q̂_j·r̂_j| ≤ γ_m·(1 + u)²·‖r̂‖;
//   denormal flushing adds at most d·2⁻¹²⁶.
// The widen + sgemm path has no query rounding and its own fp32 sums (γ_d at most), so the same e bounds it too.
// Where the exact top-2 gap exceeds 2e the best position is decided: both paths must return it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;

namespace {
double gamma32(double m) {
  const double u32 = std::ldexp(1.0, -24);
  return m * u32 / (1 - m * u32);
}
double score_bound(std::size_t d, double max_row_norm) {
  const double u = unit_roundoff(precision::bf16);
  const double dd = static_cast<double>(d);
  return (u + gamma32(dd + 3) * (1 + u) + gamma32(std::max(dd, dd / 16 + 5)) * (1 + u) * (1 + u)) * max_row_norm +
         dd * std::ldexp(1.0, -126);
}

struct reference {
  std::vector<double> rows;   // n×d: the stored bf16 rows, exactly
  std::vector<double> norms;  // ‖r̂‖
  std::size_t n, d;
  double score(const std::vector<double>& q, std::size_t r) const {
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += q[j] * rows[r * d + j];
    return s;
  }
};

template <class S>
reference stored_rows(const nearest_index<float, S>& index) {
  reference ref{{}, {}, index.size(), index.dim()};
  std::vector<float> h(ref.n * ref.d);
  index.visit_rows([&](const float* rows) { S::download(rows, h.size(), h.data()); });
  ref.rows.assign(h.begin(), h.end());
  for (std::size_t r = 0; r < ref.n; ++r) {
    double s = 0;
    for (std::size_t j = 0; j < ref.d; ++j) s += ref.rows[r * ref.d + j] * ref.rows[r * ref.d + j];
    ref.norms.push_back(std::sqrt(s));
  }
  return ref;
}

std::vector<double> unit(const float* x, std::size_t d) {
  std::vector<double> u(x, x + d);
  double s = 0;
  for (double v : u) s += v * v;
  if (s > 0)
    for (double& v : u) v /= std::sqrt(s);
  return u;
}
}  // namespace

TEST_CASE_TEMPLATE("bf16 scan: scores within the derived bound of exact, the decided hits of exact, the fallback agrees", P,
                   LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  using index_t = nearest_index<float, S>;
  // dims: all tail (17), one full step + tail (45), whole steps (64), several steps + tail (100); row counts: not a
  // multiple of the 4-row block nor of the 128-row tile (several tiles: both threads work and merge).
  for (std::size_t d : {17, 45, 64, 100}) {
    for (std::size_t n : {5, 1003}) {
      CAPTURE(d);
      CAPTURE(n);
      const auto table = test::gaussian<float>(n, d, 61 + d);
      index_t index(d, false, precision::bf16);
      auto rows = test::on<S>(table);
      index.add(S::data(rows), n);
      REQUIRE(index.fused_bf16() == detail::bf16_scan::supported());
      const auto ref = stored_rows(index);
      const double e = score_bound(d, *std::max_element(ref.norms.begin(), ref.norms.end()));
      for (std::size_t q : {1, 3, 64}) {
        CAPTURE(q);
        // Half the queries are written rows plus noise (clear winners), half pure noise (close races).
        auto queries = test::gaussian<float>(q, d, 71 + q + d);
        for (std::size_t i = 0; i < q; i += 2)
          for (std::size_t j = 0; j < d; ++j) queries(i, j) += 3.0f * table((i * 37) % n, j);
        auto dq = test::on<S>(queries);
        const auto fused = index.search(S::data(dq), q);
        const auto wide = index.search(S::data(dq), q, index_t::scan::widen_gemm);
        std::size_t decided = 0;
        for (std::size_t i = 0; i < q; ++i) {
          const auto u = unit(queries.data() + i * d, d);
          double b1 = -2, b2 = -2;
          std::size_t p1 = 0;
          for (std::size_t r = 0; r < n; ++r) {
            const double s = ref.score(u, r);
            if (s > b1) {
              b2 = b1;
              b1 = s;
              p1 = r;
            } else if (s > b2) {
              b2 = s;
            }
          }
          for (const auto* m : {&fused[i], &wide[i]}) {
            REQUIRE(m->position < n);
            CHECK(std::abs(m->score - ref.score(u, m->position)) <= e);  // its own row's score
            CHECK(std::abs(m->score - b1) <= e);                          // and the best score
          }
          if (b1 - b2 > 2 * e) {
            ++decided;
            CHECK(fused[i].position == p1);
            CHECK(wide[i].position == p1);
          }
        }
        if (n > 5 && q > 1) CHECK(decided >= q / 2);  // the written-row queries are all decided
      }
    }
  }
}

TEST_CASE("bf16 scan: the query is rounded to bf16 once and the sums stay within fp32 accumulation of exact") {
  // Tighter than the test above, and only true of the fused kernel: with the query rounded exactly as the kernel
  // does (the host storage's fp32 normalisation, then bf16), only the fp32 sums remain: γ_(d/16+5)·Σ|q̂_j·r̂_j|.
  using S = storage::host;
  nearest_index<float, S> index(100, false, precision::bf16);
  if (!index.fused_bf16()) {
    MESSAGE("this CPU has no avx512bf16: the fused kernel is not used, nothing to check here");
    return;
  }
  const std::size_t n = 517, d = 100, q = 64;
  const auto table = test::gaussian<float>(n, d, 81);
  index.add(table.data(), n);
  const auto ref = stored_rows(index);
  auto queries = test::gaussian<float>(q, d, 82);
  const auto hits = index.search(queries.data(), q);
  const auto wide = index.search(queries.data(), q, nearest_index<float, S>::scan::widen_gemm);
  S::linalg::normalize_rows(queries.data(), q, d);
  double worst = 0, worst_wide = 0;
  for (std::size_t i = 0; i < q; ++i) {
    std::vector<double> qh(d);
    for (std::size_t j = 0; j < d; ++j) qh[j] = larimar::bf16_to_f32(larimar::f32_to_bf16(queries(i, j)));
    const std::size_t r = hits[i].position;
    double abs_sum = 0;
    for (std::size_t j = 0; j < d; ++j) abs_sum += std::abs(qh[j] * ref.rows[r * d + j]);
    const double exact = ref.score(qh, r);
    CHECK(std::abs(hits[i].score - exact) <= gamma32(d / 16.0 + 5) * abs_sum);
    worst = std::max(worst, std::abs(hits[i].score - exact));
    worst_wide = std::max(worst_wide, std::abs(wide[i].score - ref.score(qh, wide[i].position)));
  }
  // The widened path keeps the query in fp32: it misses the bf16-query score by far more than fp32 sums would.
  CHECK(worst_wide > 100 * gamma32(d / 16.0 + 5));
  MESSAGE("|kernel − exact(bf16 query)| max " << worst << "; widen+sgemm vs the same: " << worst_wide);
}

TEST_CASE_TEMPLATE("bf16 scan: exact ties go to the lowest position, across tiles and threads", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  using index_t = nearest_index<float, S>;
  const std::size_t n = 1001, d = 45;
  auto table = test::gaussian<float>(n, d, 91);
  // Row 9 again at 130 (the next 128-row tile) and at 998 (the last tile, most likely the other thread's).
  for (std::size_t dup : {130, 998})
    for (std::size_t j = 0; j < d; ++j) table(dup, j) = table(9, j);
  index_t index(d, false, precision::bf16);
  auto rows = test::on<S>(table);
  index.add(S::data(rows), n);
  for (std::size_t q : {1, 3, 64}) {
    CAPTURE(q);
    auto queries = test::gaussian<float>(q, d, 92, 0.1);
    for (std::size_t i = 0; i < q; ++i)
      for (std::size_t j = 0; j < d; ++j) queries(i, j) = i % 3 == 2 ? 0.0f : queries(i, j) + table(9, j);
    auto dq = test::on<S>(queries);
    const auto fused = index.search(S::data(dq), q);
    const auto wide = index.search(S::data(dq), q, index_t::scan::widen_gemm);
    for (std::size_t i = 0; i < q; ++i) {
      CAPTURE(i);
      if (i % 3 == 2) {  // a zero query scores exactly 0 against every row: position 0 on both paths
        CHECK(fused[i].position == 0);
        CHECK(wide[i].position == 0);
        continue;
      }
      // The kernel scores the three copies of row 9 bit-identically (the same operations whatever a row's place
      // in its block): the lowest wins. The sgemm may not (measured: its edge columns sum in another order, so
      // the copy at 998 can come out an ulp higher); it must still pick a copy.
      if (index.fused_bf16()) CHECK(fused[i].position == 9);
      for (std::size_t p : {fused[i].position, wide[i].position}) CHECK((p == 9 || p == 130 || p == 998));
    }
    for (int again = 0; again < 10; ++again) {  // however the tiles were shared out between the threads
      const auto f = index.search(S::data(dq), q);
      for (std::size_t i = 0; i < q; ++i) CHECK((f[i].position == fused[i].position && f[i].score == fused[i].score));
    }
  }
}
