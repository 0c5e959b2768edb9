#pragma once
// Shared by the parity tests: JSON fixtures under test/fixtures/memory and their matrices (lists of rows).
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>
#include <xtensor/xtensor.hpp>

namespace larimar::test {

inline nlohmann::json memory_fixture(const std::string& file) {
  std::ifstream in(std::string(LARIMAR_FIXTURE_DIR) + "/memory/" + file);
  REQUIRE_MESSAGE(in.good(), "missing fixture test/fixtures/memory/" << file);
  return nlohmann::json::parse(in);
}

template <class T>
xt::xtensor<T, 2> mat(const nlohmann::json& j) {
  const std::size_t r = j.size(), c = r ? j[0].size() : 0;
  xt::xtensor<T, 2> m = xt::zeros<T>({r, c});
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t k = 0; k < c; ++k) m(i, k) = j[i][k].get<T>();
  return m;
}

}  // namespace larimar::test
