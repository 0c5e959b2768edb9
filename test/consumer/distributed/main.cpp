// Writes and reads a distributed memory on every rank of MPI_COMM_WORLD (run under mpirun; as root OpenMPI needs
// --allow-run-as-root).
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include <larimar/distributed/distributed_memory.hpp>
#include <larimar/keys/fixed_nearest.hpp>
#include <larimar/solver/pseudoinverse.hpp>
#include <larimar/storage/host.hpp>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 0;
  {
    using Memory = larimar::distributed::distributed_memory<float, larimar::storage::host,
                                                            larimar::keys::fixed_nearest,
                                                            larimar::solver::pseudoinverse>;
    Memory mem(MPI_COMM_WORLD, {.slots = 4, .code_size = 6, .seed = 1});
    std::vector<float> z(10 * 6);
    for (std::size_t i = 0; i < z.size(); ++i) z[i] = static_cast<float>((i * 7) % 13) - 6.0f;
    mem.write(larimar::matrix_ref<const float>(z.data(), 10, 6), larimar::matrix_ref<const float>(z.data(), 10, 6));
    const auto r = mem.read(larimar::matrix_ref<const float>(z.data() + 7 * 6, 1, 6));
    for (std::size_t j = 0; j < 6; ++j)  // an exact read, up to float rounding
      if (r.hits[0].entry != 7 || std::abs(r.latents.data()[j] - z[7 * 6 + j]) > 1e-4f) status = 1;
    if (mem.rank() == 0)
      std::printf("distributed consumer: %zu entries in %zu blocks over %d ranks; query 7 -> entry %zu\n", mem.size(),
                  mem.block_count(), mem.ranks(), r.hits[0].entry);
  }
  MPI_Finalize();
  return status;
}
