#pragma once
// Shared by the model tests: the reference outputs written by tools/make_model_fixtures.py.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "larimar/io/safetensors.hpp"
#include "larimar/model/token.hpp"

namespace model_fixtures {

// LARIMAR_FIXTURE_DIR in the environment overrides the build tree's path (binaries carried to another machine).
inline std::filesystem::path dir() {
  const char* moved = std::getenv("LARIMAR_FIXTURE_DIR");
  return std::filesystem::path(moved && *moved ? moved : LARIMAR_FIXTURE_DIR) / "model";
}

inline const larimar::io::safetensors_file& expected() {
  static const auto file = larimar::io::safetensors_file::open(dir() / "expected.safetensors");
  return file;
}
inline std::vector<float> tensor(const std::string& name) { return larimar::io::to_f32(expected().at(name)); }

inline const nlohmann::json& info() {
  static const nlohmann::json j = [] {
    std::ifstream in(dir() / "expected.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

inline std::vector<larimar::model::token_id> ids(const nlohmann::json& j) {
  return j.get<std::vector<larimar::model::token_id>>();
}

inline float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  if (a.size() != b.size()) return INFINITY;
  float m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace model_fixtures
