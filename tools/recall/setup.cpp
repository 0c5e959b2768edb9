// larimar-recall's models and memories (setup.hpp).
#include "setup.hpp"

#include <utility>

#include "larimar/runtime/factory.hpp"
#include "larimar/runtime/pipeline_factory.hpp"

namespace recall_tool {

std::shared_ptr<const models_t> load_models(const options& o) {
  auto m = std::make_shared<models_t>(o.random_encoder ? models_t::load_random_encoder(o.model, *o.random_encoder)
                                                       : models_t::load(o.model));
  m->set_cache_limit(o.encoder_cache);
  return m;
}

larimar::pipeline::pipeline_options pipeline_options_of(const options& o, const models_t& models,
                                                        const std::string& query) {
  larimar::pipeline::pipeline_options po;
  po.prefix_tokens = o.prefix_tokens ? *o.prefix_tokens : models.tokenizer().encode(query).size();
  po.segment_tokens = o.segment_tokens;
  po.batch = o.batch;
  po.memory.slots = o.slots;
  po.memory.seed = 7;
  return po;
}

std::unique_ptr<larimar::runtime::pipeline_interface> make_pipeline(const larimar::runtime::memory_spec& spec,
                                                                    std::shared_ptr<const models_t> models,
                                                                    const larimar::pipeline::pipeline_options& po) {
  return larimar::runtime::make_pipeline(spec, std::move(models), po);
}

std::unique_ptr<larimar::runtime::memory_interface> make_memory(const larimar::runtime::memory_spec& spec,
                                                                const larimar::memory_config& cfg) {
  return larimar::runtime::make_memory(spec, cfg);
}

}  // namespace recall_tool
