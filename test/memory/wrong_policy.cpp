// Must NOT compile: a solver without pinv(). CTest checks that the compiler names the unmet concept.
#include <larimar/larimar.hpp>

struct not_a_solver {
  static constexpr const char* name = "not_a_solver";
};

int main() {
  larimar::memory<float, larimar::storage::host, larimar::keys::fixed_nearest, not_a_solver> mem({.slots = 4, .code_size = 4});
  return static_cast<int>(mem.size());
}
