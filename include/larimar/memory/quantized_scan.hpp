#pragma once
// An int8 copy of a table of unit vectors for single-query scans: a quarter of the bytes of fp32, so a scan over
// 50,000×768 lookups reads 38 MB instead of 154 MB. The int8 scores only shortlist candidates; the shortlist is
// rescored exactly in fp32 by the caller, so the answer equals the fp32 scan's whenever the true best is within
// the shortlist (a score gap larger than the quantisation error, ~1e-2 of the cosine, guarantees it).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace larimar {

namespace detail {
// The scan's inner product. On x86-64 with GCC/clang an AVX2 clone is chosen at load time when the CPU has it
// (sign-extend + multiply-add on 16 lanes); the default clone keeps the library portable to any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDACC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)  // sanitizers instrument the ifunc resolver, which runs before they start
__attribute__((target_clones("avx2", "default")))
#endif
inline std::int32_t dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t n) {
  std::int32_t acc = 0;
  for (std::size_t j = 0; j < n; ++j) acc += static_cast<std::int32_t>(a[j]) * static_cast<std::int32_t>(b[j]);
  return acc;
}
}  // namespace detail

class quantized_scan {
 public:
  explicit quantized_scan(std::size_t dim = 0) : dim_(dim) {}

  std::size_t size() const { return scales_.size(); }

  template <class T>
  void add(const T* rows, std::size_t n) {  // host pointer, n×dim
    codes_.resize((size() + n) * dim_);
    std::int8_t* dst = codes_.data() + size() * dim_;
    for (std::size_t i = 0; i < n; ++i) scales_.push_back(quantize(rows + i * dim_, dst + i * dim_));
  }
  void swap_remove(std::size_t i) {
    const std::size_t last = size() - 1;
    if (i != last) {
      std::copy_n(codes_.data() + last * dim_, dim_, codes_.data() + i * dim_);
      scales_[i] = scales_[last];
    }
    codes_.resize(last * dim_);
    scales_.pop_back();
  }
  void pop_back(std::size_t n) {
    n = std::min(n, size());
    scales_.resize(size() - n);
    codes_.resize(scales_.size() * dim_);
  }
  void clear() {
    codes_.clear();
    scales_.clear();
  }

  // The `count` rows with the highest approximate dot product with q (host pointer, dim), best first.
  template <class T>
  std::vector<std::size_t> shortlist(const T* q, std::size_t count) const {
    std::vector<std::int8_t> qc(dim_);
    quantize(q, qc.data());
    count = std::min(count, size());
    // One thread: the scan streams 38 MB at about the bandwidth one core gets (2 ms at 50,000×768 here), and an
    // OpenMP team measured 6x slower whenever the second core was busy (its barrier waits for a descheduled thread).
    std::vector<std::pair<float, std::size_t>> best;  // min-heap of the best `count`
    best.reserve(count + 1);
    auto worse = [](const auto& a, const auto& b) { return a.first > b.first; };
    for (std::size_t r = 0; r < size(); ++r) {
      const float s = static_cast<float>(detail::dot_i8(qc.data(), codes_.data() + r * dim_, dim_)) * scales_[r];
      if (best.size() < count) {
        best.emplace_back(s, r);
        std::push_heap(best.begin(), best.end(), worse);
      } else if (s > best.front().first) {
        std::pop_heap(best.begin(), best.end(), worse);
        best.back() = {s, r};
        std::push_heap(best.begin(), best.end(), worse);
      }
    }
    std::sort(best.begin(), best.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < std::min(count, best.size()); ++i) out.push_back(best[i].second);
    return out;
  }

 private:
  // Symmetric per-row quantisation; returns the scale that maps codes back to values.
  template <class T>
  float quantize(const T* x, std::int8_t* out) const {
    T m(0);
    for (std::size_t j = 0; j < dim_; ++j) m = std::max(m, static_cast<T>(std::abs(x[j])));
    const float scale = m > T(0) ? static_cast<float>(m) / 127.0f : 1.0f;
    for (std::size_t j = 0; j < dim_; ++j)
      out[j] = static_cast<std::int8_t>(std::lround(static_cast<float>(x[j]) / scale));
    return scale;
  }

  std::size_t dim_;
  std::vector<std::int8_t> codes_;
  std::vector<float> scales_;
};

}  // namespace larimar
