#pragma once
// Shared by the tokenizer suites: the reference cases written by tools/make_tokenizer_fixtures.py.
#include <fstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace larimar_test {

inline std::string tokenizer_fixture(const std::string& name) {
  return std::string(LARIMAR_FIXTURE_DIR) + "/tokenizer/" + name;
}

inline const nlohmann::json& tokenizer_cases() {
  static const nlohmann::json cases = [] {
    std::ifstream in(tokenizer_fixture("cases.json"));
    if (!in) throw std::runtime_error("cannot open " + tokenizer_fixture("cases.json"));
    return nlohmann::json::parse(in);
  }();
  return cases;
}

}  // namespace larimar_test
