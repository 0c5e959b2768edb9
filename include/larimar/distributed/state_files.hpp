#pragma once
// Saving and loading a distributed memory (docs/distributed.md, State files): a directory with one state file per
// run of each rank (io::save of its local sharded memory; a rank has one run unless forgets split it) and a
// manifest, written by rank 0 last, after every rank's files are on disk. Files carry the save's generation in
// their names, so a failed or interrupted save never touches the files the previous manifest names; the older
// generation is removed only after the new manifest is committed.
//
// Loading works on any number of ranks: each saved run goes to rank (the rank that wrote it) mod R', whole;
// new blocks then go to block mod R'. The directory must be visible to every rank (a shared file system).
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "larimar/distributed/distributed_memory.hpp"
#include "larimar/distributed/manifest.hpp"
#include "larimar/io/atomic_file.hpp"
#include "larimar/io/checksum.hpp"
#include "larimar/io/regular_file.hpp"
#include "larimar/io/state_file.hpp"

namespace larimar::distributed {

namespace detail {
inline std::string run_file_name(std::uint64_t generation, int rank, std::size_t run) {
  return "g" + std::to_string(generation) + ".rank" + std::to_string(rank) + ".run" + std::to_string(run) + ".lrm";
}
inline std::uint64_t generation_of(const std::string& name) {  // "g<N>.": N, or 0 for another name
  if (name.size() < 3 || name[0] != 'g') return 0;
  std::uint64_t n = 0;
  std::size_t i = 1;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) n = n * 10 + static_cast<std::uint64_t>(name[i] - '0');
  return i < name.size() && name[i] == '.' && i > 1 ? n : 0;
}
}  // namespace detail

// Collective. Writes `dir` (created if missing): a state file per run, then the manifest. Every rank throws if any
// rank failed; the previous save in `dir` then stays loadable.
template <class Memory>
void save(const Memory& mem, const std::filesystem::path& dir) {
  const std::string op = "distributed::save " + dir.string();
  communicator& comm = mem.comm();
  comm.require_usable(op);
  const int me = comm.rank();

  // The new generation: one past the manifest's now (rank 0 reads it; a missing or unreadable one counts as 0).
  std::uint64_t generation = 1;
  if (me == 0) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir / detail::kManifestName, ec)) {
      try {
        const auto old = larimar::io::detail::read_regular_file(dir / detail::kManifestName, op);
        generation = detail::decode_manifest(old, op + ": ").generation + 1;
      } catch (const error&) {
        generation = 1;  // replaced by this save; its files are not ours to trust
      }
    }
  }
  comm.bcast(&generation, 1, MPI_UINT64_T, 0, op + ": the generation");

  std::string failure;
  std::vector<char> mine;  // this rank's run records, encoded
  std::vector<std::filesystem::path> written;
  try {
    std::filesystem::create_directories(dir);
    detail::manifest_writer w;
    w.put(std::uint64_t{mem.runs().size()});
    for (std::size_t j = 0; j < mem.runs().size(); ++j) {
      const auto& run = mem.runs()[j];
      const std::string name = detail::run_file_name(generation, me, j);
      larimar::io::save(run.mem, dir / name);
      written.push_back(dir / name);
      const auto bytes = larimar::io::detail::read_regular_file(dir / name, op);
      w.put(static_cast<std::uint32_t>(me)), w.put(static_cast<std::uint32_t>(j));
      w.put(std::uint64_t{name.size()});
      w.put_bytes(name.data(), name.size());
      w.put(std::uint64_t{bytes.size()}), w.put(io::crc32(bytes.data(), bytes.size()));
      w.put(std::uint64_t{run.blocks.size()});
      for (auto b : run.blocks) w.put(std::uint64_t{b});
      w.put(std::uint64_t{run.ranges.size()});
      for (const auto& r : run.ranges) w.put(r.global_first), w.put(r.local_first), w.put(r.count);
    }
    mine = std::move(w.bytes());
  } catch (const std::exception& e) {
    failure = e.what();
  }
  auto clean = [&] {
    for (const auto& p : written) {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  };
  if (const auto what = comm.first_failure(failure, op + ": the state files"); !what.empty()) {
    clean();
    throw io_error(op + ": " + what + " (the previous save is intact)");
  }

  // Rank 0 gathers every rank's records and writes the manifest.
  const int nr = comm.size();
  int count = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(nr)), displs(static_cast<std::size_t>(nr), 0);
  comm.allgather(&count, 1, MPI_INT, counts.data(), op + ": the run records");
  for (int r = 1; r < nr; ++r) displs[static_cast<std::size_t>(r)] = displs[static_cast<std::size_t>(r - 1)] + counts[static_cast<std::size_t>(r - 1)];
  std::vector<char> all(static_cast<std::size_t>(displs.back() + counts.back()));
  comm.allgatherv(mine.data(), count, MPI_CHAR, all.data(), counts.data(), displs.data(), op + ": the run records");

  failure.clear();
  if (me == 0) {
    try {
      detail::manifest m;
      m.element_bytes = sizeof(typename Memory::value_type);
      m.generation = generation;
      m.ranks = static_cast<std::uint64_t>(nr);
      m.block_slots = mem.directory().block_slots();
      m.blocks = mem.directory().blocks();
      m.ranges = mem.directory().ranges();
      m.alive = mem.directory().alive();
      for (int r = 0; r < nr; ++r) {
        detail::manifest_reader in(std::string_view(all.data() + displs[static_cast<std::size_t>(r)],
                                                    static_cast<std::size_t>(counts[static_cast<std::size_t>(r)])), op + ": ");
        const auto runs = in.get<std::uint64_t>("runs");
        for (std::uint64_t j = 0; j < runs; ++j) {
          detail::run_record rec;
          rec.rank = in.get<std::uint32_t>("rank"), rec.run = in.get<std::uint32_t>("run");
          rec.file.assign(in.take(in.get<std::uint64_t>("name"), "name"));
          rec.bytes = in.get<std::uint64_t>("bytes"), rec.crc = in.get<std::uint32_t>("crc");
          rec.blocks.resize(in.get<std::uint64_t>("blocks"));
          for (auto& b : rec.blocks) b = in.get<std::uint64_t>("block");
          rec.ranges.resize(3 * in.get<std::uint64_t>("ranges"));
          for (auto& v : rec.ranges) v = in.get<std::uint64_t>("range");
          m.runs.push_back(std::move(rec));
        }
      }
      const auto bytes = detail::encode_manifest(m);
      larimar::io::detail::atomic_file out(dir / detail::kManifestName, op);
      out.write(bytes.data(), bytes.size());
      out.commit();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (const auto what = comm.first_failure(failure, op + ": the manifest"); !what.empty()) {
    clean();
    throw io_error(op + ": " + what + " (the previous save is intact)");
  }
  // The older generations' files are no manifest's any more.
  if (me == 0) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      const auto g = detail::generation_of(name);
      if (g != 0 && g != generation && name.ends_with(".lrm")) std::filesystem::remove(e.path(), ec);
    }
  }
}

