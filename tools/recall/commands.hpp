#pragma once
// larimar-recall's commands, each from the parsed options to the exit status: the sweep (one task or a grid of
// lengths × depths × seeds × policies), RULER's NIAH tasks, the capacity study and the device footprint.
#include <array>
#include <string_view>

#include "options.hpp"

namespace recall_tool {

int sweep(const options& o);
int ruler(const options& o);  // --task ruler:NAME
int capacity(const options& o);
int footprint(const options& o);

// What the studies fix of their memories (--memory gives the rest): one unsharded memory against a sharded one,
// both with fixed keys; the footprint's memory on the device.
inline constexpr std::array<std::string_view, 2> capacity_memories{"plain,fixed_nearest", "sharded,fixed_nearest"};
inline constexpr std::string_view footprint_memory = "fixed_nearest/prefix,device";

}  // namespace recall_tool
