#pragma once
// What the thrust backends (backend::omp, backend::cuda) share: their concept, the buffer type, the parallel
// loop, host transfers and scratch allocation, written once over a backend tag that names its vector and policy.
#include <algorithm>
#include <concepts>
#include <cstddef>
#include <new>
#include <span>
#include <stdexcept>
#include <string>

#include <thrust/copy.h>
#include <thrust/device_ptr.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include "larimar/core/error.hpp"

// Functors that thrust runs on either system are compiled for host and device.
#if defined(__CUDACC__)
#define LARIMAR_HOST_DEVICE __host__ __device__
#else
#define LARIMAR_HOST_DEVICE
#endif

namespace larimar::backend {

template <class B>
concept thrust_backend = requires {
  typename B::template vector<float>;
  { B::policy() };
  { B::name } -> std::convertible_to<const char*>;
  { B::host_accessible } -> std::convertible_to<bool>;
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

// Below this much work (items × work_per_item, roughly flops) a backend on host threads runs a loop on the
// calling thread: an OpenMP fork/join costs more than it saves, and with the 2 cores shared (BLAS threads, other
// processes) a parallel region also waits for a descheduled thread. Batch-1 decode stays under it except for
// BLAS and long attention scans.
inline constexpr std::size_t serial_work_limit = std::size_t{1} << 18;

// Runs f(i) for i in [0, n) on the backend (an OpenMP parallel loop or a CUDA grid).
template <thrust_backend B, class F>
void for_each_index(std::size_t n, const F& f, std::size_t work_per_item = 1) {
  if (n == 0) return;
  if constexpr (B::host_accessible) {
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
// The same between host pointers and raw pointers into B's memory: a plain copy where B's pointers are host
// pointers, else through thrust's device pointers (B is then the device system: backend::cuda).
template <thrust_backend B, class T>
void copy_to_device(const T* from, std::size_t n, T* to) {
  if (n == 0) return;
  if constexpr (B::host_accessible) std::copy(from, from + n, to);
  else thrust::copy(from, from + n, thrust::device_pointer_cast(to));
}
template <thrust_backend B, class T>
void copy_to_host(const T* from, std::size_t n, T* to) {
  if (n == 0) return;
  if constexpr (B::host_accessible) std::copy(from, from + n, to);
  else thrust::copy(thrust::device_pointer_cast(from), thrust::device_pointer_cast(from) + n, to);
}
// Grows (never shrinks) a scratch buffer so that repeated calls reuse one allocation.
template <class Vector>
void ensure_size(Vector& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
}

// A new buffer of n elements, filled by `fill`; its std::bad_alloc (thrust's CUDA bad_alloc derives from it)
// becomes out_of_memory naming the bytes asked for — for matrices and an operation's scratch alike.
template <thrust_backend B, class T, class Fill>
device_buffer<B, T> allocate_buffer(std::size_t n, Fill&& fill) {
  device_buffer<B, T> b;
  try {
    fill(b);
  } catch (const std::bad_alloc& e) {
    throw out_of_memory(std::string(B::name) + ": allocating " + std::to_string(n * sizeof(T)) + " bytes (" +
                            std::to_string(n) + " elements) failed: " + e.what(),
                        n * sizeof(T));
  }
  return b;
}
// Scratch for one operation: n elements set to `value`.
template <thrust_backend B, class T>
device_buffer<B, T> scratch(std::size_t n, T value = T()) {
  return allocate_buffer<B, T>(n, [&](auto& b) { b.resize(n, value); });
}

}  // namespace larimar::backend
