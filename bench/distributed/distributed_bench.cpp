// Weak scaling of the distributed memory (a fixed number of segments per rank) and the cost of a read's
// collective alone. Every rank runs every benchmark with fixed iteration counts (the calls are collective, so
// the ranks must agree on how many); rank 0 reports. K = 512, C = 768, L = 256, float, host storage.
//   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpirun --oversubscribe --allow-run-as-root -np R build/bench/bench_distributed
#include <mpi.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <vector>

#include "larimar/core/random.hpp"
#include "larimar/distributed/distributed_memory.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/host.hpp"

namespace {

using Dist = larimar::distributed::distributed_memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
                                                      larimar::solver::pseudoinverse>;
using Single = larimar::sharded_memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
                                       larimar::solver::pseudoinverse>;
constexpr std::size_t kC = 768, kL = 256;
const larimar::memory_config kCfg{.slots = 512, .code_size = kC, .lookup_size = kL, .seed = 1};
const larimar::distributed::options kOpt{.timeout = std::chrono::milliseconds(600000)};
// Segments per rank (env LARIMAR_BENCH_SEGMENTS_PER_RANK; 8,192 = 16 blocks, ~164k tokens at 20 per segment).
std::size_t per_rank() {
  const char* s = std::getenv("LARIMAR_BENCH_SEGMENTS_PER_RANK");
  return s ? static_cast<std::size_t>(std::atol(s)) : 8192;
}
int ranks() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}
std::vector<float> gaussian(std::size_t n, std::uint64_t seed) {
  larimar::splitmix64 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}
constexpr std::size_t kEpisode = 1024;

// Writes S·R segments in episodes of 1,024 (every rank passes every episode; each keeps its blocks' rows).
template <class Memory>
void fill(Memory& mem, std::size_t total) {
  for (std::size_t at = 0; at < total; at += kEpisode) {
    const std::size_t n = std::min(kEpisode, total - at);
    const auto z = gaussian(n * kC, 10 + at), k = gaussian(n * kL, 20 + at);
    mem.write(larimar::matrix_ref<const float>(z.data(), n, kC), larimar::matrix_ref<const float>(k.data(), n, kL));
  }
}

std::unique_ptr<Dist> shared_context;  // reset before MPI_Finalize
Dist& context() {
  auto& mem = shared_context;
  if (!mem) {
    mem = std::make_unique<Dist>(MPI_COMM_WORLD, kCfg, kOpt);
    fill(*mem, per_rank() * static_cast<std::size_t>(ranks()));
  }
  return *mem;
}
Single& local_context() {  // what one rank holds, as a plain sharded memory: the per-rank work without MPI
  static std::unique_ptr<Single> mem;
  if (!mem) {
    mem = std::make_unique<Single>(kCfg);
    fill(*mem, per_rank());
  }
  return *mem;
}

void BM_distributed_write(benchmark::State& state) {
  for (auto _ : state) {
    Dist mem(MPI_COMM_WORLD, kCfg, kOpt);
    fill(mem, per_rank() * static_cast<std::size_t>(ranks()));
    benchmark::DoNotOptimize(mem.size());
  }
  state.counters["segments"] = static_cast<double>(per_rank() * static_cast<std::size_t>(ranks()));
  state.counters["ranks"] = ranks();
}
BENCHMARK(BM_distributed_write)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

// Read of a batch of Q queries, top-k, over S·R segments.
void BM_distributed_read(benchmark::State& state) {
  auto& mem = context();
  const auto q = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  const auto queries = gaussian(q * kL, 99);
  for (auto _ : state) benchmark::DoNotOptimize(mem.read(larimar::matrix_ref<const float>(queries.data(), q, kL), k));
  state.counters["queries/s"] = benchmark::Counter(static_cast<double>(q), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["segments"] = static_cast<double>(mem.size());
  state.counters["ranks"] = ranks();
}
BENCHMARK(BM_distributed_read)->Args({1, 1})->Iterations(200)->Args({1, 10})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_distributed_read)->Args({64, 1})->Args({64, 10})->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_distributed_read)->Args({1024, 1})->Args({1024, 10})->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same read on one rank's share, as a plain sharded_memory (every rank runs it at once on its own copy).
void BM_local_share_read(benchmark::State& state) {
  auto& mem = local_context();
  const auto q = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  const auto queries = gaussian(q * kL, 99);
  for (auto _ : state) benchmark::DoNotOptimize(mem.read(larimar::matrix_ref<const float>(queries.data(), q, kL), k));
  state.counters["segments"] = static_cast<double>(mem.size());
  MPI_Barrier(MPI_COMM_WORLD);
}
BENCHMARK(BM_local_share_read)->Args({1, 1})->Args({1, 10})->Iterations(200)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_local_share_read)->Args({64, 1})->Args({64, 10})->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_local_share_read)->Args({1024, 1})->Args({1024, 10})->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

// The read's collectives alone, with a read's message sizes: the reduction of Q lists of k candidates, then the
// gather of Q·k latents of C floats to every rank (each rank owning an equal share of the winners).
void BM_collective(benchmark::State& state) {
  auto& comm = context().comm();
  const auto q = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1));
  const int r = comm.size(), me = comm.rank();
  std::vector<larimar::distributed::detail::candidate> mine(q * k), best(q * k);
  for (std::size_t i = 0; i < q * k; ++i) mine[i] = {1.0 / static_cast<double>(1 + (i % k)), i * 7 + static_cast<std::uint64_t>(me), 0, 0};
  std::vector<int> counts(static_cast<std::size_t>(r)), displs(static_cast<std::size_t>(r));
  const std::size_t total = q * k;
  for (int i = 0; i < r; ++i) {
    const std::size_t lo = total * static_cast<std::size_t>(i) / static_cast<std::size_t>(r);
    const std::size_t hi = total * static_cast<std::size_t>(i + 1) / static_cast<std::size_t>(r);
    counts[static_cast<std::size_t>(i)] = static_cast<int>((hi - lo) * kC);
    displs[static_cast<std::size_t>(i)] = static_cast<int>(lo * kC);
  }
  std::vector<float> send(static_cast<std::size_t>(counts[static_cast<std::size_t>(me)]), 1.0f), all(total * kC);
  larimar::distributed::detail::candidate_reduction red(k);
  for (auto _ : state) {
    comm.allreduce(mine.data(), best.data(), static_cast<int>(q), red.type(), red.op(), "bench");
    comm.allgatherv(send.data(), static_cast<int>(send.size()), MPI_FLOAT, all.data(), counts.data(), displs.data(), "bench");
  }
  state.counters["bytes_in_per_rank"] = static_cast<double>(total * (sizeof(mine[0]) + kC * sizeof(float)));
  state.counters["ranks"] = r;
}
BENCHMARK(BM_collective)->Args({1, 1})->Args({1, 10})->Iterations(500)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_collective)->Args({64, 1})->Args({64, 10})->Iterations(100)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_collective)->Args({1024, 1})->Args({1024, 10})->Iterations(20)->Unit(benchmark::kMicrosecond)->UseRealTime();

class silent : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  benchmark::Initialize(&argc, argv);
  if (rank == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    silent quiet;
    benchmark::RunSpecifiedBenchmarks(&quiet);
  }
  benchmark::Shutdown();
  shared_context.reset();
  MPI_Finalize();
  return 0;
}
