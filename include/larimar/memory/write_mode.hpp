#pragma once
#include <cstdint>

namespace larimar {

// How a block's mean was formed; a block keeps one mode for its lifetime, since forget undoes each differently.
enum class write_mode : std::uint8_t {
  none,        // nothing written yet: mean = M₀, covariance = U₀
  one_shot,    // mean = W⁺·Z over every entry in the block (least squares, prior ignored)
  sequential   // mean and covariance from Kalman steps, one per entry, starting at (M₀, U₀)
};

}  // namespace larimar
