#pragma once
// A path of this test process's own under the system's temporary directory: the suites run in parallel (ctest -j)
// and several checkouts may run them on one machine at once, so no two processes share a name.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace larimar::test {

inline std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("larimar-" + std::to_string(::getpid()) + "-" + name);
}

}  // namespace larimar::test
