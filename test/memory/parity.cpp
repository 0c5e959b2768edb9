// Parity with an independent numpy implementation of docs/design.md (tools/memory_reference.py; fixtures from
// tools/make_memory_fixtures.py). Double precision to 1e-9, float to 1e-4.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "helpers.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;
using json = nlohmann::json;
using test::host;
using test::mat;
using test::on;

namespace {

const std::vector<json>& cases() {
  static const std::vector<json> all = test::memory_fixture("parity.json").get<std::vector<json>>();
  return all;
}

// The solver and the storage's own primitives on host data: upload, compute in S, download.
template <class S, class T>
xt::xtensor<T, 2> pinv(const xt::xtensor<T, 2>& a, double rcond) {
  const auto da = on<S>(a);
  auto out = S::template make<T>(a.shape()[1], a.shape()[0]);
  solver::pseudoinverse{.rcond = rcond}.template pinv<S>(S::data(da), a.shape()[0], a.shape()[1], S::data(out));
  return host(out);
}

template <class S, class T>
xt::xtensor<T, 2> matmul(const xt::xtensor<T, 2>& a, const xt::xtensor<T, 2>& b) {
  const auto da = on<S>(a), db = on<S>(b);
  auto c = S::template make<T>(a.shape()[0], b.shape()[1]);
  S::linalg::gemm(false, false, a.shape()[0], b.shape()[1], a.shape()[1], T(1), S::data(da), a.shape()[1], S::data(db),
                  b.shape()[1], T(0), S::data(c), b.shape()[1]);
  return host(c);
}

template <class T>
constexpr double tol() { return std::is_same_v<T, float> ? 1e-4 : 1e-9; }

}  // namespace

TEST_CASE_TEMPLATE("exact pseudoinverse and content addressing match numpy", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  int checked = 0;
  for (const auto& c : cases()) {
    const double rcond = c["params"].value("rcond", 1e-10);
    const double cut = std::is_same_v<T, float> ? 1e-5 : rcond;  // any cut inside the fixture's rank gap
    if (c["op"] == "pinv") {
      CAPTURE(c["name"].get<std::string>());
      CHECK(test::rel_error(pinv<S>(mat<T>(c["inputs"]["A"]), cut), mat<double>(c["outputs"]["A_pinv"])) < tol<T>());
      ++checked;
    } else if (c["op"] == "content_address") {
      CAPTURE(c["name"].get<std::string>());
      const auto w = matmul<S>(mat<T>(c["inputs"]["Z"]), pinv<S>(mat<T>(c["inputs"]["M"]), cut));
      CHECK(test::rel_error(w, mat<double>(c["outputs"]["W"])) < tol<T>());
      ++checked;
    }
  }
  CHECK(checked == 5);
}

TEST_CASE_TEMPLATE("memory one-shot writes match numpy: content addressing and fixed keys", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  int checked = 0;
  for (const auto& c : cases()) {
    const auto& p = c["params"];
    if (c["op"] == "one_shot_write") {
      CAPTURE(c["name"].get<std::string>());
      const auto z = mat<T>(c["inputs"]["Z"]);
      const auto m0 = mat<T>(c["inputs"]["M0"]);
      memory<T, S, keys::content, solver::pseudoinverse> mem(
          {.slots = m0.shape()[0], .code_size = m0.shape()[1]},
          solver::pseudoinverse{.how = solver::pseudoinverse::method::svd, .rcond = std::is_same_v<T, float> ? 1e-5 : 1e-10});
      // The fixture's prior replaces the seeded one: the content key state holds M₀⁺.
      test::store_of(mem).mutable_key_state().address_matrix() = on<S>(pinv<S>(m0, 1e-10));
      const auto ids = mem.write(z);
      CHECK(ids.size() == z.shape()[0]);
      CHECK(test::rel_error(host(mem.mean()), mat<double>(c["outputs"]["M"])) < tol<T>() * 10);
      for (std::size_t i = 0; i < ids.size(); ++i) {
        auto [w, zi] = mem.entry(ids[i]);
        CHECK(test::rel_error(xt::xtensor<T, 1>(xt::row(host(w), 0)),
                              xt::xtensor<double, 1>(xt::row(mat<double>(c["outputs"]["W"]), static_cast<long>(i)))) <
              tol<T>() * 10);
      }
      ++checked;
    } else if (c["op"] == "keyed_write") {
      CAPTURE(c["name"].get<std::string>());
      const auto w = mat<T>(c["inputs"]["W"]);
      const auto z = mat<T>(c["inputs"]["Z"]);
      const bool ortho = p["keys"] == "orthonormal";
      memory<T, S, keys::fixed_nearest, solver::pseudoinverse> mem(
          {.slots = w.shape()[1], .code_size = z.shape()[1], .keys = ortho ? key_basis::orthonormal : key_basis::gaussian,
           .addresses = w.shape()[0]},
          solver::pseudoinverse{.how = solver::pseudoinverse::method::svd, .rcond = std::is_same_v<T, float> ? 1e-5 : 1e-10});
      test::store_of(mem).mutable_key_state().address_matrix() = on<S>(w);  // slot i is written at W's row i
      mem.write(z, z);
      CHECK(test::rel_error(host(mem.mean()), mat<double>(c["outputs"]["M"])) < tol<T>() * 10);
      ++checked;
    }
  }
  CHECK(checked == 12);
}

