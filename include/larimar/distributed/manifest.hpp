#pragma once
// The manifest of a distributed memory's save (docs/distributed.md, State files): what every rank needs to know
// (the directory: blocks, id ranges, live entries) and, per run, its state file (name, size, CRC-32), which rank
// wrote it, its global blocks and its id ranges. Little-endian, CRC-32 trailer; read as hostile input.
// Version 2 adds each block's write mode (one byte after its slots used); version 1, written before
// write_sequential was offered, still loads, its blocks one-shot (none when empty).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/distributed/directory.hpp"
#include "larimar/io/checksum.hpp"
#include "larimar/memory/write_mode.hpp"

namespace larimar::distributed::detail {

inline constexpr char kManifestMagic[8] = {'L', 'R', 'M', 'D', 'I', 'S', 'T', '1'};
inline constexpr std::uint32_t kManifestVersion = 2;  // what save writes; load reads 1 and 2
inline constexpr const char* kManifestName = "manifest.lrmd";

inline const char* mode_name(write_mode m) {
  return m == write_mode::one_shot ? "one-shot" : m == write_mode::sequential ? "sequential" : "none";
}

struct run_record {
  std::uint32_t rank = 0, run = 0;  // who wrote it, and its place among that rank's runs
  std::string file;                 // name inside the save's directory
  std::uint64_t bytes = 0;
  std::uint32_t crc = 0;
  std::vector<std::uint64_t> blocks;                   // global block of each local block
  std::vector<std::uint64_t> ranges;                   // (global first, local first, count) triples
};

struct manifest {
  std::uint32_t element_bytes = 0;
  std::uint64_t generation = 0, ranks = 0, block_slots = 0;
  std::vector<block_info> blocks;
  std::vector<id_range> ranges;
  std::vector<std::uint8_t> alive;
  std::vector<run_record> runs;
};

class manifest_writer {
 public:
  template <class U>
  void put(U v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(U));
  }
  void put_bytes(const void* p, std::size_t n) {
    bytes_.insert(bytes_.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
  }
  std::vector<char>& bytes() { return bytes_; }

 private:
  std::vector<char> bytes_;
};

class manifest_reader {
 public:
  manifest_reader(std::string_view bytes, std::string context) : b_(bytes), context_(std::move(context)) {}
  template <class U>
  U get(const char* what) {
    need(sizeof(U), what);
    U v;
    std::memcpy(&v, b_.data() + at_, sizeof(U));
    at_ += sizeof(U);
    return v;
  }
  // A count of items of `each` bytes, checked against what is left before anything is allocated.
  std::uint64_t count(std::size_t each, const char* what) {
    const auto n = get<std::uint64_t>(what);
    if (each > 0 && n > (b_.size() - at_) / each) fail(std::string(what) + ": " + std::to_string(n) + " claimed, the file is too short");
    return n;
  }
  std::string_view take(std::size_t n, const char* what) {
    need(n, what);
    auto s = b_.substr(at_, n);
    at_ += n;
    return s;
  }
  std::size_t left() const { return b_.size() - at_; }
  [[noreturn]] void fail(const std::string& problem) const { throw format_error(context_ + problem); }

