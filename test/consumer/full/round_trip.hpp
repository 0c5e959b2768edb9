#pragma once
// What every full consumer checks: the thrust device system its translation unit was compiled for is the one its
// CMake target chose, and a memory on thrust storage (storage::device on the host's thrust system) and one on host
// storage, written with the same episode, both read it back.
#include <thrust/detail/config/device_system.h>

#if !defined(THRUST_DEVICE_SYSTEM) || !defined(LARIMAR_CONSUMER_EXPECT)
#error "THRUST_DEVICE_SYSTEM or the expected system is not defined"
#endif
static_assert(THRUST_DEVICE_SYSTEM == LARIMAR_CONSUMER_EXPECT, "thrust device system is not the one chosen");

#include <larimar/keys/fixed_nearest.hpp>
#include <larimar/memory/memory.hpp>
#include <larimar/solver/pseudoinverse.hpp>
#include <larimar/storage/device.hpp>
#include <larimar/storage/host.hpp>

#include <algorithm>
#include <cstddef>
#include <cmath>
#include <cstdio>
#include <vector>

template <class Storage>
double round_trip() {
  using Memory = larimar::memory<float, Storage, larimar::keys::fixed_nearest, larimar::solver::pseudoinverse>;
  Memory mem({.slots = 16, .code_size = 8, .seed = 3});
  std::vector<float> z(3 * 8);
  for (std::size_t i = 0; i < z.size(); ++i) z[i] = std::sin(0.7f * static_cast<float>(i) + 0.1f);
  const larimar::matrix_ref<const float> latents{z.data(), 3, 8};
  const auto ids = mem.write(latents, latents);
  const auto r = mem.read(latents);
  std::vector<float> back(z.size());
  if constexpr (requires { r.latents.to_host(); }) {
    back = r.latents.to_host();
  } else {
    std::copy(r.latents.begin(), r.latents.end(), back.begin());
  }
  double err = 0;
  for (std::size_t i = 0; i < z.size(); ++i) err = std::max(err, std::abs(static_cast<double>(back[i] - z[i])));
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (r.hits[i].entry != ids[i]) return 1e9;
  return err;
}

inline int report() {
  const double host = round_trip<larimar::storage::host>();
  const double thrust = round_trip<larimar::storage::device>();
  std::printf("consumer (%s, thrust device system %s): read error host %.1e, thrust storage %.1e\n",
              LARIMAR_CONSUMER_NAME, LARIMAR_CONSUMER_EXPECT_NAME, host, thrust);
  return host < 1e-5 && thrust < 1e-5 ? 0 : 1;
}
