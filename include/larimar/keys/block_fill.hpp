#pragma once
// How full the next block of a sharded memory is offered to be, for key policies whose blocks take rows only while
// their write stays exact (prefix encoding). The memory keeps it, commits it with each write and saves it in state
// files, so a loaded memory places its next writes as the original would; other policies leave it at the capacity.
#include <cstddef>

namespace larimar::keys {

struct block_fill {
  std::size_t size;        // what the last block cut short by conditioning reached (at first the capacity)
  std::size_t streak = 0;  // blocks since, each of which took all it was offered
  bool operator==(const block_fill&) const = default;
};

}  // namespace larimar::keys
