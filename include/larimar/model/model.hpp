#pragma once
// Everything of the model area: config, GPT-2 decoder (with KV cache and sampling), BERT encoder, weight formats.
#include "larimar/model/bert_encoder.hpp"
#include "larimar/model/config.hpp"
#include "larimar/model/generation.hpp"
#include "larimar/model/gpt2_decoder.hpp"
#include "larimar/model/kv_cache.hpp"
#include "larimar/model/sampling.hpp"
#include "larimar/model/token.hpp"
#include "larimar/model/weight_format.hpp"
#include "larimar/model/weight_matrix.hpp"
#include "larimar/model/weight_product.hpp"
