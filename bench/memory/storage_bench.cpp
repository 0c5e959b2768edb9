// Host storage against device storage (thrust's OpenMP system here; the same code is the GPU path under nvcc),
// and the nearest-neighbour lookup against FAISS's exact inner-product index on the same vectors, in one run.
// Run: ./build/bench/bench_memory_storage --benchmark_counters_tabular=true ; docs/benchmarks.md quotes it.
// The lookup comparison alone: --benchmark_filter='BM_lookup|BM_faiss'
// Built without FAISS when libfaiss-dev is absent (the FAISS rows are then missing).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <vector>

#include <larimar/larimar.hpp>

#include "bench_data.hpp"

#if defined(LARIMAR_HAVE_FAISS)
#include <faiss/IndexFlat.h>
#include <faiss/IndexScalarQuantizer.h>
#endif

namespace {

using namespace larimar;
constexpr std::size_t C = 768;

using bench::gaussian;
using bench::view;

// The floor of a one-shot write of N segments into K slots: one sgemm K×N×C.
void BM_sgemm_floor(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0));
  const auto w = gaussian(K * K, 1), z = gaussian(K * C, 2);
  std::vector<float> m(K * C);
  for (auto _ : st) {
    storage::host::linalg::gemm(true, false, K, C, K, 1.0f, w.data(), K, z.data(), C, 0.0f, m.data(), C);
    benchmark::DoNotOptimize(m.data());
  }
}
BENCHMARK(BM_sgemm_floor)->Arg(512)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();

// A one-shot write of K segments into one memory of K slots (orthonormal keys: M = Wᵀ·Z). At K = 65536 one block
// would need three K×K matrices (keys, address log, covariance: 17 GB each in fp32), so that size is written as
// 128 blocks of 512 in a sharded memory: the same 65,536 slots.
// Memories are built once per storage and size and kept (drawing 8192 orthonormal keys is a QR of 8192×8192).
template <class S>
using one_block = memory<float, S, keys::fixed_nearest, solver::pseudoinverse>;
template <class S>
using blocks = sharded_memory<float, S, keys::fixed_nearest, solver::pseudoinverse>;
template <class M>
const M& cached(std::size_t key, const memory_config& cfg, const std::vector<float>* fill = nullptr) {
  static std::map<std::size_t, std::unique_ptr<M>> made;
  auto& m = made[key];
  if (!m) {
    m = std::make_unique<M>(cfg);
    if (fill) m->write(view(*fill, fill->size() / C), view(*fill, fill->size() / C));
  }
  return *m;
}

template <class S>
void BM_write(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0));
  const auto z = gaussian(K * C, 3);
  if (K <= 8192) {
    const auto& proto = cached<one_block<S>>(K, {.slots = K, .code_size = C, .seed = 1});
    for (auto _ : st) {
      st.PauseTiming();
      auto mem = proto;
      st.ResumeTiming();
      benchmark::DoNotOptimize(mem.write(view(z, K), view(z, K)));
    }
  } else {
    const auto& proto = cached<blocks<S>>(K, {.slots = 512, .code_size = C, .seed = 1});
    for (auto _ : st) {
      st.PauseTiming();
      auto mem = proto;
      st.ResumeTiming();
      benchmark::DoNotOptimize(mem.write(view(z, K), view(z, K)));
    }
  }
  st.counters["segments/s"] = benchmark::Counter(static_cast<double>(K), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_write<storage::host>)->Arg(512)->Arg(8192)->Arg(65536)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
BENCHMARK(BM_write<storage::device>)->Arg(512)->Arg(8192)->Arg(65536)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Q reads from a memory holding K segments (K = 65536: 128 blocks of 512), nearest-neighbour lookup included.
template <class S>
void BM_read(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0)), Q = static_cast<std::size_t>(st.range(1));
  const auto z = gaussian(K * C, 4);
  const std::vector<float> q(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(Q * C));
  const auto& mem = cached<blocks<S>>(K + 1, {.slots = K <= 8192 ? K : 512, .code_size = C, .seed = 1}, &z);
  for (auto _ : st) benchmark::DoNotOptimize(mem.read(view(q, Q)));
  st.counters["queries/s"] = benchmark::Counter(static_cast<double>(Q), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_read<storage::host>)->Args({512, 1})->Args({8192, 1})->Args({8192, 64})->Args({65536, 1})->Args({65536, 64})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_read<storage::device>)->Args({512, 1})->Args({8192, 1})->Args({8192, 64})->Args({65536, 1})->Args({65536, 64})->Unit(benchmark::kMicrosecond)->UseRealTime();

// The 1M-token context: 50,000 segments at C = 768 into blocks of 512.
// With storage::device the counter MB is what the memory's matrices hold (storage::device_memory), fp32 or with
// lookups and blocks in fp16.
template <class S, precision P = precision::full>
void BM_sharded_write_1M(benchmark::State& st) {
  const std::size_t N = 50000;
  const auto z = gaussian(N * C, 5);
  for (auto _ : st) {
    st.PauseTiming();
    const std::size_t before = storage::device_memory::in_use();
    blocks<S> mem({.slots = 512, .code_size = C, .seed = 1, .lookup_precision = P, .memory_precision = P});
    st.ResumeTiming();
    benchmark::DoNotOptimize(mem.write(view(z, N), view(z, N)));
    st.PauseTiming();
    st.counters["MB"] = static_cast<double>(storage::device_memory::in_use() - before) / 1e6;
    st.ResumeTiming();
  }
}
BENCHMARK(BM_sharded_write_1M<storage::host>)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_sharded_write_1M<storage::device>)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_sharded_write_1M<storage::device, precision::fp16>)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();