TEST_CASE_TEMPLATE("reads match numpy", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  int checked = 0;
  for (const auto& c : cases()) {
    if (c["op"] == "read") {
      CAPTURE(c["name"].get<std::string>());
      CHECK(test::rel_error(matmul<S>(mat<T>(c["inputs"]["W"]), mat<T>(c["inputs"]["M"])), mat<double>(c["outputs"]["Z_read"])) <
            tol<T>());
      ++checked;
    } else if (c["op"] == "read_content") {
      CAPTURE(c["name"].get<std::string>());
      const double cut = std::is_same_v<T, float> ? 1e-5 : c["params"]["rcond"].get<double>();
      const auto w = matmul<S>(mat<T>(c["inputs"]["Zq"]), pinv<S>(mat<T>(c["inputs"]["M"]), cut));
      CHECK(test::rel_error(w, mat<double>(c["outputs"]["W"])) < tol<T>() * 10);
      CHECK(test::rel_error(matmul<S>(w, mat<T>(c["inputs"]["M"])), mat<double>(c["outputs"]["Z_read"])) < tol<T>() * 10);
      ++checked;
    }
  }
  CHECK(checked == 6);
}

TEST_CASE_TEMPLATE("Kalman steps and sequences match numpy", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  int checked = 0;
  for (const auto& c : cases()) {
    const auto& p = c["params"];
    if (c["op"] != "kalman_step" && c["op"] != "kalman_sequence") continue;
    CAPTURE(c["name"].get<std::string>());
    const bool seq = c["op"] == "kalman_sequence";
    auto dm = on<S>(mat<T>(seq ? c["inputs"]["M0"] : c["inputs"]["M"]));
    auto du = on<S>(mat<T>(seq ? c["inputs"]["U0"] : c["inputs"]["U"]));
    const auto z = mat<T>(seq ? c["inputs"]["Z"] : c["inputs"]["z"]);
    const auto dz = on<S>(z);
    const std::size_t K = S::rows(dm), C = S::cols(dm);
    const T noise = static_cast<T>(p["sigma_xi2"].get<double>());
    auto scratch = S::template make<T>(1, 2 * K + C);
    for (std::size_t i = 0; i < z.shape()[0]; ++i) {
      xt::xtensor<T, 2> w;
      if (!seq)
        w = mat<T>(c["inputs"]["w"]);
      else if (p["addressing"] == "keys")
        w = xt::view(mat<T>(c["inputs"]["W"]), xt::range(i, i + 1), xt::all());
      else if (p["addressing"] == "content")  // w = z·M⁺ of the current memory
        w = matmul<S>(xt::xtensor<T, 2>(xt::view(z, xt::range(i, i + 1), xt::all())),
                   pinv<S>(host(dm), std::is_same_v<T, float> ? 1e-5 : 1e-10));
      else {  // content_ridge: keys::content_ridge's map Mᵀ(M·Mᵀ + σ_ξ²I)⁻¹ of the current memory
        auto map = S::template make<T>(C, K);
        keys::address::ridge::map<S>(solver::pseudoinverse{}, S::data(dm), K, C, std::sqrt(noise), S::data(map));
        w = matmul<S>(xt::xtensor<T, 2>(xt::view(z, xt::range(i, i + 1), xt::all())), host(map));
      }
      const auto dw = on<S>(w);
      REQUIRE(kalman_step<S>(S::data(dm), S::data(du), K, C, S::data(dw), S::data(dz) + i * C, noise,
                             kalman_direction::update, S::data(scratch)));
    }
    const auto m = host(dm), u = host(du);
    const double t = std::is_same_v<T, float> ? 2e-3 : 1e-8;  // sequences compound float rounding
    CHECK(test::rel_error(m, mat<double>(c["outputs"]["M"])) < t);
    CHECK(test::rel_error(u, mat<double>(c["outputs"]["U"])) < t);
    if (c["outputs"].contains("M_keyed_write"))  // zero prior, σ_ξ = 0: the sequence equals M = W⁺·Z
      CHECK(test::rel_error(m, mat<double>(c["outputs"]["M_keyed_write"])) < t);
    ++checked;
  }
  CHECK(checked == 14);
}

