// Writes an episode of synthetic latents into two memories whose policies are chosen at compile time, reads
// them back, forgets one segment, and saves/loads the sharded one.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <larimar/larimar.hpp>
#include <xtensor/xview.hpp>

namespace {

template <class Memory>
void demo(const char* title, Memory& mem, const xt::xtensor<float, 2>& latents, const xt::xtensor<float, 2>& lookups) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = mem.write(latents, lookups);
  const auto t1 = std::chrono::steady_clock::now();
  const auto r = mem.read(lookups);
  const auto t2 = std::chrono::steady_clock::now();
  std::size_t found = 0;
  double worst = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    found += r.hits[i].entry == ids[i];
    double num = 0, den = 0;
    for (std::size_t j = 0; j < latents.shape()[1]; ++j) {
      const double d = r.latents(i, j) - latents(i, j);
      num += d * d;
      den += latents(i, j) * latents(i, j);
    }
    worst = std::max(worst, std::sqrt(num / den));
  }
  std::printf("%-44s %6zu segments  found %6zu  worst relative error %.2e  write %.1f ms  read %.1f ms\n", title,
              ids.size(), found, worst, std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count());
  mem.forget(ids[0]);
  std::printf("%-44s after forgetting segment 0, its query now finds entry %zu\n", "",
              mem.read(xt::xtensor<float, 2>(xt::view(lookups, xt::range(0, 1), xt::all()))).hits[0].entry);
}

xt::xtensor<float, 2> gaussian(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  xt::xtensor<float, 2> m = xt::zeros<float>({rows, cols});
  larimar::splitmix64 rng(seed);
  for (auto& x : m) x = static_cast<float>(rng.normal());
  return m;
}

}  // namespace

int main() {
  using namespace larimar;
  const std::size_t C = 768, L = 256;

  // One block, fixed orthonormal keys, nearest-neighbour lookup on prefix vectors, exact pseudoinverse.
  using Exact = memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
  Exact exact({.slots = 512, .code_size = C, .lookup_size = L, .seed = 7});
  demo("memory<fixed_nearest, pseudoinverse>", exact, gaussian(512, C, 1), gaussian(512, L, 2));

  // A 4,096-segment context (~80K tokens) in blocks, prefix-encoding keys, safe iterative solver.
  using Sharded = sharded_memory<float, storage::host, keys::prefix_encoding, solver::iterative<60, solver::init::safe>>;
  Sharded sharded({.slots = 512, .code_size = C, .lookup_size = L, .seed = 7});
  demo("sharded_memory<prefix_encoding, iterative>", sharded, gaussian(4096, C, 3), gaussian(4096, L, 4));

  const auto path = std::filesystem::temp_directory_path() / "larimar-example.lrm";
  io::save(sharded, path);
  const auto loaded = io::load<Sharded>(path);
  std::printf("saved and loaded %zu segments in %zu blocks (%.1f MB)\n", loaded.size(), loaded.block_count(),
              static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  std::filesystem::remove(path);
}
