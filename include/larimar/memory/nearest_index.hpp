#pragma once
// Exact cosine nearest-neighbour search over the written entries: rows are stored unit-normalised, a batch of
// queries is one GEMM per chunk of rows plus a row arg-max, so Q queries read the table once, not Q times.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "larimar/memory/quantized_scan.hpp"
#include "larimar/memory/row_store.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar {

template <class T, class S>
  requires storage_policy<S, T>
class nearest_index {
 public:
  struct match {
    std::size_t position;  // row in the index (the caller maps it to an entry)
    T score;               // cosine similarity
  };

  // quantized: also keep an int8 copy for single-query scans (host-accessible storage only; see
  // quantized_scan.hpp). Batches of queries always use the fp32 GEMM, which reads the table once per batch.
  explicit nearest_index(std::size_t dim = 0, bool quantized = false)
      : rows_(dim), quantized_(quantized && host_accessible), codes_(dim) {}

  static constexpr bool host_accessible = requires { requires S::host_accessible; };
  static constexpr std::size_t shortlist_size = 32;
  static constexpr std::size_t quantized_max_queries = 4;
  bool quantized() const { return quantized_; }

  std::size_t size() const { return rows_.size(); }
  std::size_t dim() const { return rows_.cols(); }
  const row_store<T, S>& rows() const { return rows_; }
  void reserve(std::size_t n) { rows_.reserve(n); }

  // Adds n vectors (storage pointer, n×dim); they are normalised in place in the index.
  void add(const T* vectors, std::size_t n) {
    T* dst = rows_.append(n);
    S::copy(vectors, n * dim(), dst);
    S::normalize_rows(dst, n, dim());
    if (quantized_) codes_.add(dst, n);
  }
  // n raw rows to be filled verbatim (already normalised), for the state-file loader; then rebuild().
  T* rows_for_load(std::size_t n) { return rows_.append(n); }
  void rebuild() {
    codes_.clear();
    if (quantized_) codes_.add(rows_.data(), size());
  }
  void swap_remove(std::size_t position) {
    rows_.swap_remove(position);
    if (quantized_) codes_.swap_remove(position);
  }
  void pop_back(std::size_t n) {
    rows_.pop_back(n);
    if (quantized_) codes_.pop_back(n);
  }
  void clear() {
    rows_.clear();
    codes_.clear();
  }

  // Best match for each of q queries (storage pointer, q×dim). The index must not be empty.
  std::vector<match> search(const T* queries, std::size_t q) const {
    std::vector<match> best(q, match{0, -std::numeric_limits<T>::infinity()});
    if (q == 0 || size() == 0) return best;
    auto unit = S::template make<T>(q, dim());
    S::copy(queries, q * dim(), S::data(unit));
    S::normalize_rows(S::data(unit), q, dim());
    if (quantized_ && q <= quantized_max_queries) {
      for (std::size_t i = 0; i < q; ++i) {
        const T* u = S::data(unit) + i * dim();
        for (std::size_t r : codes_.shortlist(u, shortlist_size)) {
          const T score = S::dot(dim(), u, rows_.row(r));  // exact rescoring
          if (score > best[i].score) best[i] = match{r, score};
        }
      }
      return best;
    }
    // Chunks bound the score scratch to q×chunk while each chunk stays a large GEMM.
    const std::size_t chunk = std::max<std::size_t>(1024, (std::size_t{1} << 24) / std::max<std::size_t>(q, 1));
    auto scores = S::template make<T>(q, std::min(chunk, size()));
    std::vector<std::size_t> idx(q);
    std::vector<T> val(q);
    for (std::size_t start = 0; start < size(); start += chunk) {
      const std::size_t n = std::min(chunk, size() - start);
      S::gemm(false, true, q, n, dim(), T(1), S::data(unit), dim(), rows_.row(start), dim(), T(0), S::data(scores), n);
      S::row_argmax(S::data(scores), q, n, idx.data(), val.data());
      for (std::size_t i = 0; i < q; ++i)
        if (val[i] > best[i].score) best[i] = match{start + idx[i], val[i]};
    }
    return best;
  }

 private:
  row_store<T, S> rows_;
  bool quantized_;
  quantized_scan codes_;
};

}  // namespace larimar
