#pragma once
// The byte streams of a state file: a writer that appends values, and a reader that takes a file image front to
// back as hostile input (every size checked against the bytes left before anything is allocated from it).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "larimar/core/checked_size.hpp"
#include "larimar/core/error.hpp"

namespace larimar::io::detail {

class byte_writer {
 public:
  template <class V>
    requires std::is_trivially_copyable_v<V>
  void put(const V& v) { raw(&v, sizeof(V)); }
  void raw(const void* p, std::size_t n) {
    if (n == 0) return;
    const auto* b = static_cast<const char*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void name(std::string_view s) {
    char buf[32] = {};
    std::memcpy(buf, s.data(), std::min<std::size_t>(s.size(), 31));
    raw(buf, sizeof buf);
  }
  std::vector<char>& bytes() { return bytes_; }

 private:
  std::vector<char> bytes_;
};

// Reads a file image front to back; every failure is a format_error through `fail` (which names the file).
class byte_reader {
 public:
  byte_reader(const char* data, std::size_t size, const larimar::detail::format_failure& fail)
      : p_(data), end_(data + size), fail_(fail) {}
  template <class V>
  V get(std::string_view what) {
    V v;
    raw(&v, sizeof(V), what);
    return v;
  }
  void raw(void* dst, std::size_t n, std::string_view what) {
    if (left() < n) fail_("file truncated while reading " + std::string(what));
    if (n) std::memcpy(dst, p_, n);
    p_ += n;
  }
  std::string name(std::string_view what) {
    char buf[33] = {};
    raw(buf, 32, what);
    return std::string(buf);
  }
  // The product of `dims` (items of `bytes_each` bytes), refused unless that many bytes are left: what the file
  // claims is checked against what it holds before anything is allocated from it.
  std::size_t need(std::string_view what, std::initializer_list<std::size_t> dims, std::size_t bytes_each) {
    const auto n = larimar::detail::checked_numel(dims);
    if (!n || (bytes_each != 0 && *n > left() / bytes_each)) {
      std::string claim;
      for (const std::size_t d : dims) claim += (claim.empty() ? "" : " x ") + std::to_string(d);
      fail_(std::string(what) + ": " + claim + " items of " + std::to_string(bytes_each) + " bytes do not fit in the " +
            std::to_string(left()) + " bytes left in the file");
    }
    return *n;
  }
  // A u64 count of items of `bytes_each` bytes that must fit in the rest of the file.
  std::size_t count(std::string_view what, std::size_t bytes_each) {
    const auto n = get<std::uint64_t>(what);
    return need(what, {static_cast<std::size_t>(n)}, bytes_each);
  }
  // n values of T, each finite: NaN or infinity is no state a save writes.
  template <class T>
  std::vector<T> values(std::string_view what, std::size_t n) {
    std::vector<T> out(need(what, {n}, sizeof(T)));
    raw(out.data(), n * sizeof(T), what);
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(out[i]))
        fail_(std::string(what) + " holds a non-finite value (" + std::to_string(out[i]) + ") at element " +
              std::to_string(i));
    return out;
  }
  // n u64 ids or slots.
  std::vector<std::size_t> indices(std::string_view what, std::size_t n) {
    std::vector<std::size_t> out(need(what, {n}, 8));
    for (auto& v : out) v = static_cast<std::size_t>(get<std::uint64_t>(what));
    return out;
  }
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  const larimar::detail::format_failure& fail() const { return fail_; }

 private:
  const char* p_;
  const char* end_;
  const larimar::detail::format_failure& fail_;
};

template <class S, class T>
void put_matrix(byte_writer& w, const T* data, std::size_t n) {
  std::vector<T> host(n);
  S::download(data, n, host.data());
  w.raw(host.data(), n * sizeof(T));
}
template <class S, class T>
void get_matrix(byte_reader& r, T* data, std::size_t n, std::string_view what) {
  const auto host = r.values<T>(what, n);
  S::upload(host.data(), n, data);
}

}  // namespace larimar::io::detail
