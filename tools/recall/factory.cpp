// larimar-recall's memories and pipelines (factory.hpp).
#include "factory.hpp"

#include <utility>

#include "larimar/runtime/factory.hpp"
#include "larimar/runtime/pipeline_factory.hpp"

namespace recall_tool {

std::unique_ptr<larimar::runtime::pipeline_interface> make_pipeline(
    const larimar::runtime::memory_spec& spec, std::shared_ptr<const larimar::pipeline::recall_models<>> models,
    const larimar::pipeline::pipeline_options& po) {
  return larimar::runtime::make_pipeline(spec, std::move(models), po);
}

std::unique_ptr<larimar::runtime::memory_interface> make_memory(const larimar::runtime::memory_spec& spec,
                                                                const larimar::memory_config& cfg) {
  return larimar::runtime::make_memory(spec, cfg);
}

}  // namespace recall_tool
