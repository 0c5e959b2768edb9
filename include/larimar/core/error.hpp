#pragma once
// The exceptions larimar throws. Every message names the operation and the problem, e.g.
// "memory::write: latents have 767 columns, expected code_size 768".
#include <cstddef>
#include <stdexcept>
#include <string>

namespace larimar {

struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct shape_error : error {  // wrong rows/cols/lengths
  using error::error;
};
struct value_error : error {  // NaN/Inf, out-of-range ids or parameters
  using error::error;
};
struct state_error : error {  // an operation the current state cannot serve (empty memory, full block, ...)
  using error::error;
};
struct format_error : error {  // a file that is truncated, corrupt or not what it claims to be
  using error::error;
};
struct io_error : error {  // the file system said no
  using error::error;
};
struct device_error : error {  // a CUDA runtime, cuBLAS or cuSOLVER call failed (message: the call and the status)
  using error::error;
};
// An allocation that did not fit: device memory exhausted, or storage::device's memory limit reached. It names
// the size asked for (requested_bytes; 0 when the failing library does not say). Writes allocate everything
// before they change the memory, so after this exception the memory is as it was.
struct out_of_memory : device_error {
  out_of_memory(const std::string& what, std::size_t requested) : device_error(what), requested_bytes(requested) {}
  std::size_t requested_bytes;
};

namespace detail {
// Throws format_error("<context><problem>"); `context` names the operation and the file.
struct format_failure {
  const std::string& context;
  [[noreturn]] void operator()(const std::string& problem) const { throw format_error(context + problem); }
};
}  // namespace detail

}  // namespace larimar
