// Memory write/read against their BLAS floors (the GEMMs each operation needs, timed in the same run).
// Run: ./build/bench/bench_memory --benchmark_counters_tabular=true ; docs/benchmarks.md quotes it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <larimar/larimar.hpp>
#include <xtensor/xview.hpp>

namespace {

using namespace larimar;
using S = storage::host;

xt::xtensor<float, 2> gaussian(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  xt::xtensor<float, 2> m = xt::zeros<float>({rows, cols});
  splitmix64 rng(seed);
  for (auto& x : m) x = static_cast<float>(rng.normal());
  return m;
}

// The floor of a one-shot write of N segments into K slots: one sgemm K×N×C (M = Wᵀ·Z or W⁺·Z).
void BM_sgemm_floor(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0)), N = static_cast<std::size_t>(st.range(1));
  const std::size_t C = 768;
  const auto w = gaussian(N, K, 1), z = gaussian(N, C, 2);
  xt::xtensor<float, 2> m = xt::zeros<float>({K, C});
  for (auto _ : st) {
    S::linalg::gemm(true, false, K, C, N, 1.0f, w.data(), K, z.data(), C, 0.0f, m.data(), C);
    benchmark::DoNotOptimize(m.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * K * N * C, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_sgemm_floor)->Args({512, 512})->Args({2048, 2048})->Args({8192, 8192})->Unit(benchmark::kMillisecond);

template <class Solver>
void BM_write(benchmark::State& st, key_basis basis) {
  const auto K = static_cast<std::size_t>(st.range(0)), C = std::size_t{768};
  const auto z = gaussian(K, C, 3);
  // Drawing K×K keys (a QR for orthonormal ones) is construction, not the write: do it once, copy per iteration.
  const memory<float, S, keys::fixed_nearest, Solver> proto({.slots = K, .code_size = C, .seed = 1, .keys = basis});
  for (auto _ : st) {
    st.PauseTiming();
    auto mem = proto;
    st.ResumeTiming();
    benchmark::DoNotOptimize(mem.write(z, z));
  }
  st.counters["segments/s"] = benchmark::Counter(static_cast<double>(K), benchmark::Counter::kIsIterationInvariantRate);
}
void BM_write_orthonormal_keys(benchmark::State& st) { BM_write<solver::pseudoinverse>(st, key_basis::orthonormal); }
void BM_write_gaussian_keys_svd(benchmark::State& st) { BM_write<solver::pseudoinverse>(st, key_basis::gaussian); }
void BM_write_gaussian_keys_iterative(benchmark::State& st) {
  BM_write<solver::iterative<30, solver::init::safe>>(st, key_basis::gaussian);
}
BENCHMARK(BM_write_orthonormal_keys)->Arg(512)->Arg(2048)->Arg(8192)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_write_gaussian_keys_svd)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_write_gaussian_keys_iterative)->Arg(512)->Arg(2048)->Unit(benchmark::kMillisecond);

// One read at K slots: nearest-neighbour over the K written lookups, then z = w·M.
void BM_read(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0)), Q = static_cast<std::size_t>(st.range(1)), C = std::size_t{768};
  memory<float, S, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = K, .code_size = C, .seed = 1});
  const auto z = gaussian(K, C, 4);
  mem.write(z, z);
  xt::xtensor<float, 2> q = xt::view(z, xt::range(0, Q), xt::all());
  for (auto _ : st) benchmark::DoNotOptimize(mem.read(q));
  st.counters["queries/s"] = benchmark::Counter(static_cast<double>(Q), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_read)->Args({512, 1})->Args({2048, 1})->Args({8192, 1})->Args({8192, 64})->Unit(benchmark::kMicrosecond);

// The 1M-token context: 50,000 segments at C = 768 into blocks of 512, then single reads.
void BM_sharded_write_1M(benchmark::State& st) {
  const std::size_t N = 50000, C = 768;
  const auto z = gaussian(N, C, 5);
  for (auto _ : st) {
    st.PauseTiming();
    sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 512, .code_size = C, .seed = 1});
    st.ResumeTiming();
    benchmark::DoNotOptimize(mem.write(z, z));
  }
}
BENCHMARK(BM_sharded_write_1M)->Unit(benchmark::kSecond)->Iterations(2);

// The same context written as the pipeline writes it: batches of 256 segments, one write call each (the index
// and the block logs grow by amortised doubling; an exact reserve per call made this quadratic in the segments).
void BM_sharded_write_1M_batched(benchmark::State& st) {
  const std::size_t N = 50000, C = 768, batch = static_cast<std::size_t>(st.range(0));
  const auto z = gaussian(N, C, 5);
  for (auto _ : st) {
    st.PauseTiming();
    sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 512, .code_size = C, .seed = 1});
    st.ResumeTiming();
    for (std::size_t at = 0; at < N; at += batch) {
      const std::size_t n = std::min(batch, N - at);
      const matrix_ref<const float> rows(z.data() + at * C, n, C);
      benchmark::DoNotOptimize(mem.write(rows, rows));
    }
  }
}
BENCHMARK(BM_sharded_write_1M_batched)->Arg(256)->Unit(benchmark::kSecond)->Iterations(2);

