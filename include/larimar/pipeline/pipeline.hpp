#pragma once
// Long-context recall end to end (docs/pipeline.md): sentences and segments, seeded tasks, the models with their
// latent cache, and recall_pipeline, which composes them with a memory type.
#include "larimar/pipeline/models.hpp"
#include "larimar/pipeline/random_encoder.hpp"
#include "larimar/pipeline/recall_pipeline.hpp"
#include "larimar/pipeline/segmenter.hpp"
#include "larimar/pipeline/sentences.hpp"
#include "larimar/pipeline/tasks.hpp"
