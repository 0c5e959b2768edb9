#pragma once
// Saving and loading a memory or sharded memory: a context written once survives the process.
// The format (little-endian, documented in docs/formats.md):
//   header   "LRMSTATE" | u32 version (2; 1 is read too) | u32 kind (1 memory, 2 sharded) | u32 element bytes (4 or 8)
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
//   trailer  u32 CRC-32 of every byte before it
// Written atomically: a temporary file in the same directory, flushed, then renamed over the target.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include "larimar/core/error.hpp"
#include "larimar/io/checksum.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"

namespace larimar::io {

namespace detail {

inline constexpr char kStateMagic[8] = {'L', 'R', 'M', 'S', 'T', 'A', 'T', 'E'};
inline constexpr std::uint32_t kStateVersion = 2;  // 2 added write_tolerance and the block fill

static_assert(std::endian::native == std::endian::little, "state files are little-endian; add byte swapping here");

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

class byte_reader {
 public:
  byte_reader(const char* data, std::size_t size, std::string path) : p_(data), end_(data + size), path_(std::move(path)) {}
  template <class V>
  V get(std::string_view what) {
    V v;
    raw(&v, sizeof(V), what);
    return v;
  }
  void raw(void* dst, std::size_t n, std::string_view what) {
    if (static_cast<std::size_t>(end_ - p_) < n)
      throw format_error("load " + path_ + ": file truncated while reading " + std::string(what));
    if (n) std::memcpy(dst, p_, n);
    p_ += n;
  }
  std::string name(std::string_view what) {
    char buf[33] = {};
    raw(buf, 32, what);
    return std::string(buf);
  }
  // A count that must fit in what is left of the file at `bytes_each` bytes per item.
  std::size_t count(std::string_view what, std::size_t bytes_each) {
    const auto n = get<std::uint64_t>(what);
    if (bytes_each && n > static_cast<std::uint64_t>(end_ - p_) / bytes_each)
      throw format_error("load " + path_ + ": " + std::string(what) + " = " + std::to_string(n) +
                         " is larger than the rest of the file");
    return static_cast<std::size_t>(n);
  }
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  const std::string& path() const { return path_; }

 private:
  const char* p_;
  const char* end_;
  std::string path_;
};

template <class S, class T>
void put_matrix(byte_writer& w, const T* data, std::size_t n) {
  std::vector<T> host(n);
  S::download(data, n, host.data());
  w.raw(host.data(), n * sizeof(T));
}
template <class S, class T>
void get_matrix(byte_reader& r, T* data, std::size_t n, std::string_view what) {
  std::vector<T> host(n);
  r.raw(host.data(), n * sizeof(T), what);
  S::upload(host.data(), n, data);
}

inline void write_atomically(const std::filesystem::path& path, const std::vector<char>& bytes) {
  const auto tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw io_error("save " + path.string() + ": cannot create " + tmp + ": " + std::strerror(errno));
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                    ::fsync(::fileno(f)) == 0;
    const int err = errno;
    std::fclose(f);
    if (!ok) {
      std::remove(tmp.c_str());
      throw io_error("save " + path.string() + ": writing " + tmp + " failed: " + std::strerror(err));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw io_error("save " + path.string() + ": rename failed: " + ec.message());
  }
}

inline std::vector<char> read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw io_error("load " + path.string() + ": cannot open the file");
  const auto size = static_cast<std::size_t>(in.tellg());
  std::vector<char> bytes(size);
  in.seekg(0);
  if (size && !in.read(bytes.data(), static_cast<std::streamsize>(size)))
    throw io_error("load " + path.string() + ": read failed");
  return bytes;
}

template <class Memory>
constexpr std::uint32_t kind_of() {
  if constexpr (requires(const Memory& m) { m.block_count(); }) return 2;
  return 1;
}

template <class Memory>
std::vector<char> encode(const Memory& mem) {
  using T = typename Memory::value_type;
  using S = typename Memory::storage_type;
  const auto& st = mem.internals();
  const auto& cfg = st.config();
  byte_writer w;
  w.raw(kStateMagic, 8);
  w.put(kStateVersion);
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
  const std::uint32_t crc = crc32(w.bytes().data(), w.bytes().size());
  w.put(crc);
  return std::move(w.bytes());
}

}  // namespace detail

