#pragma once
// solver::iterative — the Ben-Israel–Cohen (Newton–Schulz) iteration for the pseudoinverse:
//   X₀ = α·Aᵀ,  X_{t+1} = 2·X_t − X_t·A·X_t,
// two GEMMs per step, the GPU-friendly solver. It converges to A⁺ (rank-deficient A included) if and only if
// 0 < α < 2/σ_max(A)²; the error then squares every step once α·σ² has left the neighbourhood of 0.
//
// init::reference — α = min(e⁻⁵, 5·10⁻⁴) = 5·10⁻⁴, as Larimar's reference code; a fixed number of steps.
//   Parity only: it diverges when σ_max(A)² > 4000 and creeps when σ_min(A)² ≪ 2000 (an identity-initialised
//   512-slot memory needs ~15 steps, not the reference's default 3).
// init::safe — α = 1/σ̂², σ̂ = 1.05 × a 32-step power-iteration estimate of σ_max(A): inside the convergence
//   region whenever the estimate is within a factor √2/1.05 of σ_max (power iteration only underestimates, and
//   converges to σ_max), plus a stopping rule ‖X_{t+1} − X_t‖_F ≤ tolerance·‖X_{t+1}‖_F.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/core/random.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar::solver {

namespace init {
struct reference {
  static constexpr const char* name = "reference";
  template <class S, class T>
  static T alpha(const T*, std::size_t, std::size_t) {
    return static_cast<T>(std::min(std::exp(-5.0), 5e-4));
  }
};
struct safe {
  static constexpr const char* name = "safe";
  template <class S, class T>
  static T alpha(const T* a, std::size_t m, std::size_t n) {
    const double s = 1.05 * spectral_norm_estimate<S>(a, m, n, 32);
    return s > 0 ? static_cast<T>(1.0 / (s * s)) : T(1);
  }
  // Power iteration on AᵀA from a fixed pseudo-random start.
  template <class S, class T>
  static double spectral_norm_estimate(const T* a, std::size_t m, std::size_t n, int iterations) {
    using L = typename S::linalg;
    std::vector<T> start(n);
    splitmix64 rng(0x5eed);
    for (auto& x : start) x = static_cast<T>(rng.normal());
    auto v = S::template make<T>(n, 1);
    auto u = S::template make<T>(m, 1);
    S::upload(start.data(), n, S::data(v));
    double sigma = 0;
    for (int it = 0; it < iterations; ++it) {
      const double vn = std::sqrt(static_cast<double>(L::dot(n, S::data(v), S::data(v))));
      if (vn == 0) return 0;
      L::axpby(n, static_cast<T>(1.0 / vn), S::data(v), T(0), S::data(v));
      L::gemm(false, false, m, 1, n, T(1), a, n, S::data(v), 1, T(0), S::data(u), 1);  // u = A·v
      sigma = std::sqrt(static_cast<double>(L::dot(m, S::data(u), S::data(u))));      // ‖A·v‖ with ‖v‖ = 1
      L::gemm(true, false, n, 1, m, T(1), a, n, S::data(u), 1, T(0), S::data(v), 1);   // v = Aᵀ·u
    }
    return sigma;
  }
};
}  // namespace init

struct iteration_report {
  int steps = 0;
  double last_change = 0;  // ‖X_t − X_{t−1}‖_F / ‖X_t‖_F at the last step
  double alpha = 0;
};

// out (n×m) ← pinv(a (m×n)) by Ben-Israel–Cohen from X₀ = α·aᵀ; at most `steps` steps, stopping early when the
// relative change falls to `tolerance` (0: never early).
template <class S, class T>
iteration_report ben_israel_cohen(const T* a, std::size_t m, std::size_t n, T alpha, int steps, double tolerance,
                                  T* out) {
  using L = typename S::linalg;
  iteration_report report{.steps = 0, .last_change = 0, .alpha = static_cast<double>(alpha)};
  L::transpose(a, m, n, out);
  L::axpby(n * m, alpha, out, T(0), out);
  if (m == 0 || n == 0) return report;
  auto next = S::template make<T>(n, m);
  // X·A·X through the cheaper product: A·X is m×m, X·A is n×n.
  const bool small_left = m <= n;
  auto t = small_left ? S::template make<T>(m, m) : S::template make<T>(n, n);
  for (int step = 0; step < steps; ++step) {
    S::copy(out, n * m, S::data(next));
    if (small_left) {
      L::gemm(false, false, m, m, n, T(1), a, n, out, m, T(0), S::data(t), m);                  // t = A·X
      L::gemm(false, false, n, m, m, T(-1), out, m, S::data(t), m, T(2), S::data(next), m);     // 2X − X·t
    } else {
      L::gemm(false, false, n, n, m, T(1), out, m, a, n, T(0), S::data(t), n);                  // t = X·A
      L::gemm(false, false, n, m, n, T(-1), S::data(t), n, out, m, T(2), S::data(next), m);     // 2X − t·X
    }
    const double norm_next = std::sqrt(static_cast<double>(L::dot(n * m, S::data(next), S::data(next))));
    L::axpby(n * m, T(1), S::data(next), T(-1), out);  // out = next − X
    const double change = std::sqrt(static_cast<double>(L::dot(n * m, out, out)));
    S::copy(S::data(next), n * m, out);
    report.steps = step + 1;
    report.last_change = norm_next > 0 ? change / norm_next : change;
    if (!std::isfinite(report.last_change)) break;  // diverged: α outside (0, 2/σ_max²)
    if (tolerance > 0 && report.last_change <= tolerance) break;
  }
  return report;
}

template <int MaxSteps = 15, class Init = init::reference>
struct iterative {
  static_assert(MaxSteps >= 0, "solver::iterative: the step count must not be negative");
  static constexpr const char* name = "iterative";
  static constexpr int max_steps = MaxSteps;
  using initialisation = Init;

  // Relative-change stop. Negative: automatic — 1e-4 for float, 1e-8 for double with init::safe (the step after
  // a change δ leaves an error of order δ², as the iteration converges quadratically), and none for
  // init::reference, which runs its fixed step count like the reference does.
  double tolerance = -1;

  template <class T>
  double effective_tolerance() const {
    if (tolerance >= 0) return tolerance;
    if constexpr (std::is_same_v<Init, init::safe>) return std::is_same_v<T, float> ? 1e-4 : 1e-8;
    return 0;
  }

  template <class S, class T>
  void pinv(const T* a, std::size_t m, std::size_t n, T* out) const {
    const auto report = run<S>(a, m, n, out);
    if (!std::isfinite(report.last_change))
      throw value_error("solver::iterative: the Ben-Israel–Cohen iteration diverged on a " + std::to_string(m) + "x" +
                        std::to_string(n) + " matrix after " + std::to_string(report.steps) + " steps (alpha " +
                        std::to_string(report.alpha) + " is not below 2/sigma_max^2; use init::safe)");
  }
  template <class S, class T>
  iteration_report run(const T* a, std::size_t m, std::size_t n, T* out) const {
    return ben_israel_cohen<S>(a, m, n, Init::template alpha<S>(a, m, n), MaxSteps,
                                effective_tolerance<T>(), out);
  }
};

}  // namespace larimar::solver
