#pragma once
// Exact cosine nearest-neighbour search over the written entries: rows are stored unit-normalised, a batch of
// queries is one GEMM per chunk of rows plus a row arg-max, so Q queries read the table once, not Q times.
// With lookup_precision fp16/bf16 the rows are kept in that format (half the bytes) and each chunk is widened
// to T in a scratch tile just before its GEMM: the scores accumulate in T, only the stored rows are rounded.
// Except bf16 rows with T = float on host-accessible storage, on a CPU with AVX512-BF16: there one fused kernel
// (bf16_scan.hpp) takes the dot products in bf16 × bf16 → fp32 and keeps a running best, no widening, no scores;
// the query is then rounded to bf16 too (a second u in the drift bound). fp16 rows always widen (no avx512_fp16).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "larimar/core/precision.hpp"
#include "larimar/memory/bf16_scan.hpp"
#include "larimar/memory/detail/top_k_select.hpp"
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
  // stored: the format of the rows (full: T; fp16/bf16: 16-bit, widened per chunk); not with quantized.
  explicit nearest_index(std::size_t dim = 0, bool quantized = false, precision stored = precision::full)
      : dim_(dim), stored_(stored), rows_(stored == precision::full ? dim : 0),
        packed_(stored == precision::full ? 0 : dim), quantized_(quantized && host_accessible && stored == precision::full),
        codes_(dim) {}

  static constexpr bool host_accessible = requires { requires S::host_accessible; };
  // Storage that multiplies 16-bit rows itself (storage::device under CUDA: cublasGemmEx); others widen + GEMM.
  static constexpr bool packed_gemm = std::is_same_v<T, float> && requires(const float* a, const std::uint16_t* b, float* c) {
    S::linalg::gemm_packed_rows(std::size_t{}, std::size_t{}, std::size_t{}, a, b, precision::fp16, c);
  };
  static constexpr std::size_t shortlist_size = 32;
  static constexpr std::size_t quantized_max_queries = 4;
  bool quantized() const { return quantized_; }
  precision stored_precision() const { return stored_; }
  bool packed() const { return stored_ != precision::full; }
  // How search() scans packed rows: automatic takes the fused bf16 kernel wherever fused_bf16() says it applies;
  // widen_gemm forces the portable path (tests and benchmarks compare the two).
  enum class scan { automatic, widen_gemm };
  bool fused_bf16() const {
    if constexpr (host_accessible && std::is_same_v<T, float>)
      return stored_ == precision::bf16 && detail::bf16_scan::supported();
    else
      return false;
  }

  std::size_t size() const { return packed() ? packed_.size() : rows_.size(); }
  std::size_t dim() const { return dim_; }
  // Bytes the rows take (capacity included): how lookup_precision halves the index.
  std::size_t bytes() const {
    return packed() ? packed_.capacity() * dim_ * sizeof(std::uint16_t) : rows_.capacity() * dim_ * sizeof(T);
  }
  void reserve(std::size_t n) {
    if (packed())
      packed_.reserve(n);
    else
      rows_.reserve(n);
  }

  // Adds n vectors (storage pointer, n×dim); they are normalised in the index (then rounded, when packed).
  void add(const T* vectors, std::size_t n) {
    if (packed()) {  // through a cache-sized scratch of at most 1024 rows
      std::uint16_t* dst = packed_.append(n);
      auto unit = S::template make<T>(std::min<std::size_t>(n, 1024), dim());
      for (std::size_t start = 0; start < n; start += 1024) {
        const std::size_t m = std::min<std::size_t>(n - start, 1024);
        S::copy(vectors + start * dim(), m * dim(), S::data(unit));
        S::linalg::normalize_rows(S::data(unit), m, dim());
        S::linalg::narrow(S::data(unit), m * dim(), dst + start * dim(), stored_);
      }
      return;
    }
    T* dst = rows_.append(n);
    S::copy(vectors, n * dim(), dst);
    S::linalg::normalize_rows(dst, n, dim());
    if (quantized_) codes_.add(dst, n);
  }
  // Calls fn(rows) with the unit rows as T (storage pointer, size()×dim): the stored rows, or a widened copy.
  template <class Fn>
  void visit_rows(Fn&& fn) const {
    if (!packed()) return fn(static_cast<const T*>(rows_.data()));
    auto wide = S::template make<T>(size(), dim());
    S::linalg::widen(packed_.data(), size() * dim(), S::data(wide), stored_);
    fn(static_cast<const T*>(S::data(wide)));
  }
  // n raw rows to be filled verbatim (already normalised, as T), for the state-file loader; then rebuild().
  T* rows_for_load(std::size_t n) {
    if (packed()) rows_ = row_store<T, S>(dim_);  // staging, rounded into the packed rows by rebuild()
    return rows_.append(n);
  }
  void rebuild() {
    codes_.clear();
    if (packed()) {
      S::linalg::narrow(rows_.data(), rows_.size() * dim(), packed_.append(rows_.size()), stored_);
      rows_ = row_store<T, S>(0);
      return;
    }
    if (quantized_) codes_.add(rows_.data(), size());
  }
  void swap_remove(std::size_t position) {
    if (packed()) return packed_.swap_remove(position);
    rows_.swap_remove(position);
    if (quantized_) codes_.swap_remove(position);
  }
  void pop_back(std::size_t n) {
    if (packed()) return packed_.pop_back(n);
    rows_.pop_back(n);
    if (quantized_) codes_.pop_back(n);
  }
  void clear() {
    rows_.clear();
    packed_.clear();
    codes_.clear();
  }

  // Best match for each of q queries (storage pointer, q×dim). The index must not be empty.
  std::vector<match> search(const T* queries, std::size_t q, scan path = scan::automatic) const {
    std::vector<match> best(q, match{0, -std::numeric_limits<T>::infinity()});
    if (q == 0 || size() == 0) return best;
    auto unit = S::template make<T>(q, dim());
    S::copy(queries, q * dim(), S::data(unit));
    S::linalg::normalize_rows(S::data(unit), q, dim());
#if defined(LARIMAR_HAVE_BF16_SCAN)
    if constexpr (host_accessible && std::is_same_v<T, float>) {
      if (path == scan::automatic && fused_bf16()) {
        const auto hits = detail::bf16_scan::argmax(S::data(unit), q, packed_.data(), size(), dim());
        for (std::size_t i = 0; i < q; ++i) best[i] = match{hits[i].position, hits[i].score};
        return best;
      }
    }
#endif
    (void)path;
    if (quantized_ && q <= quantized_max_queries) {
      for (std::size_t i = 0; i < q; ++i) {
        const T* u = S::data(unit) + i * dim();
        for (std::size_t r : codes_.shortlist(u, shortlist_size)) {
          const T score = S::linalg::dot(dim(), u, rows_.row(r));  // exact rescoring
          if (score > best[i].score) best[i] = match{r, score};
        }
      }
      return best;
    }
    // Chunks bound the score scratch to q×chunk while each chunk stays a large GEMM; packed rows are widened one
    // chunk at a time into a tile of at most ~2^20 values (4 MB in fp32: cache-sized).
    std::size_t chunk = std::max<std::size_t>(1024, (std::size_t{1} << 24) / std::max<std::size_t>(q, 1));
    if (packed()) chunk = std::min(chunk, std::max<std::size_t>(256, (std::size_t{1} << 20) / std::max<std::size_t>(dim(), 1)));
    chunk = std::min(chunk, size());
    auto scores = S::template make<T>(q, chunk);
    auto tile = S::template make<T>(packed() && !packed_gemm ? chunk : 0, dim());
    std::vector<std::size_t> idx(q);
    std::vector<T> val(q);
    for (std::size_t start = 0; start < size(); start += chunk) {
      const std::size_t n = std::min(chunk, size() - start);
      score_chunk(S::data(unit), q, start, n, S::data(scores), S::data(tile));
      S::linalg::row_argmax(S::data(scores), q, n, idx.data(), val.data());
      for (std::size_t i = 0; i < q; ++i)
        if (val[i] > best[i].score) best[i] = match{start + idx[i], val[i]};
    }
    return best;
  }

  // The k best matches of each of q queries (storage pointer, q×dim): q × min(k, size()) matches, query i's at
  // [i·k', i·k' + k') with k' = min(k, size()), best first. Equal scores put the row with the lower keys[row] first
  // (keys: one per row, on the host; the store passes the entry ids, so ties go to the earlier written entry).
  // Every row is one candidate, so a query's matches name distinct rows. The same scans as search(): the fused
  // bf16 kernel where it applies, the int8 shortlist (of max(shortlist_size, k) rows, rescored exactly) for a few
  // queries, else a GEMM per chunk whose scores are ranked on the host (downloaded first where the storage is not
  // host-accessible, except for k = 1, where the storage's row arg-max picks each chunk's best: ties within a chunk
  // then go to the lower row).
  std::vector<match> search(const T* queries, std::size_t q, std::size_t k, const std::size_t* keys,
                            scan path = scan::automatic) const {
    k = std::min(k, size());
    if (q == 0 || k == 0) return {};
    auto unit = S::template make<T>(q, dim());
    S::copy(queries, q * dim(), S::data(unit));
    S::linalg::normalize_rows(S::data(unit), q, dim());
    std::vector<match> out;
    out.reserve(q * k);
#if defined(LARIMAR_HAVE_BF16_SCAN)
    if constexpr (host_accessible && std::is_same_v<T, float>) {
      if (path == scan::automatic && fused_bf16()) {
        for (const auto& h : detail::bf16_scan::top_k(S::data(unit), q, packed_.data(), size(), dim(), k, keys))
          out.push_back(match{h.position, h.score});
        return out;
      }
    }
#endif
    (void)path;
    std::vector<detail::top_k_list<T>> best(q, detail::top_k_list<T>(k));
    rank(S::data(unit), q, k, keys, best);
    for (auto& list : best)
      for (const auto& c : list.take_sorted()) out.push_back(match{c.position, c.score});
    return out;
  }

  // The best rows of each of q queries with at most one row per key (keys: one per row, on the host — the owner
  // entry of each row of an index of extra lookup rows): per query the min(k, distinct keys) best keys' best rows,
  // best first, ranked as search(queries, q, k, keys) ranks. The GEMM or int8 scans of that search (the fused
  // bf16 kernel keeps no keys); with int8 codes a key whose rows all miss the shortlist is missed.
  std::vector<std::vector<match>> search_one_per_key(const T* queries, std::size_t q, std::size_t k,
                                                     const std::size_t* keys) const {
    std::vector<std::vector<match>> out(q);
    k = std::min(k, size());
    if (q == 0 || k == 0) return out;
    auto unit = S::template make<T>(q, dim());
    S::copy(queries, q * dim(), S::data(unit));
    S::linalg::normalize_rows(S::data(unit), q, dim());
    std::vector<detail::top_k_list<T>> best(q, detail::top_k_list<T>(k, true));
    rank(S::data(unit), q, k, keys, best, true);
    for (std::size_t i = 0; i < q; ++i)
      for (const auto& c : best[i].take_sorted()) out[i].push_back(match{c.position, c.score});
    return out;
  }

 private:
  // Offers every row (or, with int8 codes and few queries, a shortlist) to each query's list. one_per_key: the
  // lists keep one row per key, so a chunk's arg-max alone would not do: every score is ranked on the host.
  void rank(const T* unit_queries, std::size_t q, std::size_t k, const std::size_t* keys,
            std::vector<detail::top_k_list<T>>& best, bool one_per_key = false) const {
    if (quantized_ && q <= quantized_max_queries) {
      for (std::size_t i = 0; i < q; ++i) {
        const T* u = unit_queries + i * dim();
        for (std::size_t r : codes_.shortlist(u, std::max(shortlist_size, one_per_key ? 4 * k : k)))
          best[i].offer(S::linalg::dot(dim(), u, rows_.row(r)), keys[r], r);  // exact rescoring
      }
    } else {
      std::size_t chunk = std::max<std::size_t>(1024, (std::size_t{1} << 24) / std::max<std::size_t>(q, 1));
      if (packed()) chunk = std::min(chunk, std::max<std::size_t>(256, (std::size_t{1} << 20) / std::max<std::size_t>(dim(), 1)));
      chunk = std::min(chunk, size());
      auto scores = S::template make<T>(q, chunk);
      auto tile = S::template make<T>(packed() && !packed_gemm ? chunk : 0, dim());
      std::vector<T> on_host(host_accessible || (k == 1 && !one_per_key) ? 0 : q * chunk);
      std::vector<std::size_t> idx(q);
      std::vector<T> val(q);
      for (std::size_t start = 0; start < size(); start += chunk) {
        const std::size_t n = std::min(chunk, size() - start);
        score_chunk(unit_queries, q, start, n, S::data(scores), S::data(tile));
        if (!host_accessible && k == 1 && !one_per_key) {
          S::linalg::row_argmax(S::data(scores), q, n, idx.data(), val.data());
          for (std::size_t i = 0; i < q; ++i) best[i].offer(val[i], keys[start + idx[i]], start + idx[i]);
          continue;
        }
        const T* s = S::data(scores);
        if constexpr (!host_accessible) {
          S::download(S::data(scores), q * n, on_host.data());
          s = on_host.data();
        }
        for (std::size_t i = 0; i < q; ++i)
          for (std::size_t j = 0; j < n; ++j) best[i].offer(s[i * n + j], keys[start + j], start + j);
      }
    }
  }

  // scores[q×n] = unit queries · rows [start, start + n)ᵀ; packed rows are widened into `tile` (chunk×dim) first,
  // unless the storage multiplies them itself.
  void score_chunk(const T* unit, std::size_t q, std::size_t start, std::size_t n, T* scores, T* tile) const {
    const T* rows = nullptr;
    if (!packed()) {
      rows = rows_.row(start);
    } else if constexpr (packed_gemm) {
      return S::linalg::gemm_packed_rows(q, n, dim(), unit, packed_.row(start), stored_, scores);
    } else {
      S::linalg::widen(packed_.row(start), n * dim(), tile, stored_);
      rows = tile;
    }
    S::linalg::gemm(false, true, q, n, dim(), T(1), unit, dim(), rows, dim(), T(0), scores, n);
  }

  std::size_t dim_;
  precision stored_;
  row_store<T, S> rows_;                // full precision: the unit rows (packed: the loader's staging only)
  row_store<std::uint16_t, S> packed_;  // fp16/bf16: the unit rows, rounded
  bool quantized_;
  quantized_scan codes_;
};

}  // namespace larimar
