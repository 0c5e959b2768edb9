#pragma once
// larimar::runtime::make_memory — a memory from a spec string (the grammar of runtime/spec.hpp, docs/runtime.md):
//
//   auto mem = larimar::runtime::make_memory("plain,content,iter15_safe", {.slots = 64, .code_size = 256});
//
// This header instantiates every memory type the spec tables list: include it in one translation unit of a
// program and hand memory_interface (runtime/any_memory.hpp) to the others.
#include <memory>
#include <string>
#include <string_view>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/runtime/any_memory.hpp"
#include "larimar/runtime/dispatch.hpp"
#include "larimar/runtime/spec.hpp"

namespace larimar::runtime {

// The memory a spec names, with `cfg` (its precisions replaced by those the spec names). A bad spec is a
// value_error naming the word; a bad config is the memory's own value_error.
inline std::unique_ptr<memory_interface> make_memory(const memory_spec& spec, memory_config cfg) {
  if (spec.lookup)
    throw value_error("make_memory: " + detail::in_quotes(to_string(spec)) +
                      ": a lookup (/prefix, /full, /tokens) belongs to a pipeline spec; a memory takes its lookup "
                      "vectors from the caller");
  apply(spec, cfg);
  return with_memory_type<std::unique_ptr<memory_interface>>(
      spec, [&]<class Memory>() -> std::unique_ptr<memory_interface> {
        return std::make_unique<memory_model<Memory>>(cfg);
      });
}
inline std::unique_ptr<memory_interface> make_memory(std::string_view spec, const memory_config& cfg) {
  return make_memory(parse_memory_spec(spec), cfg);
}

}  // namespace larimar::runtime
