// Built against the installed package: find_package(larimar) + target_link_libraries(larimar::larimar).
#include <larimar/larimar.hpp>

#include <cstdio>

int main() {
  using Memory = larimar::memory<double, larimar::storage::host, larimar::keys::fixed_nearest,
                                 larimar::solver::pseudoinverse>;
  Memory mem({.slots = 8, .code_size = 4});
  xt::xtensor<double, 2> z = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  const auto ids = mem.write(z, z);
  const auto back = mem.read_entries(ids);
  const double err = xt::amax(xt::abs(back - z))();
  std::printf("consumer: wrote %zu segments, max read error %.2e\n", ids.size(), err);
  return err < 1e-9 ? 0 : 1;
}
