// The memory on the GPU: storage::device compiled by nvcc (thrust CUDA system + cuBLAS). Built in CI without a
// GPU (compile + link); scripts/gpu-check.sh runs it where a GPU is present. Exit code 0 = every check passed.
#include <cmath>
#include <cstdio>
#include <vector>

#include "larimar/core/random.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/solver/iterative.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  failures += !ok;
}
std::vector<float> gaussian(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  larimar::splitmix64 rng(seed);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}
double max_rel_row_error(const std::vector<float>& got, const std::vector<float>& want, std::size_t cols) {
  double worst = 0;
  for (std::size_t r = 0; r < want.size() / cols; ++r) {
    double num = 0, den = 0;
    for (std::size_t j = 0; j < cols; ++j) {
      const double d = got[r * cols + j] - want[r * cols + j];
      num += d * d;
      den += double(want[r * cols + j]) * want[r * cols + j];
    }
    worst = std::fmax(worst, std::sqrt(num / den));
  }
  return worst;
}
}  // namespace

int main() {
  using namespace larimar;
  using D = storage::device;
  const std::size_t N = 3000, C = 768, L = 256;
  const auto z = gaussian(N * C, 1), look = gaussian(N * L, 2);
  sharded_memory<float, D, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 512, .code_size = C, .lookup_size = L});
  const auto ids = mem.write(matrix_ref<const float>(z.data(), N, C), matrix_ref<const float>(look.data(), N, L));
  check(mem.block_count() == 6, "3000 segments in 6 blocks of 512");
  const auto r = mem.read(matrix_ref<const float>(look.data(), N, L));
  std::size_t found = 0;
  for (std::size_t i = 0; i < N; ++i) found += r.hits[i].entry == ids[i];
  check(found == N, "every segment found from its lookup vector");
  check(max_rel_row_error(r.latents.to_host(), z, C) < 1e-4, "every read returns its latent (relative error <= 1e-4)");
  mem.forget(ids[17]);
  check(mem.read(matrix_ref<const float>(look.data() + 17 * L, 1, L)).hits[0].entry != ids[17], "forget");

  sharded_memory<float, D, keys::prefix_encoding, solver::iterative<60, solver::init::safe>> prefix(
      {.slots = 512, .code_size = C, .lookup_size = L});
  prefix.write(matrix_ref<const float>(z.data(), 600, C), matrix_ref<const float>(look.data(), 600, L));
  const auto pr = prefix.read(matrix_ref<const float>(look.data(), 600, L));
  check(max_rel_row_error(pr.latents.to_host(), std::vector<float>(z.begin(), z.begin() + 600 * C), C) < 2e-3,
        "prefix encoding with the iterative solver on the GPU");
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
