#pragma once
// Saving and loading a memory or sharded memory: a context written once survives the process.
// The format (little-endian, documented in docs/formats.md):
//   header   "LRMSTATE" | u32 version (3 with extra lookup rows, else 2; 1 is read too) | u32 kind (1 memory, 2 sharded) | u32 element bytes (4 or 8)
//            | char[32] key policy | char[32] solver | config (u64 slots, code_size, lookup_size, seed,
//            addresses; u32 prior, key basis, sample_noise, flags (bit 0 quantized_lookup, bits 8-15
//            lookup_precision, bits 16-23 memory_precision: 0 full / 1 fp16 / 2 bf16); f64 memory_logvar,
//            observation_noise, write_tolerance (version 2)) | u64 next entry id | u64 noise draws
//            | u64 block fill, u64 fill streak (version 2; how full the next prefix-encoded block is offered to be)
//   keys     u64 rows, u64 cols, rows×cols elements (the key policy's address matrix, stored rather than
//            regenerated so a file does not depend on the LAPACK that drew it)
//   blocks   u64 count; per block: u32 mode | u64 n | mean K×C | covariance K×K | addresses n×K | latents n×C
//            | u64 entry[n] | u64 slot[n] | u64 u | u8 used[u]
//   index    u64 rows, u64 dim, rows×dim elements | u64 entry[rows]
//   extra    (version 3) u64 rows, rows×dim elements | u64 owner entry[rows] | u64 ordinal[rows] (1, 2, ... per
//            owner): the entries' extra lookup rows (memory/extra_lookups.hpp)
//   trailer  u32 CRC-32 of every byte before it
// Written atomically and durably (io/atomic_file.hpp). Read as a hostile file: every size is checked against the
// bytes left before anything is allocated from it, and every value against what a save could have written.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "larimar/core/checked_size.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/quote.hpp"
#include "larimar/io/atomic_file.hpp"
#include "larimar/io/byte_stream.hpp"
#include "larimar/io/checksum.hpp"
#include "larimar/io/regular_file.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"

namespace larimar::io {

namespace detail {

using ::larimar::detail::quote;

inline constexpr char kStateMagic[8] = {'L', 'R', 'M', 'S', 'T', 'A', 'T', 'E'};
// 2 added write_tolerance and the block fill; 3 the extra lookup rows, and only a memory that holds some is written
// as 3 (so files without them stay readable by older builds).
inline constexpr std::uint32_t kStateVersion = 3;
inline constexpr std::uint32_t kStateVersionWithoutExtraRows = 2;

static_assert(std::endian::native == std::endian::little, "state files are little-endian; add byte swapping here");

template <class Memory>
constexpr std::uint32_t kind_of() {
  return Memory::max_blocks > 1 ? 2 : 1;
}

// The codec: a friend of the memories, so that what a state file holds (the store behind the public calls) needs
// no public accessor.
struct state_codec {
  template <class Memory>
  using base_of = ::larimar::detail::memory_base<typename Memory::value_type, typename Memory::storage_type,
                                                  typename Memory::keys_type, typename Memory::solver_type>;
  template <class Memory>
  static const auto& store_of(const Memory& mem) {
    return static_cast<const base_of<Memory>&>(mem).store_;
  }
  template <class Memory>
  static auto& store_of(Memory& mem) {
    return static_cast<base_of<Memory>&>(mem).store_;
  }

