// The solvers: the iterative one converges to the exact pseudoinverse; the safe start converges where the
// reference start diverges; the Cholesky path agrees with the SVD; a solver written outside the library over the
// backend primitives serves a memory. Each runs on every storage.
#include <doctest/doctest.h>

#include <vector>

#include "helpers.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;
using test::host;
using test::on;

namespace {
// pinv of a host matrix computed by `solver` in storage S, returned to the host.
template <class S, class T, class Solver>
xt::xtensor<T, 2> pinv_in(const Solver& solver, const xt::xtensor<T, 2>& a) {
  const auto da = on<S>(a);
  auto out = S::template make<T>(a.shape()[1], a.shape()[0]);
  solver.template pinv<S>(S::data(da), a.shape()[0], a.shape()[1], S::data(out));
  return host(out);
}

// A solver written here, outside the library, over the storage's backend primitives alone (S::linalg): the
// ridge (Tikhonov) inverse a⁺_λ = aᵀ·(a·aᵀ + λ·I)⁻¹ of a wide a, a tall a through its transpose.
struct ridge_solver {
  static constexpr const char* name = "ridge";
  double lambda = 1e-3;

  template <class S, class T>
  void pinv(const T* a, std::size_t m, std::size_t n, T* out) const {
    using L = typename S::linalg;
    if (m > n) {
      auto at = S::template make<T>(n, m);
      L::transpose(a, m, n, S::data(at));
      auto x = S::template make<T>(m, n);
      pinv<S>(S::data(at), n, m, S::data(x));
      L::transpose(S::data(x), m, n, out);
      return;
    }
    auto g = S::template make<T>(m, m);
    L::set_identity(S::data(g), m, m, static_cast<T>(lambda));
    L::gemm(false, true, m, m, n, T(1), a, n, a, n, T(1), S::data(g), m);  // G = a·aᵀ + λ·I
    if (!L::cholesky(S::data(g), m)) throw value_error("ridge: a·aᵀ + λI is not positive definite");
    L::transpose(a, m, n, out);  // aᵀ (n×m) is the column-major m×n right-hand side; solved, it is a⁺_λ
    if (!L::cholesky_solve(static_cast<const T*>(S::data(g)), m, out, n)) throw value_error("ridge: solve failed");
  }
};
static_assert(solver_policy<ridge_solver, double, storage::host> &&
              solver_policy<ridge_solver, float, storage::device>);

// max |X·(a·aᵀ + λI) − aᵀ| for a wide a (m×n) and X (n×m): the ridge equations, on the host.
double ridge_residual(const xt::xtensor<double, 2>& a, const xt::xtensor<double, 2>& x, double lambda) {
  const std::size_t m = a.shape()[0], n = a.shape()[1];
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j) {
      double v = lambda * x(i, j) - a(j, i);
      for (std::size_t k = 0; k < m; ++k) {
        double g = 0;
        for (std::size_t t = 0; t < n; ++t) g += a(k, t) * a(j, t);
        v += x(i, k) * g;
      }
      worst = std::max(worst, std::abs(v));
    }
  return worst;
}
}  // namespace

TEST_CASE_TEMPLATE("a solver written over the backend primitives: the ridge equations hold, it tends to a⁺, a memory "
                   "writes with it", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  const auto wide = test::gaussian<double>(12, 30, 31);
  const auto x = pinv_in<S>(ridge_solver{.lambda = 0.5}, wide);
  CHECK(ridge_residual(wide, x, 0.5) < 1e-12);
  CHECK(test::rel_error(x, pinv_in<S>(solver::pseudoinverse{}, wide)) > 1e-3);  // λ = 0.5 really regularises
  for (const auto& a : {wide, xt::xtensor<double, 2>(xt::transpose(wide))})
    CHECK(test::rel_error(pinv_in<S>(ridge_solver{.lambda = 1e-10}, a), pinv_in<S>(solver::pseudoinverse{}, a)) < 1e-8);
  // Gaussian keys are not orthonormal, so a write solves W⁺ with the solver: 8 latents in 16 slots read back.
  memory<double, S, keys::fixed_nearest, ridge_solver> mem({.slots = 16, .code_size = 8, .keys = key_basis::gaussian},
                                                           ridge_solver{.lambda = 1e-9});
  const auto z = test::gaussian<double>(8, 8, 32);
  mem.write(z, z);
  CHECK(test::rel_error(host(mem.read(z).latents), z) < 1e-6);
}

TEST_CASE_TEMPLATE("Ben-Israel–Cohen: the error falls with the steps and reaches the exact pseudoinverse", P,
                   LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  const auto a = test::gaussian<double>(40, 64, 21, 0.125);
  const auto exact = pinv_in<S>(solver::pseudoinverse{}, a);
  const auto da = on<S>(a);
  const double alpha =
      1.0 / std::pow(1.05 * solver::init::safe::spectral_norm_estimate<S>(S::data(da), 40, 64, 32), 2);
  std::vector<double> err;
  for (int steps : {1, 2, 4, 8, 16, 32}) {
    auto x = S::template make<double>(64, 40);
    solver::ben_israel_cohen<S>(S::data(da), 40, 64, alpha, steps, 0.0, S::data(x));
    err.push_back(test::rel_error(host(x), exact));
  }
  for (std::size_t i = 1; i < err.size(); ++i)
    if (err[i - 1] > 1e-13) CHECK(err[i] < err[i - 1]);  // strictly falling until round-off
  CHECK(err.back() < 1e-10);
}

