#pragma once
// The thrust systems the model code runs on. One template serves both: a backend tag picks the buffer type, the
// execution policy and the BLAS (backend/blas.hpp).
//   backend::host - thrust's OpenMP system (CPP when the compiler has no OpenMP) + OpenBLAS; any C++ compiler
//   backend::cuda - thrust's CUDA system + cuBLAS; only in translation units compiled by nvcc
// backend::active is the tag of THRUST_DEVICE_SYSTEM (OMP with g++ through larimar::larimar, CUDA under nvcc).
#include <concepts>
#include <cstddef>
#include <span>
#include <stdexcept>

#include <thrust/copy.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#if defined(_OPENMP)
#include <thrust/system/omp/execution_policy.h>
#include <thrust/system/omp/vector.h>
#else
#include <thrust/system/cpp/execution_policy.h>
#include <thrust/system/cpp/vector.h>
#endif
#if defined(__CUDACC__)
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system/cuda/vector.h>
#endif

// Functors that thrust runs on either system are compiled for host and device.
#if defined(__CUDACC__)
#define LARIMAR_HOST_DEVICE __host__ __device__
#else
#define LARIMAR_HOST_DEVICE
#endif

namespace larimar::backend {

struct host {
#if defined(_OPENMP)
  template <class T>
  using vector = thrust::omp::vector<T>;
  static auto policy() { return thrust::omp::par; }
#else
  template <class T>
  using vector = thrust::cpp::vector<T>;
  static auto policy() { return thrust::cpp::par; }
#endif
  static constexpr const char* name = "host (thrust OpenMP/CPP + OpenBLAS)";
};

#if defined(__CUDACC__)
struct cuda {
  template <class T>
  using vector = thrust::cuda::vector<T>;
  // The calling thread's stream: work issued from different host threads (recall_pipeline::ask_async's worker
  // and the caller) may overlap on the GPU. Our CUDA targets also compile with --default-stream per-thread, so
  // that thrust's own vector copies use the same stream.
  static auto policy() { return thrust::cuda::par.on(cudaStreamPerThread); }
  static constexpr const char* name = "cuda (thrust CUDA + cuBLAS)";
};
#endif

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
using active = cuda;
#else
using active = host;
#endif

template <class B>
concept thrust_backend = requires {
  typename B::template vector<float>;
  { B::policy() };
  { B::name } -> std::convertible_to<const char*>;
};

template <thrust_backend B, class T>
using device_buffer = typename B::template vector<T>;

template <class T, class Vector>
T* raw(Vector& v) {
  return thrust::raw_pointer_cast(v.data());
}
template <class T, class Vector>
const T* raw(const Vector& v) {
  return thrust::raw_pointer_cast(v.data());
}

// Below this much work (items × work_per_item, roughly flops) the host backend runs a loop on the calling thread:
// an OpenMP fork/join costs more than it saves, and with the 2 cores shared (BLAS threads, other processes) a
// parallel region also waits for a descheduled thread. Batch-1 decode stays under it except for BLAS and long
// attention scans.
inline constexpr std::size_t serial_work_limit = std::size_t{1} << 18;

// Runs f(i) for i in [0, n) on the backend (an OpenMP parallel loop or a CUDA grid).
template <thrust_backend B, class F>
void for_each_index(std::size_t n, const F& f, std::size_t work_per_item = 1) {
  if (n == 0) return;
  if constexpr (std::same_as<B, host>) {
    if (n * work_per_item < serial_work_limit) {
      for (std::size_t i = 0; i < n; ++i) f(i);
      return;
    }
  }
  thrust::for_each(B::policy(), thrust::counting_iterator<std::size_t>(0), thrust::counting_iterator<std::size_t>(n),
                   f);
}

// Host <-> backend copies; the destination must already be large enough (no allocation in the hot path).
template <class T, class Vector>
void upload(std::span<const T> from, Vector& to, std::size_t offset = 0) {
  if (offset + from.size() > to.size()) throw std::logic_error("backend::upload: destination too small");
  if (!from.empty()) thrust::copy(from.data(), from.data() + from.size(), to.begin() + static_cast<std::ptrdiff_t>(offset));
}
template <class T, class Vector>
void download(const Vector& from, std::size_t offset, std::span<T> to) {
  if (offset + to.size() > from.size()) throw std::logic_error("backend::download: source too small");
  if (!to.empty())
    thrust::copy(from.begin() + static_cast<std::ptrdiff_t>(offset),
                 from.begin() + static_cast<std::ptrdiff_t>(offset + to.size()), to.data());
}
// Grows (never shrinks) a scratch buffer so that repeated calls reuse one allocation.
template <class Vector>
void ensure_size(Vector& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace larimar::backend
