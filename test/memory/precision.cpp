// Lookup vectors stored in fp16/bf16 (memory_config::lookup_precision): half the index's bytes, scores accumulated
// in T. Bounds from the formats' unit roundoff u (core/precision.hpp): every best score within u of the full-
// precision one, the same hit wherever the full-precision margin exceeds 2u, identical reads for identical hits.
// (2u + u² and 4u + 2u² where the fused bf16 kernel also rounds the query: memory/bf16_scan.hpp.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"
#include <xtensor/xnorm.hpp>
#include "temp_path.hpp"

using namespace larimar;
using test::host;

namespace {
// Best and second-best cosine of each query against the rows, in double on the host: the reference margins.
template <class T>
std::vector<std::pair<double, double>> top2(const xt::xtensor<T, 2>& rows, const xt::xtensor<T, 2>& queries) {
  auto unit = [](const T* x, std::size_t d) {
    std::vector<double> u(x, x + d);
    double n = 0;
    for (double v : u) n += v * v;
    for (double& v : u) v /= std::sqrt(n);
    return u;
  };
  const std::size_t d = rows.shape()[1];
  std::vector<std::vector<double>> r;
  for (std::size_t i = 0; i < rows.shape()[0]; ++i) r.push_back(unit(rows.data() + i * d, d));
  std::vector<std::pair<double, double>> out;
  for (std::size_t q = 0; q < queries.shape()[0]; ++q) {
    const auto u = unit(queries.data() + q * d, d);
    double b1 = -2, b2 = -2;
    for (const auto& row : r) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += u[j] * row[j];
      if (s > b1) {
        b2 = b1;
        b1 = s;
      } else if (s > b2) {
        b2 = s;
      }
    }
    out.emplace_back(b1, b2);
  }
  return out;
}
}  // namespace

TEST_CASE_TEMPLATE("fp16/bf16 lookups: half the index bytes, scores within u, the same hits outside 2u margins", P,
                   LARIMAR_ALL_SETUPS) {
  using S = typename P::S;
  using T = typename P::T;
  using M = sharded_memory<T, S, keys::fixed_nearest, solver::pseudoinverse>;
  const std::size_t N = 3000, C = 16, L = 64, Q = 300;
  const auto z = test::gaussian<T>(N, C, 51);
  const auto look = test::gaussian<T>(N, L, 52);
  // Queries: written lookups plus heavy noise (σ = 2 per component, the signal is σ = 1), so that the best and
  // second-best scores are often close: near-ties are where a rounded index can disagree.
  xt::xtensor<T, 2> q = xt::zeros<T>({Q, L});
  const auto noise = test::gaussian<T>(Q, L, 53, 2.0);
  for (std::size_t i = 0; i < Q; ++i)
    for (std::size_t j = 0; j < L; ++j) q(i, j) = look(i * 10, j) + noise(i, j);
  const auto ref = top2(look, q);

  M full({.slots = 512, .code_size = C, .lookup_size = L});
  full.write(z, look);
  const auto rf = full.read(q);
  const auto latents_full = host(rf.latents);

  for (precision p : {precision::fp16, precision::bf16}) {
    CAPTURE(std::string(precision_name(p)));
    const double u = unit_roundoff(p);
    M half({.slots = 512, .code_size = C, .lookup_size = L, .lookup_precision = p});
    half.write(z, look);
    // The fused bf16 kernel (memory/bf16_scan.hpp, T = float on AVX512-BF16 CPUs) also rounds the unit query to
    // bf16: a second term |(q̂ − q)·l̂| ≤ u·‖l̂‖ ≤ u(1 + u) on top of the rows' u.
    const bool fused = test::store_of(half).index().fused_bf16();
    const double drift = u + (fused ? u * (1 + u) : 0.0);
    CHECK(test::store_of(half).index().bytes() * sizeof(T) == test::store_of(full).index().bytes() * 2);
    const auto rh = half.read(q);
    const auto latents_half = host(rh.latents);
    std::size_t same = 0, decidable = 0, decidable_same = 0;
    double worst_score = 0;
    for (std::size_t i = 0; i < Q; ++i) {
      const double ds = std::abs(static_cast<double>(rh.hits[i].score) - static_cast<double>(rf.hits[i].score));
      worst_score = std::max(worst_score, ds);
      CHECK(ds <= drift + 1e-5);
      const bool agree = rh.hits[i].entry == rf.hits[i].entry;
      same += agree;
      if (ref[i].first - ref[i].second > 2 * drift + 1e-5) {
        ++decidable;
        decidable_same += agree;
      }
      if (agree)  // the memory itself is stored in T: the same hit reads the same latent, bit for bit
        for (std::size_t j = 0; j < C; ++j) CHECK(latents_half(i, j) == latents_full(i, j));
    }
    CHECK(decidable_same == decidable);
    MESSAGE(std::string(precision_name(p)) << std::string(fused ? " (fused bf16 kernel, bf16 query" : " (widened rows")
                                           << ", " << sizeof(T) * 8 << "-bit accumulation): hits agree " << same << "/" << Q
                                           << ", margin > 2·" << drift << ": " << decidable << "/" << Q
                                           << ", max |score - score_full| " << worst_score << " (u = " << u << ")");
    CHECK(decidable >= Q / 2);  // the bound covers most queries
    // forget and refill keep index and blocks consistent in the packed format too
    half.forget(10);
    CHECK(half.read(xt::xtensor<T, 2>(xt::view(look, xt::range(10, 11), xt::all()))).hits[0].entry != 10);
  }
}