// Saves a memory or sharded memory; the file appears complete or not at all.
template <class Memory>
void save(const Memory& mem, const std::filesystem::path& path) {
  detail::write_atomically(path, detail::encode(mem));
}

// Loads a file written by save() for the same element type, key policy and solver. Every inconsistency — wrong
// magic or version, another policy, truncation, a checksum mismatch, sizes that do not add up — is a
// format_error naming the file and the problem.
template <class Memory>
Memory load(const std::filesystem::path& path, typename Memory::solver_type solver = {}) {
  using T = typename Memory::value_type;
  using S = typename Memory::storage_type;
  const auto bytes = detail::read_whole(path);
  const std::string where = path.string();
  if (bytes.size() < 12 || std::memcmp(bytes.data(), detail::kStateMagic, 8) != 0)
    throw format_error("load " + where + ": not a larimar state file (bad magic)");
  std::uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  detail::byte_reader r(bytes.data() + 8, bytes.size() - 12, where);
  const auto version = r.get<std::uint32_t>("version");
  if (version != detail::kStateVersion && version != 1)
    throw format_error("load " + where + ": unsupported version " + std::to_string(version));
  if (crc32(bytes.data(), bytes.size() - 4) != stored_crc)
    throw format_error("load " + where + ": checksum mismatch: the file is corrupt or truncated");
  const auto kind = r.get<std::uint32_t>("kind");
  if (kind != detail::kind_of<Memory>())
    throw format_error("load " + where + ": the file holds a " + (kind == 2 ? "sharded_memory" : "memory") +
                       ", not a " + (detail::kind_of<Memory>() == 2 ? "sharded_memory" : "memory"));
  const auto elem = r.get<std::uint32_t>("element size");
  if (elem != sizeof(T))
    throw format_error("load " + where + ": elements are " + std::to_string(elem) + " bytes, expected " +
                       std::to_string(sizeof(T)));
  const auto keys_name = r.name("key policy"), solver_name = r.name("solver");
  if (keys_name != Memory::keys_type::name)
    throw format_error("load " + where + ": written with key policy '" + keys_name + "', loading as '" +
                       Memory::keys_type::name + "'");
  if (solver_name != Memory::solver_type::name)
    throw format_error("load " + where + ": written with solver '" + solver_name + "', loading as '" +
                       Memory::solver_type::name + "'");
  memory_config cfg;
  cfg.slots = r.get<std::uint64_t>("slots");
  cfg.code_size = r.get<std::uint64_t>("code_size");
  cfg.lookup_size = r.get<std::uint64_t>("lookup_size");
  cfg.seed = r.get<std::uint64_t>("seed");
  cfg.addresses = r.get<std::uint64_t>("addresses");
  const auto prior = r.get<std::uint32_t>("prior"), basis = r.get<std::uint32_t>("key basis");
  if (prior > 1 || basis > 1) throw format_error("load " + where + ": unknown prior or key basis code");
  cfg.prior = static_cast<prior_kind>(prior);
  cfg.keys = static_cast<key_basis>(basis);
  cfg.sample_noise = r.get<std::uint32_t>("sample_noise") != 0;
  const auto lookup_flags = r.get<std::uint32_t>("quantized_lookup");
  if ((lookup_flags & 0xfeu) != 0 || ((lookup_flags >> 8) & 0xffu) > 2 || (lookup_flags >> 16) > 2)
    throw format_error("load " + where + ": unknown lookup flags " + std::to_string(lookup_flags));
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
  // Sizes are checked against the bytes left before anything is allocated from them.
  const std::size_t left = r.left();
  if (cfg.slots == 0 || cfg.code_size == 0 || cfg.slots > left / sizeof(T) || cfg.code_size > left / sizeof(T) ||
      cfg.lookup_dim() > left / sizeof(T) || cfg.address_count() > left / sizeof(T))
    throw format_error("load " + where + ": memory dimensions do not fit the file");

  // A config no save() writes (a negative noise, a non-finite tolerance, ...) is the file's fault, named by the
  // memory's own validation.
  Memory mem = [&] {
    try {
      return Memory(cfg, std::move(solver));
    } catch (const value_error& e) {
      throw format_error("load " + where + ": " + e.what());
    }
  }();
  auto& st = mem.internals();
  auto& km = st.mutable_key_state().address_matrix();
  const auto krows = r.count("key rows", 0), kcols = r.count("key cols", 0);
  if (krows != S::rows(km) || kcols != S::cols(km))
    throw format_error("load " + where + ": key matrix is " + std::to_string(krows) + "x" + std::to_string(kcols) +
                       ", expected " + std::to_string(S::rows(km)) + "x" + std::to_string(S::cols(km)));
  detail::get_matrix<S>(r, S::data(km), krows * kcols, "key matrix");

  const std::size_t K = cfg.slots, C = cfg.code_size;
  const auto nblocks = r.count("block count", (K * C + K * K) * sizeof(T));
  std::vector<larimar::detail::block_state<T, S>> blocks;
  blocks.reserve(nblocks);
  for (std::size_t b = 0; b < nblocks; ++b) {
    auto blk = st.fresh_block();
    const auto mode = r.get<std::uint32_t>("block mode");
    if (mode > 2) throw format_error("load " + where + ": block " + std::to_string(b) + " has unknown mode");
    blk.mode = static_cast<write_mode>(mode);
    const auto n = r.count("block entries", (K + C) * sizeof(T) + 16);
    detail::get_matrix<S>(r, S::data(blk.mean), K * C, "block mean");
    detail::get_matrix<S>(r, S::data(blk.covariance), K * K, "block covariance");
    detail::get_matrix<S>(r, blk.addresses.append(n), n * K, "block addresses");
    detail::get_matrix<S>(r, blk.latents.append(n), n * C, "block latents");
    blk.entry.resize(n);
    blk.slot.resize(n);
    for (auto& e : blk.entry) e = r.get<std::uint64_t>("entry id");
    for (auto& s : blk.slot) s = r.get<std::uint64_t>("slot");
    const auto u = r.count("slot map", 1);
    if (u != blk.used.size())
      throw format_error("load " + where + ": block " + std::to_string(b) + " slot map has " + std::to_string(u) +
                         " slots, expected " + std::to_string(blk.used.size()));
    r.raw(blk.used.data(), u, "slot map");
    blocks.push_back(std::move(blk));
  }
  const auto rows = r.count("index rows", 0), dim = r.count("index dim", 0);
  if (dim != st.index().dim())
    throw format_error("load " + where + ": index vectors have " + std::to_string(dim) + " values, expected " +
                       std::to_string(st.index().dim()));
  if (rows > r.left() / std::max<std::size_t>(1, dim * sizeof(T) + 8))
    throw format_error("load " + where + ": index rows do not fit the file");
  nearest_index<T, S> index(dim, cfg.quantized_lookup, cfg.lookup_precision);
  detail::get_matrix<S>(r, index.rows_for_load(rows), rows * dim, "index vectors");
  index.rebuild();
  std::vector<std::size_t> index_entry(rows);
  for (auto& e : index_entry) e = r.get<std::uint64_t>("index entry id");
  if (r.left() != 0) throw format_error("load " + where + ": " + std::to_string(r.left()) + " unexpected trailing bytes");
  st.restore(std::move(blocks), std::move(index), std::move(index_entry), next_entry, noise_draws,
             {static_cast<std::size_t>(fill_size), static_cast<std::size_t>(fill_streak)});
  return mem;
}

}  // namespace larimar::io
