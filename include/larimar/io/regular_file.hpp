#pragma once
// Opening a file to read it whole: only a regular file is read. A directory, FIFO, socket or device is an
// io_error naming it, before anything trusts its size (a directory's "size" is not its content; a FIFO would
// block the open until a writer comes).
#include <larimar/core/error.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace larimar::io::detail {

// An open descriptor of a regular file and its size; the caller closes `fd`.
struct regular_file {
  int fd;
  std::size_t size;
};

inline const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "a special file";
}

// io_error "<op>: cannot open '<path>': <reason>" or "<op>: '<path>' is a directory, not a regular file".
inline regular_file open_regular_file(const std::filesystem::path& path, std::string_view op) {
  const auto fail = [&](const std::string& what) -> void {
    throw io_error(std::string(op) + ": " + what);
  };
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; it changes nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail("cannot open '" + path.string() + "': " + std::strerror(errno));
  struct ::stat info {};
  if (::fstat(fd, &info) != 0) {
    const int err = errno;
    ::close(fd);
    fail("cannot stat '" + path.string() + "': " + std::strerror(err));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    fail("'" + path.string() + "' is " + file_kind(info.st_mode) + ", not a regular file");
  }
  return {fd, static_cast<std::size_t>(info.st_size)};
}

// The whole content of a regular file (io_error as open_regular_file, or for a failed read). A file that shrinks
// while it is read gives what was there; one that grows gives its size at the open.
inline std::string read_regular_file(const std::filesystem::path& path, std::string_view op) {
  const regular_file file = open_regular_file(path, op);
  std::string bytes(file.size, '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ::ssize_t got = ::read(file.fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int err = errno;
      ::close(file.fd);
      throw io_error(std::string(op) + ": read error on '" + path.string() + "': " + std::strerror(err));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  ::close(file.fd);
  bytes.resize(done);
  return bytes;
}

}  // namespace larimar::io::detail
