// Saving state files and safetensors (io/atomic_file.hpp): never through a link, never sharing a temporary file,
// no litter once a killed save is provably dead, permissions kept.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../memory/helpers.hpp"
#include "larimar/larimar.hpp"

namespace fs = std::filesystem;
using namespace larimar;

namespace {

using M = memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;

struct temp_dir {
  fs::path path;
  temp_dir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() / ("larimar-atomic-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  // Every name in the directory but `keep`.
  std::vector<std::string> others(const std::vector<std::string>& keep) const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) {
      const auto name = e.path().filename().string();
      if (std::find(keep.begin(), keep.end(), name) == keep.end()) out.push_back(name);
    }
    return out;
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void spit(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

M written(std::size_t n, std::uint64_t seed) {
  M mem({.slots = 16, .code_size = 8, .lookup_size = 4, .seed = 1});
  mem.write(test::gaussian<float>(n, 8, seed), test::gaussian<float>(n, 4, seed + 1));
  return mem;
}

void save_weights(const fs::path& path, float value) {
  const std::vector<float> w(4, value);
  io::save_safetensors(path, std::vector<io::tensor_to_save>{{"w", io::dtype::f32, {4}, std::as_bytes(std::span(w))}});
}

}  // namespace

TEST_CASE("a save never writes through a link planted where a temporary file could be") {
  temp_dir dir;
  const fs::path path = dir.path / "m.lrm", weights = dir.path / "w.safetensors", victim = dir.path / "victim";
  spit(victim, "root-only secret");
  fs::permissions(victim, fs::perms::owner_read | fs::perms::owner_write);
  // The name a save used to write its temporary file at (path + ".tmp." + pid), and names a stale temporary of a
  // dead process would have: all links to the victim.
  const std::string pid = std::to_string(::getpid());
  const std::vector<std::string> links = {"m.lrm.tmp." + pid, "w.safetensors.tmp." + pid,
                                          ".m.lrm.tmp-2147483000-0000000000000000",
                                          ".w.safetensors.tmp-2147483000-0000000000000000"};
  for (const auto& l : links) fs::create_symlink(victim, dir.path / l);
  const M mem = written(5, 10);
  io::save(mem, path);
  save_weights(weights, 2.0f);
  CHECK(slurp(victim) == "root-only secret");
  for (const auto& l : links) CHECK(fs::is_symlink(dir.path / l));  // not followed, and not removed either
  CHECK(io::load<M>(path).size() == 5);
  CHECK(io::safetensors_file::open(weights).at("w").shape == std::vector<std::size_t>{4});
}

TEST_CASE("threads saving one path while another loads it: every save succeeds, every load sees a whole file") {
  temp_dir dir;
  const fs::path path = dir.path / "m.lrm";
  const M small = written(4, 20), large = written(7, 30);
  io::save(small, path);
  std::vector<std::string> errors[3];
  std::vector<std::size_t> sizes;
  std::atomic<bool> saving{true};
  {
    std::thread a([&] {
      for (int i = 0; i < 30; ++i) try { io::save(small, path); } catch (const error& e) { errors[0].push_back(e.what()); }
    });
    std::thread b([&] {
      for (int i = 0; i < 30; ++i) try { io::save(large, path); } catch (const error& e) { errors[1].push_back(e.what()); }
    });
    std::thread reader([&] {
      while (saving)
        try { sizes.push_back(io::load<M>(path).size()); } catch (const error& e) { errors[2].push_back(e.what()); }
    });
    a.join();
    b.join();
    saving = false;
    reader.join();
  }
  for (const auto& e : errors) CHECK(e.empty());
  for (const auto& e : errors)
    if (!e.empty()) MESSAGE(e.size() << " failures, the first: " << e.front());
  CHECK(!sizes.empty());
  for (const std::size_t s : sizes) CHECK((s == 4 || s == 7));
  CHECK(dir.others({"m.lrm"}).empty());  // no temporary left behind
}

TEST_CASE("a save killed outright leaves its temporary file, which the next save of the path removes; a live one's is kept") {
  temp_dir dir;
  const fs::path path = dir.path / "big.lrm";
  // A child saving a ~64 MB memory, frozen (SIGSTOP) while its temporary file exists, so that the parent sees
  // it mid-save: then killed, or left alive. Retried in the rare case the save finished before it was frozen.
  const auto frozen_saver = [&](std::uint64_t seed, const std::string& known) -> std::pair<::pid_t, std::string> {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const ::pid_t child = ::fork();
      if (child == 0) {
        M mem({.slots = 2048, .code_size = 4096, .lookup_size = 4, .seed = seed, .keys = key_basis::gaussian});
        mem.write(test::gaussian<float>(1, 4096, seed), test::gaussian<float>(1, 4, seed + 1));
        io::save(mem, path);
        ::_exit(io::load<M>(path).config().seed == seed ? 0 : 1);
      }
      for (int poll = 0; poll < 100'000; ++poll) {
        const auto names = dir.others({"big.lrm", known});
        if (!names.empty()) {
          ::kill(child, SIGSTOP);
          if (fs::exists(dir.path / names.front())) return {child, names.front()};
          break;
        }
        if (::waitpid(child, nullptr, WNOHANG) == child) break;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    return {-1, ""};
  };
  // The live saver first: the killed one's save must not remove its temporary either.
  const auto [alive, in_progress] = frozen_saver(42, "");
  REQUIRE(alive > 0);
  const auto [killed, litter] = frozen_saver(41, in_progress);
  REQUIRE(killed > 0);
  ::kill(killed, SIGKILL);
  ::waitpid(killed, nullptr, 0);
  REQUIRE(fs::exists(dir.path / in_progress));
  REQUIRE(fs::exists(dir.path / litter));  // what SIGKILL leaves: nothing can remove it at that moment

  const M mem = written(3, 50);
  io::save(mem, path);
  CHECK_FALSE(fs::exists(dir.path / litter));     // its process is gone: removed
  CHECK(fs::exists(dir.path / in_progress));      // its process lives: kept
  CHECK(io::load<M>(path).size() == 3);
  // The live saver finishes unharmed, and its file is the one in place.
  ::kill(alive, SIGCONT);
  int status = 0;
  ::waitpid(alive, &status, 0);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(io::load<M>(path).config().seed == 42);
  CHECK(dir.others({"big.lrm"}).empty());
}

TEST_CASE("a save the file system refuses leaves the old file and no temporary") {
  temp_dir dir;
  const fs::path path = dir.path / "m.lrm", weights = dir.path / "w.safetensors";
  io::save(written(2, 60), path);
  save_weights(weights, 1.0f);
  const std::string old_state = slurp(path), old_weights = slurp(weights);
  // In a child whose files may not grow past 64 bytes (RLIMIT_FSIZE; SIGXFSZ ignored, so write() fails with EFBIG).
  const ::pid_t child = ::fork();
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const ::rlimit limit{64, 64};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    int refused = 0;
    try {
      io::save(written(6, 61), path);
    } catch (const io_error& e) {
      refused += std::string(e.what()).find("cannot write the temporary file: File too large") != std::string::npos;
    }
    try {
      save_weights(weights, 3.0f);
    } catch (const io_error& e) {
      refused += std::string(e.what()).find("cannot write the temporary file: File too large") != std::string::npos;
    }
    ::_exit(refused == 2 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(slurp(path) == old_state);
  CHECK(slurp(weights) == old_weights);
  CHECK(dir.others({"m.lrm", "w.safetensors"}).empty());
}

TEST_CASE("a saved file keeps the permissions of the file it replaces; a new one follows the umask") {
  temp_dir dir;
  const fs::path path = dir.path / "m.lrm", weights = dir.path / "w.safetensors";
  const auto mode_of = [](const fs::path& p) {
    struct ::stat st {};
    ::stat(p.c_str(), &st);
    return st.st_mode & 0777;
  };
  io::save(written(2, 70), path);
  save_weights(weights, 1.0f);
  ::chmod(path.c_str(), 0600);
  ::chmod(weights.c_str(), 0640);
  io::save(written(3, 71), path);
  save_weights(weights, 2.0f);
  CHECK(mode_of(path) == 0600);  // a private file stays private
  CHECK(mode_of(weights) == 0640);
  const ::mode_t old_mask = ::umask(077);
  io::save(written(2, 72), dir.path / "new.lrm");
  save_weights(dir.path / "new.safetensors", 1.0f);
  ::umask(old_mask);
  CHECK(mode_of(dir.path / "new.lrm") == 0600);
  CHECK(mode_of(dir.path / "new.safetensors") == 0600);
}
