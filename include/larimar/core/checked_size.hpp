#pragma once
// Products of sizes read from a file, with overflow detected: a hostile header can claim any dimensions.
#include <cstddef>
#include <limits>
#include <optional>
#include <span>

namespace larimar::detail {

// Product of the dims, or nullopt if it does not fit in size_t. A 0 among them makes it 0 whatever the others are
// ([0, 2^63, 2^63] holds no elements: not an overflow).
inline std::optional<std::size_t> checked_numel(std::span<const std::size_t> dims) {
  std::size_t n = 1;
  bool zero = false;
  bool overflow = false;
  for (const std::size_t d : dims) {
    if (d == 0) zero = true;
    if (!overflow && d != 0 && n > std::numeric_limits<std::size_t>::max() / d) overflow = true;
    if (!overflow) n *= d;
  }
  if (zero) return 0;
  if (overflow) return std::nullopt;
  return n;
}

}  // namespace larimar::detail
