#pragma once
// A whole file mapped read-only into memory (POSIX mmap), released when the object dies. Weights are read in
// place: the page cache is the only copy, and opening a model touches only the pages a caller reads.
// Caveat inherent to mmap: if another process truncates the file while it is mapped, reading the lost pages
// raises SIGBUS; larimar never writes files in place (it writes a temporary file and renames it).
#include <larimar/core/error.hpp>
#include <larimar/io/regular_file.hpp>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include <sys/mman.h>
#include <unistd.h>

namespace larimar::io {

class mapped_file {
 public:
  mapped_file() = default;  // empty: size() == 0, data() == nullptr

  // Maps `path`. An empty file is fine (nothing is mapped). Throws io_error naming the path and the reason (one for
  // anything but a regular file).
  explicit mapped_file(const std::filesystem::path& path) : path_(path) {
    const detail::regular_file file = detail::open_regular_file(path, "mapped_file");
    size_ = file.size;
    if (size_ != 0) {
      void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file.fd, 0);
      if (address == MAP_FAILED) {
        const int err = errno;
        ::close(file.fd);
        size_ = 0;
        fail("cannot map", err);
      }
      data_ = static_cast<const std::byte*>(address);
    }
    ::close(file.fd);  // the mapping keeps its own reference to the file
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