TEST_CASE_TEMPLATE("the memory's sequential write matches the numpy Kalman sequence at fixed keys", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  int checked = 0;
  for (const auto& c : cases()) {
    const auto& p = c["params"];
    if (c["op"] != "kalman_sequence" || p["addressing"] != "keys" || p["prior"] != "identity") continue;
    CAPTURE(c["name"].get<std::string>());
    const auto w = mat<double>(c["inputs"]["W"]);
    const auto z = mat<double>(c["inputs"]["Z"]);
    memory<double, S, keys::fixed_nearest, solver::pseudoinverse> mem(
        {.slots = w.shape()[1], .code_size = z.shape()[1], .memory_logvar = p["memory_logvar"].get<double>(),
         .observation_noise = std::sqrt(p["sigma_xi2"].get<double>()), .keys = key_basis::gaussian,
         .addresses = w.shape()[0]});
    test::store_of(mem).mutable_key_state().address_matrix() = on<S>(w);
    mem.write_sequential(z, z);
    CHECK(test::rel_error(host(mem.mean()), mat<double>(c["outputs"]["M"])) < 1e-8);
    CHECK(test::rel_error(host(mem.covariance()), mat<double>(c["outputs"]["U"])) < 1e-8);
    ++checked;
  }
  CHECK(checked == 2);
}

TEST_CASE_TEMPLATE("Ben-Israel–Cohen iterates match numpy, reference and safe initialisation", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  int checked = 0;
  for (const auto& c : cases()) {
    if (c["op"] != "ben_israel_cohen") continue;
    CAPTURE(c["name"].get<std::string>());
    const auto a = mat<T>(c["inputs"]["A"]);
    const auto& p = c["params"];
    const bool divergent = p["alpha_sigma_max2"].get<double>() >= 2;
    const auto steps = p["steps"].get<std::vector<int>>();
    for (std::size_t j = 0; j < steps.size(); ++j) {
      const auto da = on<S>(a);
      auto dx = S::template make<T>(a.shape()[1], a.shape()[0]);
      solver::ben_israel_cohen<S>(S::data(da), a.shape()[0], a.shape()[1], static_cast<T>(p["alpha"].get<double>()),
                                  steps[j], 0.0, S::data(dx));
      const auto x = host(dx);
      const auto ref = mat<double>(c["outputs"]["iterates"][j]);
      if (divergent && std::is_same_v<T, float>) {
        CHECK(test::rel_error(x, ref) < 1e-2);  // growth, not digits, in float
      } else {
        CHECK(test::rel_error(x, ref) < (std::is_same_v<T, float> ? 1e-3 : 1e-8));
      }
    }
    ++checked;
  }
  CHECK(checked == 5);
}

TEST_CASE_TEMPLATE("one-shot write with the reference iterative solver matches numpy (3 steps fail, 15 succeed)", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  int checked = 0;
  for (const auto& c : cases()) {
    if (c["op"] != "one_shot_write_iterative") continue;
    CAPTURE(c["name"].get<std::string>());
    const auto z = mat<double>(c["inputs"]["Z"]);
    const auto m0 = mat<double>(c["inputs"]["M0"]);
    const int steps = c["params"]["steps"].get<int>();
    auto run = [&](auto solver) {
      using Solver = decltype(solver);
      memory<double, S, keys::content, Solver> mem({.slots = m0.shape()[0], .code_size = m0.shape()[1]});
      if (c["params"]["prior"] != "identity") {  // numpy's Gaussian M₀, not the seeded one: its M₀⁺ by the solver
        const auto dm0 = on<S>(m0);
        auto m0p = S::template make<double>(m0.shape()[1], m0.shape()[0]);
        solver.template pinv<S>(S::data(dm0), m0.shape()[0], m0.shape()[1], S::data(m0p));
        test::store_of(mem).mutable_key_state().address_matrix() = std::move(m0p);
      }  // the identity prior is the memory's own: its solver makes M₀⁺ (through the public API alone)
      mem.write(z);
      CHECK(test::rel_error(host(mem.mean()), mat<double>(c["outputs"]["M"])) < 1e-8);
      const double readback = test::rel_error(host(mem.read_entries(std::vector<std::size_t>{0, 1, 2, 3, 4})), z);
      CHECK(readback == doctest::Approx(c["outputs"]["readback_rel_error"].get<double>()).epsilon(1e-6));
    };
    if (steps == 3) run(solver::iterative<3>{});
    else run(solver::iterative<15>{});
    ++checked;
  }
  CHECK(checked == 4);
}