// ---- exact nearest-neighbour lookup over 50,000 × 768 lookup vectors, Q queries at once -----------------------
constexpr std::size_t kRows = 50000;
const std::vector<float>& table() {
  static const auto t = gaussian(kRows * C, 7);
  return t;
}
const std::vector<float>& unit_table() {  // FAISS gets unit rows: inner product = cosine, as ours
  static const auto t = [] {
    auto u = table();
    storage::host::linalg::normalize_rows(u.data(), kRows, C);
    return u;
  }();
  return t;
}
std::vector<float> queries(std::size_t q) {
  auto v = gaussian(q * C, 8);
  storage::host::linalg::normalize_rows(v.data(), q, C);
  return v;
}
void set_rate(benchmark::State& st, std::size_t q) {
  st.counters["queries/s"] = benchmark::Counter(static_cast<double>(q), benchmark::Counter::kIsIterationInvariantRate);
}

// Widen: bf16 rows through the portable path (widen each chunk to fp32, sgemm, arg-max) even where the fused
// AVX512-BF16 kernel (memory/bf16_scan.hpp) would run; the counter "fused" says which path a row measured.
template <class S, precision P, bool Widen = false>
void BM_lookup(benchmark::State& st) {
  using index_t = nearest_index<float, S>;
  const auto Q = static_cast<std::size_t>(st.range(0));
  static index_t* index = [] {
    auto* ix = new index_t(C, false, P);
    auto rows = S::template make<float>(kRows, C);
    S::upload(table().data(), kRows * C, S::data(rows));
    ix->add(S::data(rows), kRows);
    return ix;
  }();
  const auto q = queries(Q);
  auto dq = S::template make<float>(Q, C);
  S::upload(q.data(), Q * C, S::data(dq));
  const auto path = Widen ? index_t::scan::widen_gemm : index_t::scan::automatic;
  for (auto _ : st) benchmark::DoNotOptimize(index->search(S::data(dq), Q, path));
  set_rate(st, Q);
  st.counters["fused"] = !Widen && index->fused_bf16();
}
#define LOOKUP_ARGS ->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime()
BENCHMARK(BM_lookup<storage::host, precision::full>) LOOKUP_ARGS;
BENCHMARK(BM_lookup<storage::device, precision::full>) LOOKUP_ARGS;
BENCHMARK(BM_lookup<storage::host, precision::fp16>) LOOKUP_ARGS;
BENCHMARK(BM_lookup<storage::host, precision::bf16, true>) LOOKUP_ARGS;   // widen + sgemm
BENCHMARK(BM_lookup<storage::host, precision::bf16>) LOOKUP_ARGS;         // the fused kernel where the CPU has it
BENCHMARK(BM_lookup<storage::device, precision::bf16>) LOOKUP_ARGS;       // the same through storage::device (OpenMP)

#if defined(LARIMAR_HAVE_FAISS)
using idx_t = faiss::Index::idx_t;  // FAISS 1.7 (Debian 12); namespace-level faiss::idx_t in later versions

// FAISS's exact inner-product index on the same unit rows (so inner product = cosine, as ours), k = 1.
template <class Index>
void faiss_search(benchmark::State& st, Index& index) {
  const auto Q = static_cast<std::size_t>(st.range(0));
  const auto q = queries(Q);
  std::vector<float> d(Q);
  std::vector<idx_t> l(Q);
  for (auto _ : st) {
    index.search(static_cast<idx_t>(Q), q.data(), 1, d.data(), l.data());
    benchmark::DoNotOptimize(l.data());
  }
  set_rate(st, Q);
}
void BM_faiss_flat_ip(benchmark::State& st) {
  static faiss::IndexFlatIP* index = [] {
    auto* ix = new faiss::IndexFlatIP(static_cast<idx_t>(C));
    ix->add(static_cast<idx_t>(kRows), unit_table().data());
    return ix;
  }();
  faiss_search(st, *index);
}
BENCHMARK(BM_faiss_flat_ip) LOOKUP_ARGS;
// FAISS's fp16 storage (scalar quantizer QT_fp16), exact search over it: the counterpart of lookup_precision fp16.
void BM_faiss_sq_fp16_ip(benchmark::State& st) {
  static faiss::IndexScalarQuantizer* index = [] {
    auto* ix = new faiss::IndexScalarQuantizer(static_cast<int>(C), faiss::ScalarQuantizer::QT_fp16,
                                               faiss::METRIC_INNER_PRODUCT);
    ix->add(static_cast<idx_t>(kRows), unit_table().data());
    return ix;
  }();
  faiss_search(st, *index);
}
BENCHMARK(BM_faiss_sq_fp16_ip) LOOKUP_ARGS;
#endif

}  // namespace

BENCHMARK_MAIN();
