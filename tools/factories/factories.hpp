#pragma once
// larimar's run-time factories (larimar/runtime/factory.hpp, pipeline_factory.hpp), compiled once for the
// project's programs: they instantiate every memory type of the spec tables (two minutes of compiling), so
// larimar-recall and the runtime suites link one translation unit (factories.cpp) and see only the interfaces.
// A program of your own does the same: one file includes the factory headers, the others the interfaces.
#include <memory>
#include <string_view>

#include "larimar/core/config.hpp"
#include "larimar/pipeline/recall_pipeline.hpp"
#include "larimar/runtime/any_memory.hpp"
#include "larimar/runtime/any_pipeline.hpp"
#include "larimar/runtime/spec.hpp"

namespace larimar_factories {

using larimar::runtime::memory_interface;
using larimar::runtime::pipeline_interface;
using models_ptr = std::shared_ptr<const pipeline_interface::models_type>;

// runtime::make_memory
std::unique_ptr<memory_interface> make_memory(const larimar::runtime::memory_spec& spec,
                                              const larimar::memory_config& cfg);
std::unique_ptr<memory_interface> make_memory(std::string_view spec, const larimar::memory_config& cfg);

// runtime::make_pipeline
std::unique_ptr<pipeline_interface> make_pipeline(const larimar::runtime::memory_spec& spec, models_ptr models,
                                                  const larimar::pipeline::pipeline_options& options = {});
std::unique_ptr<pipeline_interface> make_pipeline(std::string_view spec, models_ptr models,
                                                  const larimar::pipeline::pipeline_options& options = {});

}  // namespace larimar_factories
