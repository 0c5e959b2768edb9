#pragma once
// A whole file mapped read-only into memory (POSIX mmap), released when the object dies. Weights are read in
// place: the page cache is the only copy, and opening a model touches only the pages a caller reads.
// Caveat inherent to mmap: if another process truncates the file while it is mapped, reading the lost pages
// raises SIGBUS; larimar never writes files in place (it writes a temporary file and renames it).
#include <larimar/core/error.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace larimar::io {

class mapped_file {
 public:
  mapped_file() = default;  // empty: size() == 0, data() == nullptr

  // Maps `path`. An empty file is fine (nothing is mapped). Throws io_error naming the path and the reason.
  explicit mapped_file(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open", errno);
    struct ::stat info {};
    if (::fstat(fd, &info) != 0) {
      const int err = errno;
      ::close(fd);
      fail("cannot stat", err);
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd);
      throw io_error("mapped_file: '" + path.string() + "' is not a regular file");
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ != 0) {
      void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (address == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        size_ = 0;
        fail("cannot map", err);
      }
      data_ = static_cast<const std::byte*>(address);
    }
    ::close(fd);  // the mapping keeps its own reference to the file
  }

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  mapped_file(mapped_file&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  mapped_file& operator=(mapped_file&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~mapped_file() { unmap(); }

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail(const char* what, int err) const {
    throw io_error("mapped_file: " + std::string(what) + " '" + path_.string() + "': " + std::strerror(err));
  }
  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace larimar::io