// Prefix encoding, sharded (larimar-tiny's shape: K = 512, C = L = 256), 8,192 segments: the cost of filling
// blocks only while their write stays exact (memory_config::write_tolerance) against filling them to min(K, L)
// (a huge tolerance), in the same run. Prefixes with a flat spectrum (independent: both fill to 256) or a decaying
// one, σ_j = e^(-j/24) (numerically dependent, as a model's prefix encodings are: blocks are cut short).
void BM_prefix_encoding_write(benchmark::State& st) {
  const bool exact = st.range(0) != 0, decaying = st.range(1) != 0;
  const std::size_t N = 8192, K = 512, C = 256;
  const auto z = gaussian(N, C, 7);
  xt::xtensor<float, 2> prefix = gaussian(N, C, 8);
  if (decaying)
    for (std::size_t i = 0; i < N; ++i)
      for (std::size_t j = 0; j < C; ++j) prefix(i, j) *= std::exp(-static_cast<float>(j) / 24.0f);
  using M = sharded_memory<float, S, keys::prefix_encoding, solver::pseudoinverse>;
  const memory_config cfg{.slots = K, .code_size = C, .seed = 1, .write_tolerance = exact ? 0.0 : 1e9};
  const M proto(cfg);
  std::size_t blocks = 0;
  double worst = 0;
  for (auto _ : st) {
    st.PauseTiming();
    auto mem = proto;
    st.ResumeTiming();
    benchmark::DoNotOptimize(mem.write(z, prefix));
    st.PauseTiming();
    blocks = mem.block_count();
    const auto back = mem.read(prefix).latents;
    worst = 0;
    for (std::size_t i = 0; i < N; ++i) {
      double d = 0, n = 0;
      for (std::size_t j = 0; j < C; ++j) d += std::pow(back(i, j) - z(i, j), 2), n += std::pow(z(i, j), 2);
      worst = std::max(worst, std::sqrt(d / n));
    }
    st.ResumeTiming();
  }
  st.counters["blocks"] = static_cast<double>(blocks);
  st.counters["worst_read_error"] = worst;
  st.counters["segments/s"] = benchmark::Counter(static_cast<double>(N), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_prefix_encoding_write)->ArgNames({"exact", "decaying"})->Args({0, 0})->Args({1, 0})->Args({0, 1})->Args({1, 1})
    ->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_sharded_read_1M(benchmark::State& st) {
  const std::size_t N = 50000, C = 768, Q = static_cast<std::size_t>(st.range(0));
  static auto* mem = [] {
    auto* m = new sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>({.slots = 512, .code_size = 768, .seed = 1});
    m->write(gaussian(50000, 768, 5), gaussian(50000, 768, 5));
    return m;
  }();
  const auto q = gaussian(Q, C, 6);
  for (auto _ : st) benchmark::DoNotOptimize(mem->read(q));
  st.counters["queries/s"] = benchmark::Counter(static_cast<double>(Q), benchmark::Counter::kIsIterationInvariantRate);
  (void)N;
}
BENCHMARK(BM_sharded_read_1M)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);

void BM_sharded_read_1M_quantized(benchmark::State& st) {
  static auto* mem = [] {
    auto* m = new sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>(
        {.slots = 512, .code_size = 768, .seed = 1, .quantized_lookup = true});
    m->write(gaussian(50000, 768, 5), gaussian(50000, 768, 5));
    return m;
  }();
  const auto q = gaussian(1, 768, 6);
  for (auto _ : st) benchmark::DoNotOptimize(mem->read(q));
}
BENCHMARK(BM_sharded_read_1M_quantized)->Unit(benchmark::kMillisecond);

// Top-k reads over the 1M-token memory (50,000 entries, C = L = 768, blocks of 512): k = 1 (read()'s result) against
// k = 10, for one query and a batch of 64. The scan is the same GEMM; k adds the ranking of each query's scores
// and k reads (one GEMM per block hit) instead of one.
void BM_sharded_read_top_k(benchmark::State& st) {
  const auto k = static_cast<std::size_t>(st.range(0)), Q = static_cast<std::size_t>(st.range(1));
  static auto* mem = [] {
    auto* m = new sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>({.slots = 512, .code_size = 768, .seed = 1});
    m->write(gaussian(50000, 768, 5), gaussian(50000, 768, 5));
    return m;
  }();
  const auto q = gaussian(Q, 768, 6);
  for (auto _ : st) benchmark::DoNotOptimize(mem->read(q, k));
  st.counters["queries/s"] = benchmark::Counter(static_cast<double>(Q), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_sharded_read_top_k)->ArgNames({"k", "queries"})->Args({1, 1})->Args({10, 1})->Args({1, 64})->Args({10, 64})
    ->Unit(benchmark::kMillisecond);

// The scan floor of one query over 50,000×768: an sgemv reading the whole table.
void BM_sgemv_floor_1M(benchmark::State& st) {
  const auto table = gaussian(50000, 768, 7), q = gaussian(1, 768, 8);
  std::vector<float> out(50000);
  for (auto _ : st) {
    S::linalg::gemm(false, true, 1, 50000, 768, 1.0f, q.data(), 768, table.data(), 768, 0.0f, out.data(), 50000);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_sgemv_floor_1M)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
