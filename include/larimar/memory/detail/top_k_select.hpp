#pragma once
// Selection of the k best of a stream of scored candidates, on the host: a bounded heap whose top is the worst
// candidate kept, so a candidate that cannot enter costs one comparison. The rank is the one top-k reads
// promise (memory/top_k.hpp): higher score first, equal scores by lower key (the entry id). A list made with
// one_per_key keeps at most one candidate per key (the best): an entry with several lookup rows is one candidate.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace larimar::detail {

template <class T>
struct ranked {
  T score;
  std::size_t key;       // what ties are broken by: the lower first
  std::size_t position;  // where the candidate came from (a row of the index)
};

template <class T>
constexpr bool ranks_before(const ranked<T>& a, const ranked<T>& b) {
  return a.score > b.score || (a.score == b.score && a.key < b.key);
}

template <class T>
class top_k_list {
 public:
  explicit top_k_list(std::size_t k = 0, bool one_per_key = false) : k_(k), one_per_key_(one_per_key) {
    kept_.reserve(k);
  }

  std::size_t capacity() const { return k_; }
  std::size_t size() const { return kept_.size(); }

  void offer(T score, std::size_t key, std::size_t position) {
    if (kept_.size() == k_) {
      const ranked<T>& worst = kept_.front();
      if (k_ == 0 || score < worst.score || (score == worst.score && key >= worst.key)) return;
      if (!(score >= worst.score)) return;  // NaN never enters a full list
    }
    if (one_per_key_) {  // k is small: a linear look for the key costs less than a map
      const ranked<T> offered{score, key, position};
      for (auto& kept : kept_)
        if (kept.key == key) {
          if (ranks_before(offered, kept)) {
            kept = offered;
            std::make_heap(kept_.begin(), kept_.end(), cmp);
          }
          return;
        }
    }
    if (kept_.size() == k_) {
      std::pop_heap(kept_.begin(), kept_.end(), cmp);
      kept_.back() = ranked<T>{score, key, position};
    } else {
      kept_.push_back(ranked<T>{score, key, position});
    }
    std::push_heap(kept_.begin(), kept_.end(), cmp);
  }
  void merge(const top_k_list& other) {
    for (const auto& c : other.kept_) offer(c.score, c.key, c.position);
  }
  // The candidates kept, best first (the list is left empty).
  std::vector<ranked<T>> take_sorted() {
    std::sort_heap(kept_.begin(), kept_.end(), cmp);
    std::vector<ranked<T>> out;
    out.swap(kept_);
    kept_.reserve(k_);
    return out;
  }

 private:
  // The heap's order: its front is the candidate every other one ranks before.
  static constexpr bool cmp(const ranked<T>& a, const ranked<T>& b) { return ranks_before(a, b); }

  std::size_t k_;
  bool one_per_key_;
  std::vector<ranked<T>> kept_;
};

}  // namespace larimar::detail
