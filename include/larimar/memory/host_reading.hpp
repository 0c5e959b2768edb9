#pragma once
// A batched read brought to the host: what the pipeline and the run-time memory interface hand back.
#include <vector>

#include "larimar/memory/hit.hpp"

namespace larimar {

template <class T>
struct host_reading {
  std::vector<T> latents;     // Q×C, row-major
  std::vector<hit<T>> hits;   // the entry each query matched
};

}  // namespace larimar
