// f16 / bf16 <-> f32 conversions against numpy's and torch's (tables from tools/make_safetensors_fixtures.py).
#include <larimar/core/half.hpp>
#include <larimar/io/safetensors.hpp>

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using namespace larimar;
using namespace larimar::io;

const safetensors_file& tables() {
  static const safetensors_file file = safetensors_file::open(LARIMAR_FIXTURE_DIR "/io/half_tables.safetensors");
  return file;
}

template <class T>
std::vector<T> raw(const tensor_view& view) {
  std::vector<T> out(view.size_bytes / sizeof(T));
  std::memcpy(out.data(), view.data, view.size_bytes);
  return out;
}

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

}  // namespace

TEST_CASE("f16 -> f32 matches numpy for all 65536 bit patterns") {
  const auto halves = raw<std::uint16_t>(tables().at("f16_all", {65536}));
  const auto expected = raw<float>(tables().at("f16_all_f32", {65536}));
  int mismatches = 0, nans = 0, subnormals = 0, infinities = 0;
  for (std::size_t i = 0; i < halves.size(); ++i) {
    REQUIRE(halves[i] == i);  // the table really enumerates every pattern
    const float got = f16_to_f32(halves[i]);
    if (std::isnan(expected[i])) {
      ++nans;
      // NaN payloads: numpy widens them the same way (shifted into the top of the f32 mantissa)
      if (!std::isnan(got) || bits(got) != bits(expected[i])) ++mismatches;
      continue;
    }
    if (std::fpclassify(expected[i]) == FP_NORMAL && std::fabs(expected[i]) < std::ldexp(1.0f, -14)) ++subnormals;
    if (std::isinf(expected[i])) ++infinities;
    if (bits(got) != bits(expected[i])) ++mismatches;
  }
  CHECK(mismatches == 0);
  CHECK(nans == 2 * 1023);
  CHECK(infinities == 2);
  CHECK(subnormals == 2 * 1023);  // f16 subnormals become normal f32 values below 2^-14
}

TEST_CASE("bf16 -> f32 matches torch for all 65536 bit patterns") {
  const auto halves = raw<std::uint16_t>(tables().at("bf16_all", {65536}));
  const auto expected = raw<float>(tables().at("bf16_all_f32", {65536}));
  int mismatches = 0;
  for (std::size_t i = 0; i < halves.size(); ++i) {
    REQUIRE(halves[i] == i);
    if (bits(bf16_to_f32(halves[i])) != bits(expected[i])) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("f32 -> f16 rounds like numpy (nearest even, overflow to inf, subnormals)") {
  const auto& in_view = tables().at("narrow_in");
  const auto inputs = raw<float>(in_view);
  const auto expected = raw<std::uint16_t>(tables().at("narrow_f16", {inputs.size()}));
  REQUIRE(inputs.size() > 16000);
  int mismatches = 0, nans = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::uint16_t got = f32_to_f16(inputs[i]);
    if (std::isnan(inputs[i])) {
      ++nans;
      if (!std::isnan(f16_to_f32(got)) || !std::isnan(f16_to_f32(expected[i]))) ++mismatches;
      continue;
    }
    if (got != expected[i]) {
      if (++mismatches < 10) MESSAGE("input " << inputs[i] << " got " << got << " numpy " << expected[i]);
    }
  }
  CHECK(mismatches == 0);
  CHECK(nans == 2);
}

TEST_CASE("f32 -> bf16 rounds like torch") {
  const auto inputs = raw<float>(tables().at("narrow_in"));
  const auto expected = raw<std::uint16_t>(tables().at("narrow_bf16", {inputs.size()}));
  int mismatches = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::uint16_t got = f32_to_bf16(inputs[i]);
    if (std::isnan(inputs[i])) {
      if (!std::isnan(bf16_to_f32(got))) ++mismatches;
      continue;
    }
    if (got != expected[i]) {
      if (++mismatches < 10) MESSAGE("input " << inputs[i] << " got " << got << " torch " << expected[i]);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("narrowing after widening is the identity on every non-NaN half, and NaN stays NaN") {
  int f16_failures = 0, bf16_failures = 0;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float wide16 = f16_to_f32(half);
    const float wideb = bf16_to_f32(half);
    if (std::isnan(wide16) ? !std::isnan(f16_to_f32(f32_to_f16(wide16))) : f32_to_f16(wide16) != half)
      ++f16_failures;
    if (std::isnan(wideb) ? !std::isnan(bf16_to_f32(f32_to_bf16(wideb))) : f32_to_bf16(wideb) != half)
      ++bf16_failures;
  }
  CHECK(f16_failures == 0);
  CHECK(bf16_failures == 0);
}

TEST_CASE("NaN payloads that truncation would turn into infinity stay NaN") {
  const float low_payload_nan = std::bit_cast<float>(0x7f800001u);  // payload only in the low 13 / 16 bits
  CHECK(std::isnan(f16_to_f32(f32_to_f16(low_payload_nan))));
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(low_payload_nan))));
  CHECK(f32_to_f16(-0.0f) == 0x8000);
  CHECK(f32_to_bf16(-0.0f) == 0x8000);
}
