#pragma once
// Replacing a file atomically and durably: what save_safetensors and the state files' save() share.
//
//   atomic_file out(path, "save " + path.string());
//   out.write(bytes, n);   // as often as needed
//   out.commit();          // fsync, rename over `path`, fsync the directory
//
// The bytes go to a temporary file in the target's directory, ".<name>.tmp-<pid>-<unique>", created with
// O_CREAT | O_EXCL | O_NOFOLLOW: never a file that already exists, never through a link planted at its name, never
// shared by two saves (threads of one process included). Until commit() renames it, `path` keeps its old content;
// an atomic_file destroyed before commit() removes its temporary. A save killed outright (SIGKILL, power cut)
// leaves its temporary behind: the next save of the same path removes it once it is provably stale (its
// process is gone and no one holds the flock every saver keeps on its temporary).
#include <larimar/core/error.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace larimar::io::detail {

// Writes the whole of `bytes` to `fd`; false (errno set) on failure.
inline bool write_all(int fd, const void* bytes, std::size_t size) {
  const auto* p = static_cast<const char*>(bytes);
  while (size > 0) {
    const ::ssize_t written = ::write(fd, p, std::min<std::size_t>(size, std::size_t{1} << 30));
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

// ".<name>.tmp-": the prefix of every temporary file that saving `name` creates.
inline std::string temporary_prefix(const std::filesystem::path& path) {
  return "." + path.filename().string() + ".tmp-";
}

// Removes `name` in directory `dir` (a descriptor) if it is a temporary left by a save that died: a regular file
// of this user, named by a process that no longer exists, that no live saver holds locked. Anything else is
// left alone, and so is every error: removing litter is best effort.
inline void remove_if_stale(int dir, const std::string& name, std::string_view prefix) {
  const std::string_view rest = std::string_view(name).substr(prefix.size());
  const std::size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash > 10) return;
  long long pid = 0;
  for (const char c : rest.substr(0, dash)) {
    if (c < '0' || c > '9') return;
    pid = pid * 10 + (c - '0');
  }
  if (pid <= 0 || pid > 0x7fffffff || pid == ::getpid()) return;  // our own: another thread's save in progress
  if (::kill(static_cast<::pid_t>(pid), 0) == 0 || errno == EPERM) return;  // its process is alive
  const int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  struct ::stat opened {}, named {};
  // A saver in another pid namespace (a container sharing the directory) can look dead: its flock says otherwise.
  const bool stale = ::fstat(fd, &opened) == 0 && S_ISREG(opened.st_mode) && opened.st_uid == ::geteuid() &&
                     ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
                     ::fstatat(dir, name.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
                     named.st_dev == opened.st_dev && named.st_ino == opened.st_ino;
  if (stale) ::unlinkat(dir, name.c_str(), 0);
  ::close(fd);
}

class atomic_file {
 public:
  // Removes stale temporaries of `path`, then creates this save's own (io_error if it cannot). `op` prefixes
  // every message, e.g. "save_safetensors: 'w.safetensors'".
  atomic_file(const std::filesystem::path& path, std::string op) : path_(path), op_(std::move(op)) {
    const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    dir_ = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_ < 0) fail_now("cannot open the directory '" + directory.string() + "'", errno);
    const std::string prefix = temporary_prefix(path);
    std::error_code ec;
    for (std::filesystem::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.starts_with(prefix)) remove_if_stale(dir_, name, prefix);
    }
    // A new file created by open() gets 0666 less the umask, as any file the process writes; one that replaces
    // an existing file takes that file's permissions (a private file stays private).
    struct ::stat existing {};
    const bool replaces = ::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode);
    static std::atomic<std::uint64_t> counter{0};
    for (int attempt = 0; fd_ < 0; ++attempt) {
      struct ::timespec now {};
      ::clock_gettime(CLOCK_REALTIME, &now);
      const std::uint64_t unique = (counter.fetch_add(1) << 32) ^ static_cast<std::uint64_t>(now.tv_nsec) ^
                                   (static_cast<std::uint64_t>(now.tv_sec) << 20);
      temp_ = prefix + std::to_string(::getpid()) + "-" + hex(unique);
      fd_ = ::openat(dir_, temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
      if (fd_ < 0 && (errno != EEXIST || attempt == 99)) {
        const int err = errno;
        temp_.clear();  // not ours: it is not removed
        fail_now("cannot create a temporary file in '" + directory.string() + "'", err);
      }
    }
    if (::flock(fd_, LOCK_EX) != 0) fail_now("cannot lock the temporary file", errno);
    if (replaces && ::fchmod(fd_, existing.st_mode & 0777) != 0)
      fail_now("cannot set the temporary file's permissions", errno);
  }

  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  ~atomic_file() { discard(); }

  // Appends bytes to the temporary file; io_error (and the temporary removed) if the file system refuses.
  void write(const void* data, std::size_t size) {
    if (!write_all(fd_, data, size)) fail_now("cannot write the temporary file", errno);
  }

  // Makes the written bytes the content of `path`: the file is flushed to disk before it is renamed, and the
  // directory after, so the new content survives a power cut once commit() returns.
  void commit() {
    if (::fsync(fd_) != 0) fail_now("cannot flush the temporary file to disk", errno);
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail_now("cannot close the temporary file", errno);
    if (::renameat(dir_, temp_.c_str(), dir_, path_.filename().c_str()) != 0)
      fail_now("cannot rename the temporary file into place", errno);
    temp_.clear();  // renamed: nothing left to remove
    // EINVAL: a file system that cannot sync directories (the rename is as durable as it makes it).
    if (::fsync(dir_) != 0 && errno != EINVAL)
      fail_now("the file was replaced, but flushing its directory to disk failed", errno);
    ::close(std::exchange(dir_, -1));
  }

 private:
  static std::string hex(std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 0xFu];
    return s;
  }

  void discard() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!temp_.empty() && dir_ >= 0) ::unlinkat(dir_, temp_.c_str(), 0);
    temp_.clear();
    if (dir_ >= 0) ::close(std::exchange(dir_, -1));
  }

  [[noreturn]] void fail_now(const std::string& what, int err) {
    discard();
    throw io_error(op_ + ": " + what + ": " + std::strerror(err));
  }

  std::filesystem::path path_;
  std::string op_;
  std::string temp_;  // name in the directory; empty once renamed or removed
  int dir_ = -1;
  int fd_ = -1;
};

}  // namespace larimar::io::detail
