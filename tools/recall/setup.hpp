#pragma once
// What larimar-recall's commands build: the models, the pipeline options, and memories and pipelines from the
// factory (larimar/runtime). setup.cpp is the one translation unit that instantiates the factory's types.
#include <memory>
#include <string>

#include "larimar/core/config.hpp"
#include "larimar/runtime/any_memory.hpp"
#include "larimar/runtime/any_pipeline.hpp"
#include "options.hpp"

namespace recall_tool {

using models_t = larimar::pipeline::recall_models<>;

std::shared_ptr<const models_t> load_models(const options& o);
// The pipeline's options from the command line's; P (auto) is the token count of the task's query prefix.
larimar::pipeline::pipeline_options pipeline_options_of(const options& o, const models_t& models,
                                                        const std::string& query);

std::unique_ptr<larimar::runtime::pipeline_interface> make_pipeline(const larimar::runtime::memory_spec& spec,
                                                                    std::shared_ptr<const models_t> models,
                                                                    const larimar::pipeline::pipeline_options& po);
std::unique_ptr<larimar::runtime::memory_interface> make_memory(const larimar::runtime::memory_spec& spec,
                                                                const larimar::memory_config& cfg);

}  // namespace recall_tool
