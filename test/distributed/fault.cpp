// A rank that stops answering (mode "stall": it sleeps past the timeout) or dies (mode "kill": SIGKILL) while the
// others read: each survivor must get a rank_failure within the memory's timeout (plus a margin), not hang. Rank 0
// of the survivors prints the verdict CTest matches. The processes then end without MPI_Finalize (a collective is
// left pending on purpose); mpirun's exit status is therefore not the verdict.
#include <mpi.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "larimar/distributed/distributed_memory.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/host.hpp"

using Dist = larimar::distributed::distributed_memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
                                                      larimar::solver::pseudoinverse>;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const bool kill = argc > 1 && std::strcmp(argv[1], "kill") == 0;
  const int victim = size - 1;
  MPI_Comm survivors;
  MPI_Comm_split(MPI_COMM_WORLD, rank == victim ? 1 : 0, rank, &survivors);

  constexpr auto timeout = std::chrono::milliseconds(2000);
  const larimar::memory_config cfg{.slots = 8, .code_size = 8, .seed = 3};
  Dist mem(MPI_COMM_WORLD, cfg, {.timeout = timeout});
  std::vector<float> z(40 * 8), q(8, 0.5f);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<float>((i * 37) % 11) - 5.0f;
  mem.write(larimar::matrix_ref<const float>(z.data(), 40, 8), larimar::matrix_ref<const float>(z.data(), 40, 8));
  mem.read(larimar::matrix_ref<const float>(q.data(), 1, 8));  // every rank answers once

  if (rank == victim) {
    if (kill) std::raise(SIGKILL);
    std::this_thread::sleep_for(timeout * 3);
    std::fflush(stdout);
    std::_Exit(0);
  }
  const auto t0 = std::chrono::steady_clock::now();
  int reported = 0;
  try {
    mem.read(larimar::matrix_ref<const float>(q.data(), 1, 8));
    std::printf("rank %d: the read completed without rank %d\n", rank, victim);
  } catch (const larimar::distributed::rank_failure& e) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    reported = s < 2.0 * std::chrono::duration<double>(timeout).count() ? 1 : 0;
    std::printf("rank %d: after %.2f s: %s\n", rank, s, e.what());
    try {  // the memory refuses further use at once
      mem.read(larimar::matrix_ref<const float>(q.data(), 1, 8));
    } catch (const larimar::distributed::rank_failure& again) {
      std::printf("rank %d: next call: %s\n", rank, again.what());
    }
  }
  int total = 0, n = 0;
  MPI_Comm_size(survivors, &n);
  MPI_Allreduce(&reported, &total, 1, MPI_INT, MPI_SUM, survivors);
  if (rank == 0) std::printf("fault reported on %d of %d surviving ranks\n", total, n);
  std::fflush(stdout);
  std::_Exit(0);
}