TEST_CASE_TEMPLATE("the safe initialisation converges where the reference one diverges", P, LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  // σ_max(A)² ≈ 10⁴ > 2/α_ref = 4000: the reference α lies outside the convergence region.
  const auto a = test::gaussian<double>(30, 50, 22, 10.0);
  const auto exact = pinv_in<S>(solver::pseudoinverse{}, a);
  const auto da = on<S>(a);
  auto ref = S::template make<double>(50, 30);
  const auto rep = solver::iterative<30, solver::init::reference>{}.run<S>(S::data(da), 30, 50, S::data(ref));
  CHECK(rep.alpha == doctest::Approx(5e-4));
  const bool diverged = !std::isfinite(rep.last_change) || test::rel_error(host(ref), exact) > 1.0;
  CHECK(diverged);
  CHECK_THROWS_WITH_AS(pinv_in<S>(solver::iterative<30, solver::init::reference>{}, a),
                       doctest::Contains("iteration diverged"), value_error);
  auto safe = S::template make<double>(50, 30);
  const auto srep = solver::iterative<100, solver::init::safe>{}.run<S>(S::data(da), 30, 50, S::data(safe));
  CHECK(srep.steps < 100);  // the tolerance stopped it
  CHECK(test::rel_error(host(safe), exact) < 1e-8);
}

TEST_CASE_TEMPLATE("the reference's 3 steps do not converge on an identity-initialised memory; 15 do", P,
                   LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  // A measured fact, at K = 64, C = 48: the read-after-write of a direct write through M₀⁺.
  const std::size_t K = 64, C = 48, N = 32;
  const auto z = test::gaussian<double>(N, C, 23);
  std::vector<std::size_t> ids(N);
  for (std::size_t i = 0; i < N; ++i) ids[i] = i;
  memory<double, S, keys::content, solver::iterative<3>> three({.slots = K, .code_size = C});
  memory<double, S, keys::content, solver::iterative<15>> fifteen({.slots = K, .code_size = C});
  three.write(z);
  fifteen.write(z);
  CHECK(test::rel_error(host(three.read_entries(ids)), z) > 0.5);
  CHECK(test::rel_error(host(fifteen.read_entries(ids)), z) < 1e-4);
}

TEST_CASE_TEMPLATE("Cholesky normal equations agree with the SVD on a well-conditioned matrix", P, LARIMAR_ALL_SETUPS) {
  using T = typename P::T;
  using S = typename P::S;
  const solver::pseudoinverse chol{.how = solver::pseudoinverse::method::cholesky};
  for (auto shape : {std::pair<std::size_t, std::size_t>{20, 50}, {50, 20}}) {
    const auto a = test::gaussian<T>(shape.first, shape.second, 24);
    CHECK(test::rel_error(pinv_in<S>(chol, a), pinv_in<S>(solver::pseudoinverse{}, a)) <
          (std::is_same_v<T, float> ? 1e-4 : 1e-10));
  }
  // Rank deficient: the Gram matrix is singular, Cholesky refuses and the SVD answer is returned.
  xt::xtensor<T, 2> low = xt::zeros<T>({10, 30});
  const auto f = test::gaussian<T>(10, 3, 25), g = test::gaussian<T>(3, 30, 26);
  test::H::linalg::gemm(false, false, 10, 30, 3, T(1), f.data(), 3, g.data(), 30, T(0), low.data(), 30);
  CHECK(test::rel_error(pinv_in<S>(chol, low), pinv_in<S>(solver::pseudoinverse{}, low)) < 1e-6);
}

TEST_CASE_TEMPLATE("a memory with the iterative solver outside its region refuses the write and stays unchanged", P,
                   LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  // Fixed Gaussian keys scaled up so σ_max(W)² ≫ 4000: the reference α diverges, the write must not land.
  memory<double, S, keys::fixed_nearest, solver::iterative<40>> mem({.slots = 16, .code_size = 8, .keys = key_basis::gaussian});
  auto& km = test::store_of(mem).mutable_key_state().address_matrix();
  km = on<S>(xt::xtensor<double, 2>(host(km) * 400.0));
  const auto z = test::gaussian<double>(8, 8, 27);
  CHECK_THROWS_WITH_AS(mem.write(z, z), doctest::Contains("iteration diverged"), value_error);
  CHECK(mem.empty());
}

TEST_CASE_TEMPLATE("content keys: an M⁺ the iterative solver cannot make fails the write, not a later read", P,
                   LARIMAR_DOUBLE_SETUPS) {
  using S = typename P::S;
  // Identity prior, so W ≈ Z's first K columns; two of those rows nearly equal make σ_min(W) ≈ 1e-3, hence
  // M = W⁺·Z has σ_max(M)² ≫ 4000: the reference α converges on W but diverges on M.
  const std::size_t K = 8, C = 12;
  memory<double, S, keys::content, solver::iterative<40>> mem({.slots = K, .code_size = C});
  xt::xtensor<double, 2> z = test::gaussian<double>(K, C, 28);
  const auto nudge = test::gaussian<double>(1, K, 29, 1e-3);
  for (std::size_t j = 0; j < K; ++j) z(K - 1, j) = z(K - 2, j) + nudge(0, j);
  const auto prior = host(mem.mean());
  CHECK_THROWS_WITH_AS(mem.write(z), doctest::Contains("iteration diverged"), value_error);
  CHECK(mem.empty());
  CHECK(xt::amax(xt::abs(host(mem.mean()) - prior))() == 0.0);
  CHECK_THROWS_AS(mem.read(z), state_error);  // empty: nothing to read
}
