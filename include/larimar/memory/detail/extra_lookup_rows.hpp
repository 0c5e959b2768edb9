#pragma once
// The extra lookup rows of a store's entries (memory/extra_lookups.hpp): a second nearest-neighbour index beside
// the one that holds each entry's own lookup, with the owner entry of every row and which of the owner's extra
// rows it is (1, 2, ...; a hit reports it). Kept apart so the entries' own index, its row ↔ entry map and the
// state files without extra rows stay as they were; a search asks both and keeps the best row of each entry.
#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/core/precision.hpp"
#include "larimar/memory/detail/entry_directory.hpp"
#include "larimar/memory/extra_lookups.hpp"
#include "larimar/memory/nearest_index.hpp"

namespace larimar::detail {

template <class T, class S>
class extra_lookup_rows {
 public:
  using match = typename nearest_index<T, S>::match;

  explicit extra_lookup_rows(std::size_t dim = 0, bool quantized = false, precision stored = precision::full)
      : index_(dim, quantized, stored) {}
  // A state file's rows: `index` holds them, owner[i] and ordinal[i] say whose row i is (checked by check()).
  extra_lookup_rows(nearest_index<T, S> index, std::vector<std::size_t> owner, std::vector<std::size_t> ordinal)
      : index_(std::move(index)), owner_(std::move(owner)), ordinal_(std::move(ordinal)) {}

  std::size_t size() const { return owner_.size(); }
  bool empty() const { return owner_.empty(); }
  const nearest_index<T, S>& index() const { return index_; }
  const std::vector<std::size_t>& owners() const { return owner_; }
  const std::vector<std::size_t>& ordinals() const { return ordinal_; }

  // Room for n more rows, so that add() of at most n rows then cannot fail but in the index's own scratch.
  void reserve(std::size_t n) {
    index_.reserve(size() + n);
    owner_.reserve(size() + n);
    ordinal_.reserve(size() + n);
  }
  // n vectors (storage pointer, n×dim) with their owners and ordinals (host).
  void add(const T* vectors, std::size_t n, std::span<const std::size_t> owner, std::span<const std::size_t> ordinal) {
    if (n == 0) return;
    index_.add(vectors, n);
    owner_.insert(owner_.end(), owner.begin(), owner.end());
    ordinal_.insert(ordinal_.end(), ordinal.begin(), ordinal.end());
  }
  // The checked extra vectors of a write of n rows whose first row becomes entry `first_id`: owners are the ids
  // the write's rows get (first_id + row), ordinals count each row's vectors from 1 in the order given.
  void add_write(const extra_lookups<T>& more, std::size_t n, std::size_t first_id) {
    const std::size_t e = more.rows.size();
    if (e == 0) return;
    std::vector<std::size_t> owner(e), ordinal(e), count(n, 0);
    for (std::size_t i = 0; i < e; ++i) {
      owner[i] = first_id + more.rows[i];
      ordinal[i] = ++count[more.rows[i]];
    }
    auto v = S::template make<T>(e, more.vectors.cols);
    S::upload(more.vectors.data, more.vectors.size(), S::data(v));
    reserve(e);
    add(S::data(v), e, owner, ordinal);
  }
  // Back to the first `rows` rows (a failed write takes its rows back).
  void truncate(std::size_t rows) {
    if (index_.size() > rows) index_.pop_back(index_.size() - rows);
    owner_.resize(std::min(owner_.size(), rows));
    ordinal_.resize(std::min(ordinal_.size(), rows));
  }
  // Every row of one entry (forget). Linear in the rows; allocates nothing.
  void remove_owner(std::size_t id) noexcept {
    for (std::size_t p = owner_.size(); p-- > 0;) {
      if (owner_[p] != id) continue;
      index_.swap_remove(p);
      owner_[p] = owner_.back();
      ordinal_[p] = ordinal_.back();
      owner_.pop_back();
      ordinal_.pop_back();
    }
  }

  // Per query (storage pointer, q×dim), the best row of each of its min(k, owners) best owners, best first.
  std::vector<std::vector<match>> search(const T* queries, std::size_t q, std::size_t k) const {
    if (empty()) return std::vector<std::vector<match>>(q);
    return index_.search_one_per_key(queries, q, k, owner_.data());
  }

  // A loaded file's rows against its entries: a format_error (prefixed by `context`) for an owner no block holds,
  // an ordinal of 0, two rows with one owner and ordinal, or counts that disagree.
  void check(const entry_directory& entries, const std::string& context) const {
    if (index_.size() != owner_.size() || owner_.size() != ordinal_.size())
      throw format_error(context + "the extra lookup rows are " + std::to_string(index_.size()) + " vectors for " +
                         std::to_string(owner_.size()) + " owners and " + std::to_string(ordinal_.size()) +
                         " ordinals");
    std::vector<std::pair<std::size_t, std::size_t>> seen;
    seen.reserve(owner_.size());
    for (std::size_t i = 0; i < owner_.size(); ++i) {
      if (!entries.contains(owner_[i]))
        throw format_error(context + "extra lookup row " + std::to_string(i) + " names entry " +
                           std::to_string(owner_[i]) + ", which no block holds");
      if (ordinal_[i] == 0 || ordinal_[i] > owner_.size())
        throw format_error(context + "extra lookup row " + std::to_string(i) + " has ordinal " +
                           std::to_string(ordinal_[i]) + " (from 1 up to the number of extra rows)");
      seen.emplace_back(owner_[i], ordinal_[i]);
    }
    std::sort(seen.begin(), seen.end());
    if (const auto twice = std::adjacent_find(seen.begin(), seen.end()); twice != seen.end())
      throw format_error(context + "extra lookup rows name entry " + std::to_string(twice->first) + "'s row " +
                         std::to_string(twice->second) + " twice");
  }

 private:
  nearest_index<T, S> index_;
  std::vector<std::size_t> owner_;    // entry id of each row
  std::vector<std::size_t> ordinal_;  // which of its owner's extra rows (hit::lookup)
};

}  // namespace larimar::detail
