// row_store (include/larimar/memory/row_store.hpp): the growable matrix behind the index and the block logs.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "larimar/memory/row_store.hpp"
#include "larimar/storage/host.hpp"

using larimar::row_store;
using larimar::storage::host;

TEST_CASE("row_store: reserving size() + n before every append grows the capacity geometrically") {
  // What a memory does for each written batch: 1,000 batches of 3 rows. Each growth copies every row, so the
  // number of growths is what a long context pays (an exact reserve grew 1,000 times: quadratic in the rows).
  row_store<float, host> r(4);
  std::size_t growths = 0, capacity = r.capacity();
  for (std::size_t batch = 0; batch < 1000; ++batch) {
    r.reserve(r.size() + 3);
    float* dst = r.append(3);
    for (std::size_t i = 0; i < 12; ++i) dst[i] = static_cast<float>(batch * 12 + i);
    if (r.capacity() != capacity) ++growths, capacity = r.capacity();
    REQUIRE(r.capacity() >= r.size());
  }
  CHECK(r.size() == 3000);
  CHECK(growths <= 12);
  CHECK(r.capacity() < 2 * 3000);
  for (std::size_t i = 0; i < 3000 * 4; i += 997) CHECK(r.data()[i] == static_cast<float>(i));  // rows kept in order
}

TEST_CASE("row_store: a first reserve is exact, removal moves the last row into the hole") {
  row_store<std::uint16_t, host> r(2);
  r.reserve(5);
  CHECK(r.capacity() == 5);
  for (std::uint16_t i = 0; i < 5; ++i) {
    std::uint16_t* d = r.append(1);
    d[0] = i, d[1] = static_cast<std::uint16_t>(100 + i);
  }
  CHECK(r.capacity() == 5);
  r.swap_remove(1);
  CHECK(r.size() == 4);
  CHECK(r.row(1)[0] == 4);
  CHECK(r.row(1)[1] == 104);
}
