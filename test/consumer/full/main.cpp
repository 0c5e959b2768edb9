// Everything (larimar/larimar.hpp) built against the installed package with the package's default choice of
// thrust device system; then the memory on both storages, and the backend the model code would run on.
#include <larimar/larimar.hpp>

#include "round_trip.hpp"

int main() {
  std::printf("consumer (larimar_consumer_full): model backend %s\n", larimar::backend::active::name);
  return report();
}
