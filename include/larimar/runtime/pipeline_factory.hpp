#pragma once
// larimar::runtime::make_pipeline — a recall pipeline whose memory a spec string names (runtime/spec.hpp,
// docs/runtime.md); the key token may carry the lookup vector, e.g. "sharded,fixed_nearest/full,pinv,device".
//
// This header instantiates recall_pipeline for every memory type the spec tables list: include it in one
// translation unit of a program and hand pipeline_interface (runtime/any_pipeline.hpp) to the others.
#include <memory>
#include <string_view>
#include <utility>

#include "larimar/pipeline/recall_pipeline.hpp"
#include "larimar/runtime/any_pipeline.hpp"
#include "larimar/runtime/dispatch.hpp"
#include "larimar/runtime/spec.hpp"

namespace larimar::runtime {

// The pipeline over the memory a spec names: the spec's precisions replace options.memory's, its lookup
// (/prefix, /full, /tokens) options.lookup; what the spec does not name stays as `options` has it.
inline std::unique_ptr<pipeline_interface> make_pipeline(const memory_spec& spec,
                                                         std::shared_ptr<const pipeline_interface::models_type> models,
                                                         pipeline::pipeline_options options = {}) {
  apply(spec, options.memory);
  if (spec.lookup) options.lookup = *spec.lookup;
  return with_memory_type<std::unique_ptr<pipeline_interface>>(
      spec, [&]<class Memory>() -> std::unique_ptr<pipeline_interface> {
        return std::make_unique<pipeline_model<Memory>>(std::move(models), options);
      });
}
inline std::unique_ptr<pipeline_interface> make_pipeline(std::string_view spec,
                                                         std::shared_ptr<const pipeline_interface::models_type> models,
                                                         pipeline::pipeline_options options = {}) {
  return make_pipeline(parse_memory_spec(spec), std::move(models), std::move(options));
}

}  // namespace larimar::runtime
