// larimar-recall: long-context recall with a Larimar memory, one task or a sweep over lengths × depths × seeds ×
// key policies; prints a table shaped like the paper's and writes CSV files and heatmaps (PNG). --capacity runs the
// superposition study instead, --footprint the device-memory study. `larimar-recall --help` documents every option
// (docs/pipeline.md); --memory chooses the memories through larimar's factory (docs/runtime.md).
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "larimar/backend/blas_info.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  recall_tool::options o;
  try {
    o = recall_tool::parse(argc, argv);
  } catch (const recall_tool::usage_error& e) {
    std::fprintf(stderr, "larimar-recall: %s\n", e.what());
    return 2;
  }
  if (const auto note = larimar::backend::blas_info().advice(); !note.empty())
    std::fprintf(stderr, "larimar-recall: %s\n", note.c_str());
  try {
    if (o.capacity) return recall_tool::capacity(o);
    if (o.footprint) return recall_tool::footprint(o);
    return o.task.rfind("ruler:", 0) == 0 ? recall_tool::ruler(o) : recall_tool::sweep(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "larimar-recall: error: %s\n", e.what());
    return 1;
  }
}