TEST_CASE_TEMPLATE("fp16/bf16 memory: every read within u·‖M‖_F of full precision, a block in a third of the bytes", P,
                   LARIMAR_ALL_SETUPS) {
  using S = typename P::S;
  using T = typename P::T;
  using M = sharded_memory<T, S, keys::fixed_nearest, solver::pseudoinverse>;
  const std::size_t K = 64, C = 48, L = 32, N = 300;  // 5 blocks, the last one partly filled
  const auto z = test::gaussian<T>(N, C, 56);
  const auto look = test::gaussian<T>(N, L, 57);
  M full({.slots = K, .code_size = C, .lookup_size = L});
  full.write(z, look);
  const auto rf = host(full.read(look).latents);
  for (precision p : {precision::fp16, precision::bf16}) {
    CAPTURE(std::string(precision_name(p)));
    const double u = unit_roundoff(p);
    M half({.slots = K, .code_size = C, .lookup_size = L, .memory_precision = p});
    half.write(z, look);
    // Stored: K×C in 16 bits per block; no K×K covariance in either (a one-shot block's is the prior).
    CHECK(test::store_of(full).block_bytes() == 5 * K * C * sizeof(T));
    CHECK(test::store_of(half).block_bytes() == 5 * K * C * 2);
    const auto r = half.read(look);
    const auto rh = host(r.latents);
    double worst = 0, sum = 0;
    for (std::size_t i = 0; i < N; ++i) {
      REQUIRE(r.hits[i].entry == i);  // the lookups are untouched: same hits
      const auto mb = host(half.block_mean(r.hits[i].block));
      double d2 = 0, z2 = 0;
      for (std::size_t j = 0; j < C; ++j) {
        d2 += std::pow(static_cast<double>(rh(i, j)) - static_cast<double>(rf(i, j)), 2);
        z2 += std::pow(static_cast<double>(rf(i, j)), 2);
      }
      // ‖a_s·δM‖ ≤ ‖δM‖_F ≤ u·‖M‖_F for a unit key a_s and |δM_kj| ≤ u·|M_kj| (one rounding of each element)
      CHECK(std::sqrt(d2) <= u * xt::norm_l2(mb)() * 1.001 + 1e-6);
      worst = std::max(worst, std::sqrt(d2 / z2));
      sum += std::sqrt(d2 / z2);
    }
    MESSAGE(std::string(precision_name(p)) << " memory, " << sizeof(T) * 8 << "-bit accumulation: read relative error max "
                                           << worst << ", mean " << sum / N << " (u = " << u << ")");
    CHECK(worst <= u);  // measured: max 0.6u (fp16), 0.67u (bf16), mean 0.42u: the K rounding errors partly cancel
    // forget re-rounds the block once; the other reads of that block stay within the same bound
    half.forget(3);
    const auto again = host(half.read(xt::xtensor<T, 2>(xt::view(look, xt::range(4, 64), xt::all()))).latents);
    const xt::xtensor<T, 2> want = xt::view(z, xt::range(4, 64), xt::all());
    CHECK(test::rel_error(again, want) <= 2 * u);
  }
  // Sequentially written blocks keep T (their covariance is live state): nothing is rounded.
  memory<T, S, keys::fixed_nearest, solver::pseudoinverse> seq({.slots = K, .code_size = C, .lookup_size = L,
                                                                .observation_noise = 0.1, .memory_precision = precision::fp16});
  const xt::xtensor<T, 2> z10 = xt::view(z, xt::range(0, 10), xt::all()), l10 = xt::view(look, xt::range(0, 10), xt::all());
  seq.write_sequential(z10, l10);
  CHECK(test::store_of(seq).block_bytes() == (K * C + K * K) * sizeof(T));
}

TEST_CASE_TEMPLATE("fp16 lookups and memory survive a state file: same precision, same hits, same reads", P, LARIMAR_FLOAT_SETUPS) {
  using S = typename P::S;
  using M = sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>;
  const auto z = test::gaussian<float>(700, 8, 54);
  const auto look = test::gaussian<float>(700, 32, 55);
  M mem({.slots = 256, .code_size = 8, .lookup_size = 32, .lookup_precision = precision::fp16,
         .memory_precision = precision::bf16});
  mem.write(z, look);
  const auto path = larimar::test::temp_path("precision-" + std::string(S::name) + ".lrm");
  io::save(mem, path.string());
  const auto again = io::load<M>(path.string());
  std::filesystem::remove(path);
  CHECK(again.config().lookup_precision == precision::fp16);
  CHECK(again.config().memory_precision == precision::bf16);
  CHECK(test::store_of(again).index().packed());
  CHECK(test::store_of(again).block_bytes() == test::store_of(mem).block_bytes());
  const auto a = mem.read(look), b = again.read(look);
  for (std::size_t i = 0; i < 700; ++i) {
    CHECK(a.hits[i].entry == b.hits[i].entry);
    CHECK(a.hits[i].score == b.hits[i].score);  // the stored rounded rows round back to themselves
  }
  CHECK(host(a.latents) == host(b.latents));
}

TEST_CASE("lookup_precision and quantized_lookup are alternatives: asking for both is refused by name") {
  using M = sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
  CHECK_THROWS_WITH_AS(M({.slots = 8, .code_size = 4, .quantized_lookup = true, .lookup_precision = precision::bf16}),
                       doctest::Contains("quantized_lookup"), value_error);
}
