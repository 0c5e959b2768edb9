#pragma once
// From a spec to the compile-time memory type it names: with_memory_type<R>(spec, f) calls
// f.template operator()<Memory>() for memory<float, ...> or sharded_memory<float, ...>. Every combination of the
// spec tables (runtime/spec.hpp) is instantiated where this is called, so only factories include it.
#include <concepts>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "larimar/keys/content.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/runtime/spec.hpp"
#include "larimar/solver/iterative.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"

namespace larimar::runtime {

namespace detail {

// f.template operator()<the type at index i of Choices>(), through a table of one function per entry.
template <class Choices, class R, class F>
R with_choice(std::size_t i, F& f) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) -> R {
    using call = R (*)(F&);
    static constexpr call calls[] = {
        +[](F& g) -> R { return g.template operator()<typename Choices::template type_at<I>>(); }...};
    return calls[i](f);
  }(std::make_index_sequence<Choices::size>{});
}

}  // namespace detail

template <class R, class F>
R with_memory_type(const memory_spec& spec, F&& f) {
  const memory_spec s = resolved(spec);
  auto by_layout = [&]<class Layout>() -> R {
    auto by_keys = [&]<class Keys>() -> R {
      auto by_solver = [&]<class Solver>() -> R {
        auto by_storage = [&]<class Storage>() -> R {
          if constexpr (std::same_as<Layout, plain_layout>)
            return f.template operator()<memory<float, Storage, Keys, Solver>>();
          else if constexpr (requires { typename sharded_memory<float, Storage, Keys, Solver>; })
            return f.template operator()<sharded_memory<float, Storage, Keys, Solver>>();
          else  // resolved() refuses these, from the table's plain_only
            throw std::logic_error("with_memory_type: no sharded memory holds " + std::string(Keys::name) + " keys");
        };
        return detail::with_choice<storage_choices, R>(*s.storage, by_storage);
      };
      return detail::with_choice<solver_choices, R>(*s.solver, by_solver);
    };
    return detail::with_choice<key_choices, R>(*s.keys, by_keys);
  };
  return detail::with_choice<layout_choices, R>(*s.layout, by_layout);
}

}  // namespace larimar::runtime
