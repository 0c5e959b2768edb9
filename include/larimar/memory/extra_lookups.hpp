#pragma once
// More lookup vectors for the entries of one write: each extra vector names the row of the write (the entry) it
// belongs to, so a query that matches it reads that entry at its one address. What it is for: one vector per
// sentence that starts inside a segment, so a prefix lookup finds a fact that does not start its segment
// (docs/memory.md, "Extra lookup rows"). Only key policies whose index holds the lookup vectors take them
// (keys::lookup_indexed).
#include <cstddef>
#include <span>

#include "larimar/core/matrix_ref.hpp"

namespace larimar {

template <class T>
struct extra_lookups {
  matrix_ref<const T> vectors;       // E×L, like the write's lookups
  std::span<const std::size_t> rows;  // E: the row of the write each vector belongs to (below the write's N)
};

}  // namespace larimar
