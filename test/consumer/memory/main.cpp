// Built against the installed package with larimar::memory alone: the memory on host storage, its state file,
// and nothing of the thrust backend or the model.
#if defined(THRUST_DEVICE_SYSTEM)
#error "larimar::memory defined THRUST_DEVICE_SYSTEM: the memory alone must not choose a thrust system"
#endif
#if !defined(LARIMAR_CONSUMER_THRUST_ON_DEFAULT_PATH) && __has_include(<thrust/version.h>)
#error "thrust is on the include path of a larimar::memory consumer"
#endif

#include <larimar/io/state_file.hpp>
#include <larimar/keys/fixed_nearest.hpp>
#include <larimar/memory/memory.hpp>
#include <larimar/memory/sharded_memory.hpp>
#include <larimar/solver/pseudoinverse.hpp>
#include <larimar/storage/host.hpp>

#include <cstdio>
#include <filesystem>

int main() {
  using Memory = larimar::memory<double, larimar::storage::host, larimar::keys::fixed_nearest,
                                 larimar::solver::pseudoinverse>;
  Memory mem({.slots = 8, .code_size = 4});
  const xt::xtensor<double, 2> z = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  const auto ids = mem.write(z, z);
  const auto r = mem.read(z);
  double err = xt::amax(xt::abs(r.latents - z))();

  const auto file = std::filesystem::temp_directory_path() / "larimar_consumer_memory.lrm";
  larimar::io::save(mem, file);
  const auto again = larimar::io::load<Memory>(file);
  std::filesystem::remove(file);
  err = std::max(err, static_cast<double>(xt::amax(xt::abs(again.read_entries(ids) - z))()));

  const bool hits = r.hits[0].entry == ids[0] && r.hits[1].entry == ids[1];
  std::printf("consumer (larimar::memory): wrote %zu segments, read back and reloaded, max error %.2e\n", ids.size(),
              err);
  return err < 1e-9 && hits ? 0 : 1;
}
