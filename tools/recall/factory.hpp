#pragma once
// larimar-recall's memories and pipelines: the factories compiled once in tools/factories.
#include "factories.hpp"

namespace recall_tool {

using larimar_factories::make_memory;
using larimar_factories::make_pipeline;

}  // namespace recall_tool
