// runtime::make_memory's and runtime::make_pipeline's instances (factories.hpp). One translation unit: the
// pipelines instantiate the memories' types again, so apart the two took 65 + 126 s of CPU at -O2, together
// 134-158 s (two builds, each beside a job on the other core).
#include "factories.hpp"

#include <utility>

#include "larimar/runtime/factory.hpp"
#include "larimar/runtime/pipeline_factory.hpp"

namespace larimar_factories {

std::unique_ptr<memory_interface> make_memory(const larimar::runtime::memory_spec& spec,
                                              const larimar::memory_config& cfg) {
  return larimar::runtime::make_memory(spec, cfg);
}
std::unique_ptr<memory_interface> make_memory(std::string_view spec, const larimar::memory_config& cfg) {
  return larimar::runtime::make_memory(spec, cfg);
}

std::unique_ptr<pipeline_interface> make_pipeline(const larimar::runtime::memory_spec& spec, models_ptr models,
                                                  const larimar::pipeline::pipeline_options& options) {
  return larimar::runtime::make_pipeline(spec, std::move(models), options);
}
std::unique_ptr<pipeline_interface> make_pipeline(std::string_view spec, models_ptr models,
                                                  const larimar::pipeline::pipeline_options& options) {
  return larimar::runtime::make_pipeline(spec, std::move(models), options);
}

}  // namespace larimar_factories
