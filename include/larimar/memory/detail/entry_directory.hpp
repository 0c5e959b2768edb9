#pragma once
// Where each entry lives — entry id ↔ (block, row in the block's log, row in the nearest-neighbour index) — and the
// id the next write starts at. A write stages its entries apart and merges them in at its commit, which then
// allocates nothing; forget and the state-file loader keep both directions consistent here.
#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "larimar/core/error.hpp"

namespace larimar::detail {

struct entry_location {
  std::size_t block;
  std::size_t row;       // row in the block's log
  std::size_t position;  // row in the nearest-neighbour index
};

class entry_directory {
 public:
  using locations = std::unordered_map<std::size_t, entry_location>;

  std::size_t size() const { return where_.size(); }
  bool empty() const { return where_.empty(); }
  bool contains(std::size_t id) const { return where_.contains(id); }
  std::size_t next_id() const { return next_id_; }
  const std::vector<std::size_t>& by_position() const { return by_position_; }  // index row -> entry id
  std::size_t at_position(std::size_t position) const { return by_position_[position]; }
  const entry_location& at(std::size_t id) const { return where_.at(id); }
  // The entry's location; a state_error naming `op` for an id that is not in the memory.
  const entry_location& locate(const std::string& op, std::size_t id) const {
    auto it = where_.find(id);
    if (it == where_.end())
      throw state_error(op + ": no entry " + std::to_string(id) + " in the memory (never written, or forgotten)");
    return it->second;
  }

  // A write's entries, ids next_id() on in index order: made and sized while staging (this may throw), merged by
  // commit (which does not).
  struct staged {
    locations where;
    std::vector<std::size_t> ids;
  };
  staged stage(std::size_t n) {
    staged s;
    s.where.reserve(n);
    s.ids.reserve(n);
    where_.reserve(where_.size() + n);  // the merge below then moves nodes without rehashing
    by_position_.reserve(by_position_.size() + n);
    return s;
  }
  void commit(staged& s) noexcept {
    where_.merge(s.where);
    by_position_.insert(by_position_.end(), s.ids.begin(), s.ids.end());
    next_id_ += s.ids.size();
  }

  // Forget `id`: `moved` is the entry its block moved into its log row (or `id` when none moved), `last` the
  // index row that moved into its index row.
  void remove(std::size_t id, std::size_t moved, std::size_t last) {
    const entry_location loc = where_.at(id);
    if (moved != id) where_[moved].row = loc.row;
    if (loc.position != last) {
      by_position_[loc.position] = by_position_[last];
      where_[by_position_[loc.position]].position = loc.position;
    }
    by_position_.pop_back();
    where_.erase(id);
  }

  // The directory of a state file's blocks (each with its `entry` ids in log order) and index entries, or a
  // format_error (prefixed by `context`) for entries and index rows that disagree.
  template <class Blocks>
  static entry_directory restored(const Blocks& blocks, std::vector<std::size_t> by_position, std::size_t index_rows,
                                  std::size_t next_id, const std::string& context) {
    constexpr std::size_t unindexed = static_cast<std::size_t>(-1);
    entry_directory d;
    for (std::size_t b = 0; b < blocks.size(); ++b)
      for (std::size_t r = 0; r < blocks[b].entry.size(); ++r)
        if (const auto [it, fresh] = d.where_.emplace(blocks[b].entry[r], entry_location{b, r, unindexed}); !fresh)
          throw format_error(context + "entry " + std::to_string(blocks[b].entry[r]) + " is written twice (block " +
                             std::to_string(it->second.block) + " and block " + std::to_string(b) + ")");
    if (by_position.size() != d.where_.size() || index_rows != d.where_.size())
      throw format_error(context + "the index holds " + std::to_string(index_rows) + " rows for " +
                         std::to_string(d.where_.size()) + " entries");
    for (std::size_t p = 0; p < by_position.size(); ++p) {
      auto it = d.where_.find(by_position[p]);
      if (it == d.where_.end())
        throw format_error(context + "index row " + std::to_string(p) + " names entry " +
                           std::to_string(by_position[p]) + ", which no block holds");
      if (it->second.position != unindexed)
        throw format_error(context + "index rows name entry " + std::to_string(by_position[p]) + " twice");
      it->second.position = p;
      if (by_position[p] >= next_id)
        throw format_error(context + "entry " + std::to_string(by_position[p]) + " is not below the entry counter " +
                           std::to_string(next_id) + " (the next write would reuse its id)");
    }
    d.by_position_ = std::move(by_position);
    d.next_id_ = next_id;
    return d;
  }

 private:
  locations where_;
  std::vector<std::size_t> by_position_;
  std::size_t next_id_ = 0;
};

}  // namespace larimar::detail
