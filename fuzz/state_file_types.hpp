#pragma once
// The memory types the state-file fuzz target loads, picked by the low bits of an input's first byte; shared by
// the target (fuzz/state_file.cpp), the program that writes its seeds (fuzz/seeds/state_file.cpp) and the test
// that checks them (test/io/state_file_hostile.cpp). Bit 7 of that byte asks the target to re-stamp the file's
// checksum first, so that mutations reach the parser instead of stopping at the CRC.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "larimar/io/state_file.hpp"
#include "larimar/keys/content.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/solver/iterative.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/host.hpp"

namespace larimar::fuzzing {

using storage::host;
using fixed_float = memory<float, host, keys::fixed_nearest, solver::pseudoinverse>;
using prefix_double = memory<double, host, keys::prefix_encoding, solver::pseudoinverse>;
using content_float = memory<float, host, keys::content, solver::pseudoinverse>;
using content_iterative = memory<double, host, keys::content, solver::iterative<30, solver::init::safe>>;
using sharded_fixed = sharded_memory<float, host, keys::fixed_nearest, solver::pseudoinverse>;
using sharded_prefix = sharded_memory<double, host, keys::prefix_encoding, solver::pseudoinverse>;

inline constexpr std::uint8_t state_type_count = 6;
inline constexpr std::uint8_t restamp_bit = 0x80;

// fn(std::type_identity<Memory>{}) for the type `selector` picks.
template <class Fn>
void with_state_type(std::uint8_t selector, Fn&& fn) {
  switch ((selector & 0x7f) % state_type_count) {
    case 0: return fn(std::type_identity<fixed_float>{});
    case 1: return fn(std::type_identity<prefix_double>{});
    case 2: return fn(std::type_identity<content_float>{});
    case 3: return fn(std::type_identity<content_iterative>{});
    case 4: return fn(std::type_identity<sharded_fixed>{});
    default: return fn(std::type_identity<sharded_prefix>{});
  }
}

}  // namespace larimar::fuzzing
