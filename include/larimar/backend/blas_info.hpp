#pragma once
// blas_info — which kernels the process's OpenBLAS runs, and whether they fall short of the CPU.
//
// OpenBLAS picks its kernels from the CPU model at load time. A release that does not know the CPU (Debian 12's
// 0.3.21 on Intel Xeons of family 6, model 207, say) falls back to its Prescott kernels, SSE3 only: sgemm then runs
// at a fifth of the AVX-512 kernels' rate, and every encoder, decoder and memory write with it. Setting
// OPENBLAS_CORETYPE (SkylakeX, Haswell) before the process starts picks the right ones; scripts/openblas-env.sh
// does that for the project's scripts. Tools call blas_info() to say so to a user who runs them directly.
// OpenBLAS is found at run time (dlsym), so another CBLAS links and runs as before (dlsym is in glibc's libc from
// 2.34 on; on an older system a program that includes this links -ldl, CMake's ${CMAKE_DL_LIBS}).
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <utility>

namespace larimar::backend {

struct blas_report {
  std::string core;        // OpenBLAS's core name ("SkylakeX", "Haswell", "Prescott"); empty: not OpenBLAS
  std::string better;      // the OPENBLAS_CORETYPE this CPU could run instead; empty: nothing better
  bool fallback() const { return !better.empty(); }
  // A line for stderr when the kernels fall short, else empty.
  std::string advice() const {
    if (!fallback()) return {};
    return "note: OpenBLAS runs its " + core + " kernels on this CPU, which has " +
           (better == "SkylakeX" ? "AVX-512" : "AVX2") + " (sgemm about 5x slower); start the process with " +
           "OPENBLAS_CORETYPE=" + better + " (scripts/openblas-env.sh sets it)";
  }
};

// What the CPU offers, as far as OpenBLAS's x86 kernels care.
struct cpu_vector_units {
  bool avx2_fma = false, avx512 = false;  // avx512: F, BW, VL and DQ, what SkylakeX's kernels use
};

inline cpu_vector_units this_cpu() {
  cpu_vector_units u;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  u.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  u.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
  return u;
}

// The report for an OpenBLAS core name on a CPU; `chosen`: OPENBLAS_CORETYPE was set, and a caller who chose the
// kernels is not second-guessed.
inline blas_report assess_blas(std::string core, bool chosen, cpu_vector_units cpu) {
  blas_report r;
  r.core = std::move(core);
  std::string lower;
  for (const char c : r.core) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  // The kernels older than Haswell's.
  const bool pre_avx2 = lower == "prescott" || lower == "core2" || lower == "penryn" || lower == "dunnington" ||
                        lower == "nehalem" || lower == "sandybridge" || lower == "katmai" || lower == "coppermine";
  if (!pre_avx2 || chosen) return r;
  if (cpu.avx512) r.better = "SkylakeX";
  else if (cpu.avx2_fma) r.better = "Haswell";
  return r;
}

// This process's OpenBLAS (found at run time) on this CPU; an empty core when no OpenBLAS is loaded.
inline blas_report blas_info() {
  using corename_fn = char* (*)();
  const auto get = reinterpret_cast<corename_fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (get == nullptr) return {};
  const char* name = get();
  return assess_blas(name ? name : "", std::getenv("OPENBLAS_CORETYPE") != nullptr, this_cpu());
}

}  // namespace larimar::backend
