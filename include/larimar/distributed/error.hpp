#pragma once
// The exception a distributed memory throws when its ranks cannot complete a call together: a rank died, stalled
// past the deadline, or MPI reported an error. The memory is unusable afterwards (docs/distributed.md, Faults).
#include "larimar/core/error.hpp"

namespace larimar::distributed {

struct rank_failure : error {
  using error::error;
};

}  // namespace larimar::distributed
