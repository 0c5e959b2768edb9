#pragma once
// What generate() is asked for and what it returns.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "larimar/model/sampling.hpp"
#include "larimar/model/token.hpp"

namespace larimar::model {

enum class finish_reason {
  eos,          // the model produced the end-of-sequence token (not included in `tokens`)
  max_tokens,   // max_new_tokens were produced
  context_full  // the context window (n_positions, less the latent's slots) is used up
};

struct generation_options {
  std::size_t max_new_tokens = 32;
  sampling_options sampling{};        // default: greedy
  bool stop_at_eos = true;
  std::optional<token_id> eos_token;  // overrides the config's eos_token_id
};

struct generation {
  std::vector<token_id> tokens;  // the new tokens only
  finish_reason reason = finish_reason::max_tokens;
};

inline std::string to_string(finish_reason r) {
  switch (r) {
    case finish_reason::eos: return "eos";
    case finish_reason::max_tokens: return "max_tokens";
    case finish_reason::context_full: return "context_full";
  }
  return "?";
}

}  // namespace larimar::model
