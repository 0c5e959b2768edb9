#pragma once
// A key policy decides the address w (a row of length K) at which each segment is written, how a query finds what
// to read (its own address, or the address of the entry it matches), what the nearest-neighbour index of written
// entries holds, and how many rows a block takes. The memory asks it through the operations named here and knows
// nothing else about it, so a new policy is a new type, not a change to the memory (docs/design.md, "Adding a
// policy"). Sizes an operation does not take are those of the state's own address matrix.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "larimar/core/config.hpp"
#include "larimar/keys/block_fill.hpp"
#include "larimar/keys/block_trial.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/concepts.hpp"

namespace larimar {

template <class K, class T, class S>
concept key_policy =
    storage_policy<S, T> && requires { typename K::template state<T, S>; } &&
    std::constructible_from<typename K::template state<T, S>, const memory_config&> &&
    requires(const typename K::template state<T, S>& st, typename K::template state<T, S>& loaded,
             const memory_config& cfg, std::span<const std::size_t> slots, std::span<const std::uint8_t> used,
             std::vector<std::size_t>& out_slots, const T* in, T* out, std::size_t n) {
      { K::name } -> std::convertible_to<const char*>;  // recorded in state files
      // What a write and a query hand in.
      { K::lookups_are_latents } -> std::convertible_to<bool>;      // true: a write's lookup vectors are its latents
      { K::lookup_cols(cfg) } -> std::convertible_to<std::size_t>;  // columns of a write's lookups and of a query
      { K::shardable } -> std::convertible_to<bool>;                // a query can pick one block of many
      // The matrix that defines the addresses: what a state file stores (the loader replaces it) and its shape.
      { K::address_matrix_shape(cfg) } -> std::same_as<std::pair<std::size_t, std::size_t>>;
      { st.address_matrix() } -> std::same_as<const typename S::template matrix<T>&>;
      { loaded.address_matrix() } -> std::same_as<typename S::template matrix<T>&>;
      { st.address_count() } -> std::convertible_to<std::size_t>;  // distinct write addresses (slots) per block
      // Placement: the most rows one block takes in a memory of at most n blocks; a per-block map of occupied
      // slots (its size; 0 for none); and the slots of up to n new rows in a block with that map and those slots,
      // given room for that many.
      { st.block_capacity(cfg, n) } -> std::convertible_to<std::size_t>;
      { st.slot_map_size() } -> std::convertible_to<std::size_t>;
      st.free_slots(used, slots, n, n, out_slots);
      // A write: n rows' addresses (n×K) from their slots, latents (n×C) and lookups (n×lookup_cols).
      st.write_addresses(slots, in, in, n, out);
      // True when any set of addresses is orthonormal: the one-shot write is then M += W_newᵀ·Z_new.
      { st.orthonormal() } -> std::convertible_to<bool>;
      // The index: the length of its vectors, and which of a written row's lookup and address it holds.
      { K::index_dim(cfg) } -> std::convertible_to<std::size_t>;
      { st.index_vectors(in, in) } -> std::same_as<const T*>;
      // A read: the queries' own addresses (n×K), searched in the index and read at in each hit's block; or none
      // (0×K): the queries are searched as they are and read at the address of the entry each hit names.
      // `in` (third) is the first block's read map of mean-addressed keys, nullptr for the others.
      { st.query_addresses(in, n, in) } -> std::same_as<typename S::template matrix<T>>;
    };

namespace keys {

// Keys whose addresses depend on what a block holds (content addressing): the block keeps a read map made from
// its mean whenever the mean changes (reads address with it), and a sequential write addresses each row against
// the mean as the rows before it left it (`map` is the block's read map, made or reused as the policy needs).
template <class K, class T, class S>
concept mean_addressed =
    key_policy<K, T, S> &&
    requires(const typename K::template state<T, S>& st, const solver::pseudoinverse& solver, const T* in, T* out,
             std::optional<typename S::template matrix<T>>& map, std::size_t n, T sigma) {
      { st.read_map(solver, in, n, n) } -> std::same_as<typename S::template matrix<T>>;
      st.sequential_address(solver, in, in, n, n, sigma, map, out);
    };

// Keys whose blocks in a sharded memory take rows only while the write reproduces every latent (prefix encoding):
// `offer` is how many rows the next block is offered, `fill_block` keeps as many of the offered rows of a trial
// block as stay exact, returns that count, and updates the fill.
template <class K, class T, class S>
concept exact_filling =
    key_policy<K, T, S> && requires(const typename K::template state<T, S>& st, const memory_config& cfg,
                                    block_fill& fill, block_trial_archetype<T>& trial, std::size_t n) {
      { st.fills_exactly(n) } -> std::convertible_to<bool>;  // in a memory of at most n blocks
      { st.offer(cfg, fill, n) } -> std::convertible_to<std::size_t>;  // n: the block capacity
      { st.fill_block(cfg, trial, n, n, fill) } -> std::convertible_to<std::size_t>;
    };

}  // namespace keys

}  // namespace larimar
