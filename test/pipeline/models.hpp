#pragma once
// The models the pipeline suites share, loaded once per process: larimar-tiny, and its tokenizer and encoder
// architecture with seeded random encoder weights and no decoder (memory-only recall).
#include <filesystem>
#include <memory>

#include "larimar/pipeline/models.hpp"

namespace larimar::test {

inline const std::filesystem::path model_dir = LARIMAR_MODEL_DIR;

inline std::shared_ptr<const pipeline::recall_models<>> random_models() {
  static const auto m = std::make_shared<const pipeline::recall_models<>>(
      pipeline::recall_models<>::load_random_encoder(model_dir, 1));
  return m;
}
inline std::shared_ptr<const pipeline::recall_models<>> tiny() {
  static const auto m = std::make_shared<const pipeline::recall_models<>>(pipeline::recall_models<>::load(model_dir));
  return m;
}

}  // namespace larimar::test
