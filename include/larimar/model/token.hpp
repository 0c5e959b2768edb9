#pragma once
// The id type the model API works on (tokenizers produce them; text in/out lives in larimar/tokenizer).
#include <cstdint>

namespace larimar::model {
using token_id = std::int32_t;
}  // namespace larimar::model
