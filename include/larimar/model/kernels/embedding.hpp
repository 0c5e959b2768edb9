#pragma once
// Input embeddings of the packed rows (one row per token of any sequence in the batch).
#include <cstddef>

#include "larimar/backend/system.hpp"
#include "larimar/model/weight_matrix.hpp"

namespace larimar::model::kernels {

// GPT-2: out[r] = wte[token[r]] + wpe[position[r]] (+ extra[sequence[r]]: latent_emb(z) in kv+embedding mode).
struct gpt2_embedding {
  float* out;
  weight_view wte;  // in its stored format (weight_matrix.hpp)
  const float* wpe;
  const float* extra;  // nullable, [batch × width]
  const int* token;
  const int* position;
  const int* sequence;
  std::size_t width;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / width, c = i % width;
    float v = wte.at(static_cast<std::size_t>(token[r]), c) +
              wpe[static_cast<std::size_t>(position[r]) * width + c];
    if (extra) v += extra[static_cast<std::size_t>(sequence[r]) * width + c];
    out[i] = v;
  }
};

// BERT: out[r] = word[token[r]] + position[pos[r]] + token_type[type[r]] (LayerNorm follows separately).
struct bert_embedding {
  float* out;
  weight_view word;  // in its stored format (weight_matrix.hpp)
  const float* position_table;
  const float* type_table;
  const int* token;
  const int* position;
  const int* type;
  std::size_t width;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / width, c = i % width;
    out[i] = word.at(static_cast<std::size_t>(token[r]), c) +
             position_table[static_cast<std::size_t>(position[r]) * width + c] +
             type_table[static_cast<std::size_t>(type[r]) * width + c];
  }
};

// dst[i] = src[index[i]] row-wise ([rows × width]); selects the rows whose logits or pooled output are needed.
struct gather_rows {
  float* dst;
  const float* src;
  const int* index;
  std::size_t width;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / width, c = i % width;
    dst[i] = src[static_cast<std::size_t>(index[r]) * width + c];
  }
};

// out[b] = mean of hidden rows [start[b], start[b] + length[b]) (BERT "mean" pooling over the attention mask).
struct mean_pool {
  float* out;
  const float* hidden;
  const int* start;
  const int* length;
  std::size_t width;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t b = i / width, c = i % width;
    const std::size_t s = static_cast<std::size_t>(start[b]), n = static_cast<std::size_t>(length[b]);
    float sum = 0.f;
    for (std::size_t r = s; r < s + n; ++r) sum += hidden[r * width + c];
    out[i] = sum / static_cast<float>(n);
  }
};

// Concatenates each sequence's hidden rows into a [positions × width] block, zeros past its length.
struct positions_pool {
  float* out;
  const float* hidden;
  const int* start;
  const int* length;
  std::size_t width, positions;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t per = width * positions, b = i / per, t = (i % per) / width, c = i % width;
    out[i] = t < static_cast<std::size_t>(length[b])
                 ? hidden[(static_cast<std::size_t>(start[b]) + t) * width + c]
                 : 0.f;
  }
};

}  // namespace larimar::model::kernels
