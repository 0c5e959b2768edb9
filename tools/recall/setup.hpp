#pragma once
// What larimar-recall's commands build: the models and the pipeline options (the memories and pipelines come
// from factory.hpp).
#include <memory>
#include <string>

#include <string>
#include <vector>

#include "factory.hpp"
#include "larimar/pipeline/recall_pipeline.hpp"
#include "options.hpp"

namespace recall_tool {

using models_t = larimar::pipeline::recall_models<>;
using bpe = models_t::tokenizer_type;

std::shared_ptr<const models_t> load_models(const options& o);
// load_models, refusing a directory without a decoder unless --memory-only; `seconds` gets the load time.
std::shared_ptr<const models_t> load_models_for_recall(const options& o, double& seconds);
// The pipeline's options from the command line's; P (auto) is the token count of the task's query prefix.
larimar::pipeline::pipeline_options pipeline_options_of(const options& o, const models_t& models,
                                                        const std::string& query);

// One pipeline per --policies entry, each over --memory with that policy's keys: the sweeps' columns.
struct column {
  std::string name;
  std::unique_ptr<larimar::runtime::pipeline_interface> pipeline;
};
std::vector<column> policy_columns(const options& o, const std::shared_ptr<const models_t>& models,
                                   const larimar::pipeline::pipeline_options& po);

}  // namespace recall_tool
