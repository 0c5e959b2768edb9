#pragma once
// Hash for std::string keys that also accepts std::string_view, so vocabulary lookups don't allocate.
#include <cstddef>
#include <functional>
#include <string_view>

namespace larimar::tokenizer::detail {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace larimar::tokenizer::detail
