#pragma once
// The exceptions larimar throws. Every message names the operation and the problem, e.g.
// "memory::write: latents have 767 columns, expected code_size 768".
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

}  // namespace larimar