// Collective over `comm` (R' ranks): loads a save written on any number of ranks. Every rank throws the same kind
// of error if any fails: format_error for a manifest or state file that is corrupt, inconsistent or of another
// type (naming the file), io_error for files that cannot be read.
template <class Memory>
Memory load(MPI_Comm comm, const std::filesystem::path& dir, options opt = {},
            typename Memory::solver_type solver = {}) {
  using local_memory = typename Memory::local_memory;
  using run = typename Memory::run;
  const std::string op = "distributed::load " + dir.string();
  const std::string context = op + ": ";
  communicator probe(comm, opt.timeout);
  const int me = probe.rank(), nr = probe.size();

  // Rank 0 reads the manifest and sends it to every rank.
  std::string bytes, failure;
  if (me == 0) {
    try {
      bytes = larimar::io::detail::read_regular_file(dir / detail::kManifestName, op);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  std::uint64_t n = failure.empty() ? bytes.size() : ~std::uint64_t{0};
  probe.bcast(&n, 1, MPI_UINT64_T, 0, op + ": the manifest");
  if (n == ~std::uint64_t{0}) throw io_error(probe.first_failure(failure, op + ": the manifest"));
  bytes.resize(n);
  probe.bcast(bytes.data(), static_cast<int>(n), MPI_CHAR, 0, op + ": the manifest");
  const auto m = detail::decode_manifest(bytes, context);  // the same bytes: the same verdict on every rank
  if (m.element_bytes != sizeof(typename Memory::value_type))
    throw format_error(context + "saved with " + std::to_string(m.element_bytes) + "-byte elements, loading as " +
                       std::to_string(sizeof(typename Memory::value_type)));
  bool has_first = false;
  for (const auto& r : m.runs) has_first |= r.rank == 0 && r.run == 0;
  if (!has_first) throw format_error(context + "the manifest names no run 0 of rank 0");

  // Each saved run goes to rank (its rank) mod R', whole.
  std::vector<run> mine;
  std::vector<std::uint32_t> new_owner(m.blocks.size());
  std::vector<std::uint8_t> covered(m.blocks.size(), 0);
  for (const auto& r : m.runs)
    for (auto b : r.blocks) {
      if (covered[b]) throw format_error(context + "block " + std::to_string(b) + " is in two runs");
      covered[b] = 1;
      new_owner[b] = static_cast<std::uint32_t>(r.rank % static_cast<std::uint32_t>(nr));
    }
  for (std::size_t b = 0; b < m.blocks.size(); ++b)
    if (!covered[b]) throw format_error(context + "block " + std::to_string(b) + " is in no run");
  memory_config cfg{};
  failure.clear();
  bool format = false;
  try {
    for (const auto& r : m.runs) {
      if (static_cast<int>(r.rank % static_cast<std::uint32_t>(nr)) != me) continue;
      const auto path = dir / r.file;
      const std::string file = larimar::io::detail::read_regular_file(path, op);
      if (file.size() != r.bytes || io::crc32(file.data(), file.size()) != r.crc)
        throw format_error(context + "state file '" + r.file + "' is not the one the manifest names (size or "
                           "checksum differs: replaced or corrupt)");
      auto mem = larimar::io::load_bytes<local_memory>(std::span<const char>(file.data(), file.size()), solver,
                                                       path.string());
      std::uint64_t held = 0;
      std::vector<detail::local_range> ranges;
      for (std::size_t i = 0; i + 2 < r.ranges.size(); i += 3) {
        ranges.push_back({r.ranges[i], r.ranges[i + 1], r.ranges[i + 2]});
        for (std::uint64_t id = r.ranges[i]; id < r.ranges[i] + r.ranges[i + 2]; ++id)
          if (id >= m.alive.size()) throw format_error(context + "run file '" + r.file + "' names ids past the last written");
          else held += m.alive[id];
      }
      if (mem.block_count() != r.blocks.size() || mem.size() != held || mem.block_capacity() != m.block_slots)
        throw format_error(context + "state file '" + r.file + "' holds " + std::to_string(mem.block_count()) +
                           " blocks and " + std::to_string(mem.size()) + " entries; the manifest says " +
                           std::to_string(r.blocks.size()) + " and " + std::to_string(held));
      // The directory places writes by these modes and fills: they must be the blocks' own (a fill that differs
      // would send the next write's rows past a block's free slots, or leave them unused).
      for (std::size_t j = 0; j < r.blocks.size(); ++j) {
        const auto& b = m.blocks[r.blocks[j]];
        if (mem.block_mode(j) != b.mode)
          throw format_error(context + "block " + std::to_string(r.blocks[j]) + " is " + detail::mode_name(b.mode) +
                             " in the manifest but " + detail::mode_name(mem.block_mode(j)) + " in state file '" +
                             r.file + "'");
        if (mem.block_size(j) != b.used)
          throw format_error(context + "block " + std::to_string(r.blocks[j]) + " uses " + std::to_string(b.used) +
                             " slots in the manifest but " + std::to_string(mem.block_size(j)) + " in state file '" +
                             r.file + "'");
      }
      if (r.rank == 0 && r.run == 0) cfg = mem.config();
      std::vector<std::size_t> blocks(r.blocks.begin(), r.blocks.end());
      mine.push_back(run{std::move(mem), std::move(blocks), std::move(ranges)});
    }
  } catch (const format_error& e) {
    failure = e.what();
    format = true;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  int kind = format ? 0 : 1, worst = 1;  // a format_error anywhere makes the whole load one
  probe.allreduce(&kind, &worst, 1, MPI_INT, MPI_MIN, op + ": the state files");
  if (const auto what = probe.first_failure(failure, op + ": the state files"); !what.empty()) {
    if (worst == 0) throw format_error(what);
    throw io_error(what);
  }
  probe.bcast(&cfg, static_cast<int>(sizeof cfg), MPI_BYTE, 0, op + ": the config");

  Memory out(comm, cfg, opt, solver);
  detail::directory dir_state(static_cast<std::size_t>(m.block_slots));
  auto blocks = m.blocks;
  for (std::size_t b = 0; b < blocks.size(); ++b) blocks[b].owner = new_owner[b];
  dir_state.restore(std::move(blocks), m.ranges, m.alive);
  out.restore(std::move(mine), std::move(dir_state));
  return out;
}

}  // namespace larimar::distributed
