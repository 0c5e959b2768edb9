// Must NOT compile: a content-address policy without map(). CTest checks that the compiler names the unmet concept.
#include <larimar/keys/content.hpp>
#include <larimar/memory/memory.hpp>
#include <larimar/solver/pseudoinverse.hpp>
#include <larimar/storage/host.hpp>

struct not_an_address {
  static constexpr const char* name = "not_an_address";
};

int main() {
  larimar::memory<float, larimar::storage::host, larimar::keys::basic_content<not_an_address>,
                  larimar::solver::pseudoinverse>
      mem({.slots = 4, .code_size = 4});
  return static_cast<int>(mem.size());
}
