#pragma once
// What memory and sharded_memory share: the calls that go straight to the episodic store.
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "larimar/memory/detail/episodic_store.hpp"

namespace larimar::io::detail {
struct state_codec;  // io/state_file.hpp: reads and writes the store behind the public calls
}

namespace larimar::detail {

struct store_inspector;  // defined by white-box tests only (test/memory/helpers.hpp); no part of the interface

template <class T, class Storage, class Keys, class Solver>
class memory_base {
 protected:
  using store = episodic_store<T, Storage, Keys, Solver>;
  memory_base(const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who)
      : store_(cfg, max_blocks, std::move(solver), who) {}
  memory_base(stored_keys_t tag, const memory_config& cfg, std::size_t max_blocks, Solver solver, const char* who,
              typename Storage::template matrix<T> keys)
      : store_(tag, cfg, max_blocks, std::move(solver), who, std::move(keys)) {}

 public:
  using value_type = T;
  using storage_type = Storage;
  using keys_type = Keys;
  using solver_type = Solver;
  using matrix = typename Storage::template matrix<T>;
  using read_result = typename store::read_result;
  using top_k_result = larimar::top_k_result<T, matrix>;

  // One-shot write of an episode (N×C latents, N×L lookups): addresses from the key policy, then the least-squares
  // write of each touched block. Returns the entry id of each row.
  std::vector<std::size_t> write(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return store_.write(latents, lookups, write_mode::one_shot);
  }
  // Sequential write: one Kalman step (mean and covariance) per segment, from the prior (M₀, U₀).
  std::vector<std::size_t> write_sequential(matrix_ref<const T> latents, matrix_ref<const T> lookups) {
    return store_.write(latents, lookups, write_mode::sequential);
  }
  // Either write with extra lookup vectors (memory/extra_lookups.hpp), for keys whose index holds lookups: a query
  // that matches one of a row's extra vectors reads that row's entry, as if it had matched its own lookup. A write
  // that throws (bad extra vectors included) leaves the memory as it was.
  std::vector<std::size_t> write(matrix_ref<const T> latents, matrix_ref<const T> lookups,
                                 const extra_lookups<T>& more)
    requires keys::lookup_indexed<Keys, T, Storage>
  {
    return store_.write(latents, lookups, write_mode::one_shot, &more);
  }
  std::vector<std::size_t> write_sequential(matrix_ref<const T> latents, matrix_ref<const T> lookups,
                                            const extra_lookups<T>& more)
    requires keys::lookup_indexed<Keys, T, Storage>
  {
    return store_.write(latents, lookups, write_mode::sequential, &more);
  }
  // The latent path: rows already in the storage's memory (an encoder on the same device wrote them there) are
  // written and read without a stop on the host; a read's latents stay in the storage too (read_result::latents).
  using device_rows = backend::device_ref<typename Storage::linalg, const T>;
  std::vector<std::size_t> write(device_rows latents, device_rows lookups) {
    return store_.write(latents, lookups, write_mode::one_shot);
  }
  std::vector<std::size_t> write_sequential(device_rows latents, device_rows lookups) {
    return store_.write(latents, lookups, write_mode::sequential);
  }
  std::vector<std::size_t> write(device_rows latents, device_rows lookups, const extra_lookups<T>& more)
    requires keys::lookup_indexed<Keys, T, Storage>
  {
    return store_.write(latents, lookups, write_mode::one_shot, &more);
  }
  read_result read(device_rows queries) const { return store_.read(queries); }
  top_k_result read(device_rows queries, std::size_t k) const { return store_.read(queries, k); }
  // Batched read: each query row is looked up (key policy) and read back, z = w·M.
  read_result read(matrix_ref<const T> queries) const { return store_.read(queries); }
  // Top-k read: each query's k best entries, best first (score descending, equal scores by lower entry id), with
  // what the query reads at each; k = 1 is read(). k > size() gives every entry; k = 0 is a value_error.
  top_k_result read(matrix_ref<const T> queries, std::size_t k) const { return store_.read(queries, k); }
  // Reads at the addresses these entries were written at.
  matrix read_entries(std::span<const std::size_t> ids) const { return store_.read_entries(ids); }
  // Removes one entry so that reads at its address no longer return it (docs/memory.md gives the exact rule).
  void forget(std::size_t id) { store_.forget(id); }

  std::size_t size() const { return store_.size(); }
  // Extra lookup vectors held for the entries (0 unless written with extra_lookups).
  std::size_t extra_lookup_count() const { return store_.extra_rows().size(); }
  bool empty() const { return store_.empty(); }
  bool contains(std::size_t id) const { return store_.contains(id); }
  const memory_config& config() const { return store_.config(); }
  const Solver& solver() const { return store_.solver(); }
  // Blocks opened so far (a memory: 0 before its first write, then 1).
  std::size_t block_count() const { return store_.block_count(); }
  // The address (1×K) an entry was written at, and its latent as written.
  std::pair<matrix, matrix> entry(std::size_t id) const { return store_.entry(id); }

 protected:
  store store_;

 private:
  friend struct ::larimar::io::detail::state_codec;
  friend struct ::larimar::detail::store_inspector;
};

}  // namespace larimar::detail
