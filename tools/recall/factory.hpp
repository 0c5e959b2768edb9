#pragma once
// larimar-recall's memories and pipelines, from larimar's factories. factory.cpp is the one translation unit that
// instantiates every memory type of the spec tables (about a minute of compiling); it depends on nothing of the
// tool, so editing the tool does not recompile it.
#include <memory>

#include "larimar/core/config.hpp"
#include "larimar/pipeline/recall_pipeline.hpp"
#include "larimar/runtime/any_memory.hpp"
#include "larimar/runtime/any_pipeline.hpp"
#include "larimar/runtime/spec.hpp"

namespace recall_tool {

std::unique_ptr<larimar::runtime::pipeline_interface> make_pipeline(
    const larimar::runtime::memory_spec& spec, std::shared_ptr<const larimar::pipeline::recall_models<>> models,
    const larimar::pipeline::pipeline_options& po);
std::unique_ptr<larimar::runtime::memory_interface> make_memory(const larimar::runtime::memory_spec& spec,
                                                                const larimar::memory_config& cfg);

}  // namespace recall_tool