 private:
  void need(std::size_t n, const char* what) const {
    if (b_.size() - at_ < n) fail(std::string("truncated at ") + what);
  }
  std::string_view b_;
  std::size_t at_ = 0;
  std::string context_;
};

inline std::vector<char> encode_manifest(const manifest& m) {
  manifest_writer w;
  w.put_bytes(kManifestMagic, 8);
  w.put(kManifestVersion);
  w.put(m.element_bytes);
  w.put(m.generation);
  w.put(m.ranks);
  w.put(m.block_slots);
  w.put(std::uint64_t{m.blocks.size()});
  for (const auto& b : m.blocks) w.put(b.owner), w.put(b.used), w.put(static_cast<std::uint8_t>(b.mode));
  w.put(std::uint64_t{m.ranges.size()});
  for (const auto& r : m.ranges) w.put(r.first), w.put(r.count), w.put(r.block);
  w.put(std::uint64_t{m.alive.size()});
  w.put_bytes(m.alive.data(), m.alive.size());
  w.put(std::uint64_t{m.runs.size()});
  for (const auto& r : m.runs) {
    w.put(r.rank), w.put(r.run);
    w.put(std::uint64_t{r.file.size()});
    w.put_bytes(r.file.data(), r.file.size());
    w.put(r.bytes), w.put(r.crc);
    w.put(std::uint64_t{r.blocks.size()});
    for (auto b : r.blocks) w.put(b);
    w.put(std::uint64_t{r.ranges.size() / 3});
    for (auto v : r.ranges) w.put(v);
  }
  w.put(io::crc32(w.bytes().data(), w.bytes().size()));
  return std::move(w.bytes());
}

// Parses and checks a manifest; `context` prefixes every format_error ("load <dir>: ").
inline manifest decode_manifest(std::string_view bytes, const std::string& context) {
  manifest_reader r(bytes, context);
  if (bytes.size() < 12 || std::memcmp(bytes.data(), kManifestMagic, 8) != 0)
    r.fail("not a distributed memory manifest (bad magic)");
  std::uint32_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  if (io::crc32(bytes.data(), bytes.size() - 4) != stored) r.fail("checksum mismatch (the manifest is corrupt)");
  r = manifest_reader(bytes.substr(0, bytes.size() - 4), context);
  r.take(8, "magic");
  const auto version = r.get<std::uint32_t>("version");
  if (version != 1 && version != 2)
    r.fail("manifest version " + std::to_string(version) + ", this build reads versions 1 and 2");
  manifest m;
  m.element_bytes = r.get<std::uint32_t>("element size");
  m.generation = r.get<std::uint64_t>("generation");
  m.ranks = r.get<std::uint64_t>("ranks");
  m.block_slots = r.get<std::uint64_t>("block slots");
  m.blocks.resize(r.count(version == 1 ? 8 : 9, "blocks"));
  for (std::size_t i = 0; i < m.blocks.size(); ++i) {
    auto& b = m.blocks[i];
    b.owner = r.get<std::uint32_t>("block owner");
    b.used = r.get<std::uint32_t>("block slots used");
    if (b.owner >= m.ranks) r.fail("a block's owner " + std::to_string(b.owner) + " is not below the ranks " + std::to_string(m.ranks));
    if (b.used > m.block_slots) r.fail("a block uses more slots than a block has");
    if (version == 1) {  // every write was one-shot then
      b.mode = b.used > 0 ? write_mode::one_shot : write_mode::none;
      continue;
    }
    const auto mode = r.get<std::uint8_t>("block write mode");
    if (mode > static_cast<std::uint8_t>(write_mode::sequential))
      r.fail("block " + std::to_string(i) + " has unknown write mode " + std::to_string(mode) +
             " (0 none, 1 one-shot, 2 sequential)");
    b.mode = static_cast<write_mode>(mode);
    if ((b.used == 0) != (b.mode == write_mode::none))
      r.fail("block " + std::to_string(i) + (b.used == 0 ? " holds no entry but has a write mode" : " holds entries but no write mode"));
  }
  m.ranges.resize(r.count(24, "id ranges"));
  std::uint64_t expect = 0;
  for (auto& x : m.ranges) {
    x.first = r.get<std::uint64_t>("range"), x.count = r.get<std::uint64_t>("range"), x.block = r.get<std::uint64_t>("range");
    if (x.first != expect || x.count == 0 || x.block >= m.blocks.size()) r.fail("the id ranges do not tile the ids written");
    expect += x.count;
  }
  const auto alive = r.count(1, "live entries");
  if (alive != expect) r.fail("live-entry map covers " + std::to_string(alive) + " ids, the ranges " + std::to_string(expect));
  const auto a = r.take(alive, "live entries");
  m.alive.assign(a.begin(), a.end());
  m.runs.resize(r.count(36, "runs"));
  for (auto& run : m.runs) {
    run.rank = r.get<std::uint32_t>("run rank");
    run.run = r.get<std::uint32_t>("run index");
    if (run.rank >= m.ranks) r.fail("a run's rank is not below the ranks");
    const auto name = r.take(r.count(1, "file name"), "file name");
    run.file.assign(name);
    if (run.file.empty() || run.file.find('/') != std::string::npos || run.file[0] == '.')
      r.fail("a run's file name is not a plain name inside the directory");
    run.bytes = r.get<std::uint64_t>("file size");
    run.crc = r.get<std::uint32_t>("file checksum");
    run.blocks.resize(r.count(8, "run blocks"));
    for (auto& b : run.blocks) {
      b = r.get<std::uint64_t>("run block");
      if (b >= m.blocks.size()) r.fail("a run names block " + std::to_string(b) + " of " + std::to_string(m.blocks.size()));
    }
    run.ranges.resize(3 * r.count(24, "run ranges"));
    for (auto& v : run.ranges) v = r.get<std::uint64_t>("run range");
  }
  if (r.left() != 0) r.fail("bytes follow the last run");
  return m;
}

}  // namespace larimar::distributed::detail
