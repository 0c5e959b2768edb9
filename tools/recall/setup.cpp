// larimar-recall's models and memories (setup.hpp).
#include "setup.hpp"

#include <chrono>


namespace recall_tool {

std::shared_ptr<const models_t> load_models(const options& o) {
  auto m = std::make_shared<models_t>(o.random_encoder ? models_t::load_random_encoder(o.model, *o.random_encoder)
                                                       : models_t::load(o.model, o.load));
  m->set_cache_limit(o.encoder_cache);
  return m;
}

std::shared_ptr<const models_t> load_models_for_recall(const options& o, double& seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  auto m = load_models(o);
  if (!o.memory_only && !m->has_decoder())
    throw larimar::state_error("the model directory '" + o.model.string() + "' has no decoder; use --memory-only");
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

larimar::pipeline::pipeline_options pipeline_options_of(const options& o, const models_t& models,
                                                        const std::string& query) {
  larimar::pipeline::pipeline_options po;
  po.prefix_tokens = o.prefix_tokens ? *o.prefix_tokens : models.tokenizer().encode(query).size();
  po.segment_tokens = o.segment_tokens;
  po.segment_overlap = o.segment_overlap;
  po.packing = o.packing;
  if (o.continuation_tokens) po.continuation_tokens = *o.continuation_tokens;
  po.batch = o.batch;
  po.memory.slots = o.slots;
  po.memory.seed = 7;
  return po;
}

std::vector<column> policy_columns(const options& o, const std::shared_ptr<const models_t>& models,
                                   const larimar::pipeline::pipeline_options& po) {
  std::vector<column> columns;
  for (const auto& p : o.policies)
    columns.push_back({p.name, make_pipeline(memory_for(o, p.keys, "--policies " + p.name), models, po)});
  return columns;
}

}  // namespace recall_tool
