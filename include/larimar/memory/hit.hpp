#pragma once
#include <cstddef>

namespace larimar {

// Where a query landed: the written entry its lookup matched, with the entry's block and slot.
template <class T>
struct hit {
  std::size_t entry;  // the id write() returned for that segment
  std::size_t block;
  std::size_t slot;
  T score;            // cosine similarity of the matched index vectors
  std::size_t lookup = 0;  // which of the entry's lookup vectors matched: 0 its own, i the i-th extra one given
                           // with it (memory/extra_lookups.hpp)
};

}  // namespace larimar