  template <class Memory>
  static std::vector<char> encode(const Memory& mem);
  template <class Memory>
  static Memory decode(std::span<const char> bytes, const std::string& where, typename Memory::solver_type solver);
};

// A memory's state file image (what save() writes).
template <class Memory>
std::vector<char> encode(const Memory& mem) {
  return state_codec::encode(mem);
}

template <class Memory>
std::vector<char> state_codec::encode(const Memory& mem) {
  using T = typename Memory::value_type;
  using S = typename Memory::storage_type;
  const auto& st = store_of(mem);
  const auto& cfg = st.config();
  byte_writer w;
  const auto& extra = st.extra_rows();
  w.raw(kStateMagic, 8);
  w.put(extra.empty() ? kStateVersionWithoutExtraRows : kStateVersion);
  w.put(kind_of<Memory>());
  w.put(static_cast<std::uint32_t>(sizeof(T)));
  w.name(Memory::keys_type::name);
  w.name(Memory::solver_type::name);
  for (std::uint64_t v : {std::uint64_t(cfg.slots), std::uint64_t(cfg.code_size), std::uint64_t(cfg.lookup_size),
                          std::uint64_t(cfg.seed), std::uint64_t(cfg.addresses)})
    w.put(v);
  w.put(static_cast<std::uint32_t>(cfg.prior));
  w.put(static_cast<std::uint32_t>(cfg.keys));
  w.put(static_cast<std::uint32_t>(cfg.sample_noise));
  // quantized_lookup in bit 0, lookup_precision in bits 8–15, memory_precision in bits 16–23 (older files: 0, full)
  w.put(static_cast<std::uint32_t>(cfg.quantized_lookup) | (static_cast<std::uint32_t>(cfg.lookup_precision) << 8) |
        (static_cast<std::uint32_t>(cfg.memory_precision) << 16));
  w.put(cfg.memory_logvar);
  w.put(cfg.observation_noise);
  w.put(cfg.write_tolerance);
  w.put(static_cast<std::uint64_t>(st.next_entry()));
  w.put(static_cast<std::uint64_t>(st.noise_draws()));
  w.put(static_cast<std::uint64_t>(st.fill().size));
  w.put(static_cast<std::uint64_t>(st.fill().streak));
  const auto& km = st.key_state().address_matrix();
  w.put(static_cast<std::uint64_t>(S::rows(km)));
  w.put(static_cast<std::uint64_t>(S::cols(km)));
  put_matrix<S>(w, S::data(km), S::rows(km) * S::cols(km));
  w.put(static_cast<std::uint64_t>(st.blocks().size()));
  for (std::size_t bi = 0; bi < st.blocks().size(); ++bi) {
    const auto& b = st.blocks()[bi];
    w.put(static_cast<std::uint32_t>(b.mode));
    w.put(static_cast<std::uint64_t>(b.size()));
    put_matrix<S>(w, S::data(st.block_mean(bi)), cfg.slots * cfg.code_size);  // in T, widened if packed
    put_matrix<S>(w, S::data(st.block_covariance(bi)), cfg.slots * cfg.slots);
    put_matrix<S>(w, b.addresses.data(), b.size() * cfg.slots);
    put_matrix<S>(w, b.latents.data(), b.size() * cfg.code_size);
    for (auto e : b.entry) w.put(static_cast<std::uint64_t>(e));
    for (auto s : b.slot) w.put(static_cast<std::uint64_t>(s));
    w.put(static_cast<std::uint64_t>(b.used.size()));
    w.raw(b.used.data(), b.used.size());
  }
  const auto& ix = st.index();
  w.put(static_cast<std::uint64_t>(ix.size()));
  w.put(static_cast<std::uint64_t>(ix.dim()));
  ix.visit_rows([&](const T* rows) { put_matrix<S>(w, rows, ix.size() * ix.dim()); });
  for (auto e : st.index_entries()) w.put(static_cast<std::uint64_t>(e));
  if (!extra.empty()) {
    w.put(static_cast<std::uint64_t>(extra.size()));
    extra.index().visit_rows([&](const T* rows) { put_matrix<S>(w, rows, extra.size() * ix.dim()); });
    for (auto e : extra.owners()) w.put(static_cast<std::uint64_t>(e));
    for (auto o : extra.ordinals()) w.put(static_cast<std::uint64_t>(o));
  }
  const std::uint32_t crc = crc32(w.bytes().data(), w.bytes().size());
  w.put(crc);
  return std::move(w.bytes());
}

// The ways a block's slot map, slots and entries can disagree (keys with a slot map: entry i is written at address
// slot[i], and used[s] says whether address s holds an entry; the next write takes the addresses marked free).
inline void check_slot_map(const larimar::detail::format_failure& fail, std::size_t block,
                           const std::vector<std::size_t>& slot, const std::vector<std::uint8_t>& used) {
  const std::string where = "block " + std::to_string(block) + ": ";
  std::vector<std::size_t> owner(used.size(), static_cast<std::size_t>(-1));
  for (std::size_t i = 0; i < slot.size(); ++i) {
    if (slot[i] >= used.size())
      fail(where + "entry row " + std::to_string(i) + " is at slot " + std::to_string(slot[i]) + ", beyond its " +
           std::to_string(used.size()) + " addresses");
    if (owner[slot[i]] != static_cast<std::size_t>(-1))
      fail(where + "entry rows " + std::to_string(owner[slot[i]]) + " and " + std::to_string(i) + " share slot " +
           std::to_string(slot[i]));
    owner[slot[i]] = i;
  }
  for (std::size_t s = 0; s < used.size(); ++s) {
    if (used[s] > 1)
      fail(where + "slot map value " + std::to_string(used[s]) + " at slot " + std::to_string(s) + " is not 0 or 1");
    const bool written = owner[s] != static_cast<std::size_t>(-1);
    if (written && used[s] == 0)
      fail(where + "the slot map marks slot " + std::to_string(s) + " free, but entry row " + std::to_string(owner[s]) +
           " is written there (the next write would overwrite it)");
    if (!written && used[s] != 0)
      fail(where + "the slot map marks slot " + std::to_string(s) + " used, but no entry is written there");
  }
}

// The memory in a state file image; `where` names it in messages (load: the path).
template <class Memory>
Memory state_codec::decode(std::span<const char> bytes, const std::string& where, typename Memory::solver_type solver) {
  using T = typename Memory::value_type;
  using S = typename Memory::storage_type;
  const std::string context = "load " + where + ": ";
  const larimar::detail::format_failure fail{context};
  if (bytes.size() < 12 || std::memcmp(bytes.data(), kStateMagic, 8) != 0)
    fail("not a larimar state file (bad magic)");
  std::uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  byte_reader r(bytes.data() + 8, bytes.size() - 12, fail);
  const auto version = r.get<std::uint32_t>("version");
  if (version > kStateVersion || version == 0) fail("unsupported version " + std::to_string(version));
  if (crc32(bytes.data(), bytes.size() - 4) != stored_crc) fail("checksum mismatch: the file is corrupt or truncated");
  const auto kind = r.get<std::uint32_t>("kind");
  if (kind != kind_of<Memory>())
    fail(std::string("the file holds a ") +
         (kind == 2 ? "sharded_memory" : kind == 1 ? "memory" : "thing of unknown kind " + std::to_string(kind)) +
         ", not a " + (kind_of<Memory>() == 2 ? "sharded_memory" : "memory"));
  const auto elem = r.get<std::uint32_t>("element size");
  if (elem != sizeof(T))
    fail("elements are " + std::to_string(elem) + " bytes, expected " + std::to_string(sizeof(T)));
  const auto keys_name = r.name("key policy"), solver_name = r.name("solver");
  if (keys_name != Memory::keys_type::name)
    fail("written with key policy " + quote(keys_name) + ", loading as '" + Memory::keys_type::name + "'");
  if (solver_name != Memory::solver_type::name)
    fail("written with solver " + quote(solver_name) + ", loading as '" + Memory::solver_type::name + "'");
  memory_config cfg;
  cfg.slots = r.get<std::uint64_t>("slots");
  cfg.code_size = r.get<std::uint64_t>("code_size");
  cfg.lookup_size = r.get<std::uint64_t>("lookup_size");
  cfg.seed = r.get<std::uint64_t>("seed");
  cfg.addresses = r.get<std::uint64_t>("addresses");
  const auto prior = r.get<std::uint32_t>("prior"), basis = r.get<std::uint32_t>("key basis");
  if (prior > 1 || basis > 1) fail("unknown prior or key basis code");
  cfg.prior = static_cast<prior_kind>(prior);
  cfg.keys = static_cast<key_basis>(basis);
  cfg.sample_noise = r.get<std::uint32_t>("sample_noise") != 0;
  const auto lookup_flags = r.get<std::uint32_t>("quantized_lookup");
  if ((lookup_flags & 0xfeu) != 0 || ((lookup_flags >> 8) & 0xffu) > 2 || (lookup_flags >> 16) > 2)
    fail("unknown lookup flags " + std::to_string(lookup_flags));
  cfg.quantized_lookup = (lookup_flags & 1u) != 0;
  cfg.lookup_precision = static_cast<precision>((lookup_flags >> 8) & 0xffu);
  cfg.memory_precision = static_cast<precision>(lookup_flags >> 16);
  cfg.memory_logvar = r.get<double>("memory_logvar");
  cfg.observation_noise = r.get<double>("observation_noise");
  if (version >= 2) cfg.write_tolerance = r.get<double>("write_tolerance");
  const auto next_entry = r.get<std::uint64_t>("entry counter");
  const auto noise_draws = r.get<std::uint64_t>("noise draws");
  const auto fill_size = version >= 2 ? r.get<std::uint64_t>("block fill") : std::uint64_t{0};  // 0: the rank bound
  const auto fill_streak = version >= 2 ? r.get<std::uint64_t>("fill streak") : std::uint64_t{0};
  if (next_entry > (std::uint64_t{1} << 62)) fail("entry counter " + std::to_string(next_entry) + " is beyond any memory's");

  // Sizes before work: the key matrix is checked against the bytes left before the memory exists, and the memory
  // is made without drawing keys or its prior, so nothing below costs more than the file's own size.
  const std::size_t K = cfg.slots, C = cfg.code_size;
  const std::string dims = "slots = " + std::to_string(K) + ", code_size = " + std::to_string(C) + ", lookup_size = " +
                           std::to_string(cfg.lookup_size) + ", addresses = " + std::to_string(cfg.addresses);
  const std::size_t block_dims[] = {K, C + K, sizeof(T)};
  if (C + K < C || !larimar::detail::checked_numel(block_dims))
    fail(dims + ": a block of K x (C + K) values does not fit in memory");
  const auto [key_rows, key_cols] = Memory::keys_type::address_matrix_shape(cfg);
  const auto stored_rows = r.get<std::uint64_t>("key rows"), stored_cols = r.get<std::uint64_t>("key cols");
  if (stored_rows != key_rows || stored_cols != key_cols)
    fail("the key matrix is " + std::to_string(stored_rows) + "x" + std::to_string(stored_cols) + ", expected " +
         std::to_string(key_rows) + "x" + std::to_string(key_cols) + " for " + dims);
  const std::string key_name = "the key matrix (" + std::to_string(key_rows) + "x" + std::to_string(key_cols) + " for " +
                               dims + ")";
  auto keys = S::template make<T>(0, key_cols);
  {
    const auto host = r.values<T>(key_name, r.need(key_name, {key_rows, key_cols}, sizeof(T)));
    keys = S::template make<T>(key_rows, key_cols);
    S::upload(host.data(), host.size(), S::data(keys));
  }
  const std::size_t per_block = (K * C + K * K) * sizeof(T) + 4 + 8 + 8;  // mean, covariance, mode, n, u
  const auto nblocks = r.count("block count (a block holds slots x code_size + slots x slots values; " + dims + ")",
                               per_block);
  if (kind == 1 && nblocks > 1) fail("a memory holds one block, the file has " + std::to_string(nblocks));

  // A config no save() writes (a negative noise, a non-finite tolerance, ...) is the file's fault, named by the
  // memory's own validation.
  Memory mem = [&] {
    try {
      return Memory(larimar::detail::stored_keys, cfg, std::move(solver), std::move(keys));
    } catch (const value_error& e) {
      fail(e.what());
    }
  }();
  auto& st = store_of(mem);
  if (nblocks > 0) st.make_prior();  // K×C, and each block holds more
  std::vector<larimar::detail::block_state<T, S>> blocks;
  blocks.reserve(nblocks);
  for (std::size_t b = 0; b < nblocks; ++b) {
    const std::string blk_name = "block " + std::to_string(b);
    const auto mode_code = r.get<std::uint32_t>("block mode");
    if (mode_code > 2) fail(blk_name + " has unknown write mode " + std::to_string(mode_code));
    const auto n = r.count(blk_name + " entries", (K + C) * sizeof(T) + 16);
    if ((n == 0) != (mode_code == 0))
      fail(blk_name + (n == 0 ? " holds no entry but has a write mode" : " holds entries but no write mode"));
    r.need(blk_name + " mean and covariance", {K * C + K * K}, sizeof(T));
    auto blk = st.fresh_block();
    blk.mode = static_cast<write_mode>(mode_code);
    get_matrix<S>(r, S::data(blk.mean), K * C, blk_name + " mean");
    get_matrix<S>(r, S::data(blk.covariance), K * K, blk_name + " covariance");
    get_matrix<S>(r, blk.addresses.append(n), n * K, blk_name + " addresses");
    get_matrix<S>(r, blk.latents.append(n), n * C, blk_name + " latents");
    blk.entry = r.indices(blk_name + " entry ids", n);
    blk.slot = r.indices(blk_name + " slots", n);
    const auto u = r.count(blk_name + " slot map", 1);
    if (u != blk.used.size())
      fail(blk_name + " slot map has " + std::to_string(u) + " slots, expected " + std::to_string(blk.used.size()));
    r.raw(blk.used.data(), u, blk_name + " slot map");
    if (!blk.used.empty()) check_slot_map(fail, b, blk.slot, blk.used);  // keys with a slot map
    blocks.push_back(std::move(blk));
  }
  const auto rows = r.get<std::uint64_t>("index rows"), dim = r.get<std::uint64_t>("index dim");
  if (dim != st.index().dim())
    fail("index vectors have " + std::to_string(dim) + " values, expected " + std::to_string(st.index().dim()));
  r.need("the index (rows x (vector + entry id))", {static_cast<std::size_t>(rows), st.index().dim() * sizeof(T) + 8}, 1);
  nearest_index<T, S> index(st.index().dim(), cfg.quantized_lookup, cfg.lookup_precision);
  get_matrix<S>(r, index.rows_for_load(rows), rows * dim, "index vectors");
  index.rebuild();
  auto index_entry = r.indices("index entry ids", rows);
  larimar::detail::extra_lookup_rows<T, S> extra(st.index().dim(), cfg.quantized_lookup, cfg.lookup_precision);
  if (version >= 3) {
    const auto extra_rows = r.get<std::uint64_t>("extra lookup rows");
    if (extra_rows == 0) fail("a version 3 file holds extra lookup rows, this one none (a save writes version 2)");
    r.need("the extra lookup rows (rows x (vector + owner + ordinal))",
           {static_cast<std::size_t>(extra_rows), st.index().dim() * sizeof(T) + 16}, 1);
    nearest_index<T, S> extra_index(st.index().dim(), cfg.quantized_lookup, cfg.lookup_precision);
    get_matrix<S>(r, extra_index.rows_for_load(extra_rows), extra_rows * dim, "extra lookup vectors");
    extra_index.rebuild();
    auto owner = r.indices("extra lookup row owners", extra_rows);
    auto ordinal = r.indices("extra lookup row ordinals", extra_rows);
    extra = larimar::detail::extra_lookup_rows<T, S>(std::move(extra_index), std::move(owner), std::move(ordinal));
  }
  if (r.left() != 0) fail(std::to_string(r.left()) + " unexpected trailing bytes");
  st.restore(std::move(blocks), std::move(index), std::move(index_entry), next_entry, noise_draws,
             {static_cast<std::size_t>(fill_size), static_cast<std::size_t>(fill_streak)}, context, std::move(extra));
  return mem;
}

}  // namespace detail

// Saves a memory or sharded memory; the file appears complete or not at all, and is on disk when save returns.
template <class Memory>
void save(const Memory& mem, const std::filesystem::path& path) {
  const auto bytes = detail::state_codec::encode(mem);
  detail::atomic_file out(path, "save " + path.string());
  out.write(bytes.data(), bytes.size());
  out.commit();
}

// The memory in bytes that save() wrote, checked as load() checks a file; `name` labels error messages.
template <class Memory>
Memory load_bytes(std::span<const char> bytes, typename Memory::solver_type solver = {},
                  const std::string& name = "<bytes>") {
  return detail::state_codec::decode<Memory>(bytes, name, std::move(solver));
}

// Loads a file written by save() for the same element type, key policy and solver. Every inconsistency — wrong
// magic or version, another policy, truncation, a checksum mismatch, sizes that do not add up, slot maps, entries
// and index that disagree, a non-finite value — is a format_error naming the file and the problem; a path that is
// not a readable regular file is an io_error. A hostile file costs at most time and memory linear in its size.
template <class Memory>
Memory load(const std::filesystem::path& path, typename Memory::solver_type solver = {}) {
  const std::string bytes = detail::read_regular_file(path, "load");
  return detail::state_codec::decode<Memory>(bytes, path.string(), std::move(solver));
}

}  // namespace larimar::io
