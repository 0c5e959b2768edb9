#pragma once
// A key policy decides the address w (a row of length K) at which each segment is written and from which each
// query reads, and what the nearest-neighbour index of written entries holds.
#include <concepts>
#include <cstddef>

#include "larimar/core/config.hpp"
#include "larimar/keys/content_address.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar::keys {

enum class addressing {
  by_slot,        // fixed keys: entry in slot s is written and read at key row a_s; the index holds lookups
  by_projection,  // prefix encoding: w = lookup·P for writes and queries alike; the index holds addresses
  by_content      // Larimar's content addressing: write w = z·M₀⁺, read w = q·M⁺ (sequential writes: by the
                  // policy's sequential_address); the index holds addresses
};

}  // namespace larimar::keys

namespace larimar {

template <class K, class T, class S>
concept key_policy = storage_policy<S, T> && requires { typename K::template state<T, S>; } &&
  std::constructible_from<typename K::template state<T, S>, const memory_config&> &&
  requires(const typename K::template state<T, S>& st) {
    { K::name } -> std::convertible_to<const char*>;
    { K::mode } -> std::convertible_to<keys::addressing>;
    { st.address_count() } -> std::convertible_to<std::size_t>;  // distinct write addresses (slots) per block
    // The matrix whose rows (by_slot) or whose product (by_projection: lookup·matrix, by_content:
    // latent·matrix) give addresses.
    { st.address_matrix() } -> std::same_as<const typename S::template matrix<T>&>;
  } &&
  (K::mode != keys::addressing::by_content || content_address_policy<typename K::sequential_address, T, S>);

}  // namespace larimar
