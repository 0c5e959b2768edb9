// The memory on the GPU (storage::device under nvcc: thrust CUDA, cuBLAS, cuSOLVER) against its cuBLAS floor,
// and device memory against context length for a memory held on the host or on the device. Compiled in CI, run by
// scripts/gpu-check.sh on a GPU (its report quotes the table). No xtensor here: std::vector + matrix_ref.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <vector>

#include "bench_data.hpp"
#include "larimar/core/gpu_status.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"

namespace {

using namespace larimar;
using D = storage::device;
constexpr std::size_t C = 768;

using bench::gaussian;
using bench::view;
void sync() { LARIMAR_GPU_CALL(cudaDeviceSynchronize); }

// The floor of a one-shot write of K segments into K slots: one cuBLAS SGEMM K×K×C on device buffers.
void BM_cublas_sgemm_floor(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0));
  const auto hw = gaussian(K * K, 1), hz = gaussian(K * C, 2);
  auto w = D::make<float>(K, K), z = D::make<float>(K, C), m = D::make<float>(K, C);
  D::upload(hw.data(), hw.size(), D::data(w));
  D::upload(hz.data(), hz.size(), D::data(z));
  for (auto _ : st) {
    D::linalg::gemm(true, false, K, C, K, 1.0f, D::data(w), K, D::data(z), C, 0.0f, D::data(m), C);
    sync();
  }
}
BENCHMARK(BM_cublas_sgemm_floor)->Arg(512)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();

// A one-shot write of K segments into a memory of K slots on the GPU (host latents uploaded: part of the write).
void BM_device_write(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0));
  const auto z = gaussian(K * C, 3);
  const memory<float, D, keys::fixed_nearest, solver::pseudoinverse> proto({.slots = K, .code_size = C, .seed = 1});
  for (auto _ : st) {
    st.PauseTiming();
    auto mem = proto;
    sync();
    st.ResumeTiming();
    benchmark::DoNotOptimize(mem.write(view(z, K), view(z, K)));
    sync();
  }
}
BENCHMARK(BM_device_write)->Arg(512)->Arg(8192)->Unit(benchmark::kMillisecond)->UseRealTime();

// Q reads (lookup over K entries + w·M) from a memory of K slots on the GPU.
void BM_device_read(benchmark::State& st) {
  const auto K = static_cast<std::size_t>(st.range(0)), Q = static_cast<std::size_t>(st.range(1));
  const auto z = gaussian(K * C, 4);
  const std::vector<float> q(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(Q * C));
  memory<float, D, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = K, .code_size = C, .seed = 1});
  mem.write(view(z, K), view(z, K));
  for (auto _ : st) {
    benchmark::DoNotOptimize(mem.read(view(q, Q)));
    sync();
  }
}
BENCHMARK(BM_device_read)->Args({512, 1})->Args({8192, 1})->Args({8192, 64})->Unit(benchmark::kMicrosecond)->UseRealTime();

// Exact nearest-neighbour lookup over 50,000 × 768 on the GPU: one GEMM + the sliced arg-max, fp32 and fp16 rows.
template <precision P>
void BM_device_lookup(benchmark::State& st) {
  const auto Q = static_cast<std::size_t>(st.range(0));
  const std::size_t rows = 50000;
  static nearest_index<float, D>* index = [] {
    auto* ix = new nearest_index<float, D>(C, false, P);
    const auto t = gaussian(rows * C, 7);
    auto dt = D::make<float>(rows, C);
    D::upload(t.data(), t.size(), D::data(dt));
    ix->add(D::data(dt), rows);
    return ix;
  }();
  const auto hq = gaussian(Q * C, 8);
  auto q = D::make<float>(Q, C);
  D::upload(hq.data(), hq.size(), D::data(q));
  for (auto _ : st) {
    benchmark::DoNotOptimize(index->search(D::data(q), Q));
    sync();
  }
  st.counters["queries/s"] = benchmark::Counter(static_cast<double>(Q), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_device_lookup<precision::full>)->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_device_lookup<precision::fp16>)->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// Device memory against context length: N segments (20 tokens each) written into blocks of 512 on the device, fp32
// or fp16 (lookups and memory). A memory on the host (storage::host, the paper's setting) takes no device memory
// at all: it never calls CUDA (its host RAM is measured by bench_memory_storage). Counters: bytes the memory holds
// on the device, by cudaMemGetInfo before and after, and by storage::device's own count.
template <precision P>
void BM_device_bytes_vs_context(benchmark::State& st) {
  const auto N = static_cast<std::size_t>(st.range(0));
  const auto z = gaussian(N * C, 9);
  std::size_t free0 = 0, free1 = 0, total = 0;
  for (auto _ : st) {
    sync();
    LARIMAR_GPU_CALL(cudaMemGetInfo, &free0, &total);
    const std::size_t counted0 = storage::device_memory::in_use();
    sharded_memory<float, D, keys::fixed_nearest, solver::pseudoinverse> mem(
        {.slots = 512, .code_size = C, .seed = 1, .lookup_precision = P, .memory_precision = P});
    mem.write(view(z, N), view(z, N));
    sync();
    LARIMAR_GPU_CALL(cudaMemGetInfo, &free1, &total);
    st.counters["tokens"] = static_cast<double>(N * 20);
    st.counters["device_MB"] = static_cast<double>(free0 - free1) / 1e6;
    st.counters["counted_MB"] = static_cast<double>(storage::device_memory::in_use() - counted0) / 1e6;
  }
}
BENCHMARK(BM_device_bytes_vs_context<precision::full>)->Arg(5000)->Arg(50000)->Arg(100000)->Iterations(1)->Unit(benchmark::kSecond);
BENCHMARK(BM_device_bytes_vs_context<precision::fp16>)->Arg(5000)->Arg(50000)->Arg(100000)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
