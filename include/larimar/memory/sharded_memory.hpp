#pragma once
// larimar::sharded_memory — a context of any length as a sequence of blocks of K slots (DESIGN.md §4). Each
// block is written one-shot as its segments arrive; one nearest-neighbour index over every entry chooses block and
// slot for a query. Cost grows linearly with the number of segments; the memory stays in its storage (host RAM
// for storage::host).
//
// Block choice per key policy: fixed_nearest — the block of the entry whose lookup vector is nearest;
// prefix_encoding — the block of the entry whose address k·P is nearest (cosine) to the query's address q·P,
// then the read blends that block's slots at q·P; each block holds min(K, L) entries so W stays full rank.
// keys::content is not offered: its reads blend every slot of one memory, there is nothing to choose a block by.
#include <cstddef>
#include <span>
#include <vector>

#include "larimar/memory/memory.hpp"

namespace larimar {

template <class T, class Storage, class Keys, class Solver>
  requires memory_policies<T, Storage, Keys, Solver> && (Keys::mode != keys::addressing::by_content)
class sharded_memory {
  using store = detail::episodic_store<T, Storage, Keys, Solver>;

 public:
  using value_type = T;
  using storage_type = Storage;
  using keys_type = Keys;
  using solver_type = Solver;
  using matrix = typename Storage::template matrix<T>;
  using read_result = typename store::read_result;

  explicit sharded_memory(const memory_config& cfg, Solver solver = {})
      : store_(cfg, static_cast<std::size_t>(-1), std::move(solver), "sharded_memory") {}

  std::vector<std::size_t> write(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return store_.write(latents, lookups, write_mode::one_shot);
  }
  std::vector<std::size_t> write_sequential(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return store_.write(latents, lookups, write_mode::sequential);
  }
  read_result read(matrix_ref<const T> queries) const { return store_.read(queries); }
  matrix read_entries(std::span<const std::size_t> ids) const { return store_.read_entries(ids); }
  void forget(std::size_t id) { store_.forget(id); }

  std::size_t size() const { return store_.size(); }
  bool empty() const { return store_.empty(); }
  bool contains(std::size_t id) const { return store_.contains(id); }
  std::size_t block_count() const { return store_.block_count(); }
  std::size_t block_capacity() const { return store_.block_capacity(); }
  const memory_config& config() const { return store_.config(); }
  const matrix& block_mean(std::size_t b) const { return store_.block_at(b).mean; }
  std::pair<matrix, matrix> entry(std::size_t id) const { return store_.entry(id); }

  store& internals() { return store_; }
  const store& internals() const { return store_; }

 private:
  store store_;
};

}  // namespace larimar
