#pragma once
// Attention over the packed rows, one functor call per (row, head). Rows of different sequences and lengths
// share one launch, so a batch needs no padding and no mask: each row knows its sequence and cache slot.
//
// KV cache layout (per layer): [batch][head][slot][head_dim], so one (sequence, head) scan is contiguous.
#include <cmath>
#include <cstddef>

#include "larimar/backend/system.hpp"

namespace larimar::model::kernels {

// q·k with eight independent partial sums: without -ffast-math a compiler will not reorder a single float
// accumulator, so a plain loop runs one scalar FMA at a time; this form vectorises (SLP) on the host.
LARIMAR_HOST_DEVICE inline float dot(const float* a, const float* b, std::size_t n) {
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  std::size_t d = 0;
  for (; d + 8 <= n; d += 8)
    for (std::size_t j = 0; j < 8; ++j) acc[j] += a[d + j] * b[d + j];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

// The softmax's exponentials in place, s[t] ← exp(s[t] − best), returning 1 / Σ s[t] for the caller to scale by.
LARIMAR_HOST_DEVICE inline float exp_shifted(float* s, std::size_t n, float best) {
  float total = 0.f;
  for (std::size_t t = 0; t < n; ++t) {
    s[t] = expf(s[t] - best);
    total += s[t];
  }
  return 1.f / total;
}

// GPT-2: adds the c_attn bias to the fused q|k|v row in place and writes k and v into the cache at the row's slot.
struct qkv_bias_to_cache {
  float* qkv;  // [rows × 3·width]
  const float* bias;
  float* k_cache;  // this layer's block
  float* v_cache;
  const int* sequence;
  const int* slot;
  std::size_t width, head_dim, heads, capacity;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t row_width = 3 * width;
    const std::size_t r = i / row_width, j = i % row_width;
    const float v = qkv[i] + bias[j];
    qkv[i] = v;
    if (j < width) return;
    const std::size_t part = j / width, c = j - part * width;
    const std::size_t h = c / head_dim, d = c % head_dim;
    const std::size_t at = ((static_cast<std::size_t>(sequence[r]) * heads + h) * capacity +
                            static_cast<std::size_t>(slot[r])) * head_dim + d;
    (part == 1 ? k_cache : v_cache)[at] = v;
  }
};

// Larimar's memory injection: proj = latent_kv(z) is [batch × n_layer·slots·width]; its (layer l, slot s) slice
// (+ the bias, when the model has one), split into heads, is both the key and the value of cache slot s (no c_attn
// projection), as docs/model.md specifies.
struct latent_to_cache {
  float* k_cache;  // all layers: [n_layer][batch][head][slot][head_dim]
  float* v_cache;
  const float* proj;
  const float* bias;  // [n_layer·slots·width] or null
  std::size_t layers, slots, batch, width, head_dim, heads, capacity;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t per_sequence = layers * slots * width;
    const std::size_t b = i / per_sequence, rest = i % per_sequence;
    const std::size_t l = rest / (slots * width), s = rest / width % slots, c = rest % width;
    const std::size_t h = c / head_dim, d = c % head_dim;
    const std::size_t layer_block = batch * heads * capacity * head_dim;
    const std::size_t at = l * layer_block + ((b * heads + h) * capacity + s) * head_dim + d;
    const float v = bias ? proj[i] + bias[rest] : proj[i];
    k_cache[at] = v;
    v_cache[at] = v;
  }
};

// Causal attention of one row against its sequence's cache slots [0, slot]; scores use a per-(row, head)
// scratch of `capacity` floats. out[row, head·head_dim ...] = softmax(q·Kᵀ·scale)·V.
struct cached_causal_attention {
  const float* qkv;  // q is the first `width` of each 3·width row
  const float* k_cache;
  const float* v_cache;
  const int* sequence;
  const int* slot;
  float* scores;
  float* out;  // [rows × width]
  std::size_t width, head_dim, heads, capacity;
  float scale;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / heads, h = i % heads;
    const float* q = qkv + r * 3 * width + h * head_dim;
    const std::size_t base = (static_cast<std::size_t>(sequence[r]) * heads + h) * capacity * head_dim;
    const float* k = k_cache + base;
    const float* v = v_cache + base;
    const std::size_t n = static_cast<std::size_t>(slot[r]) + 1;
    float* s = scores + i * capacity;
    float best = -INFINITY;
    for (std::size_t t = 0; t < n; ++t) {
      s[t] = dot(q, k + t * head_dim, head_dim) * scale;
      best = fmaxf(best, s[t]);
    }
    const float inv = exp_shifted(s, n, best);
    float* o = out + r * width + h * head_dim;
    for (std::size_t d = 0; d < head_dim; ++d) o[d] = 0.f;
    for (std::size_t t = 0; t < n; ++t) {
      const float w = s[t] * inv;
      for (std::size_t d = 0; d < head_dim; ++d) o[d] += w * v[t * head_dim + d];
    }
  }
};

// BERT: bidirectional attention of one row over the rows of its own sequence (packed [start, start + length)),
// which is exactly HF's attention mask for right-padded input.
struct packed_bidirectional_attention {
  const float* qkv;  // [rows × 3·width], biases already added
  const int* start;
  const int* length;
  float* scores;  // [rows × heads × max_length]
  float* out;     // [rows × width]
  std::size_t width, head_dim, heads, max_length;
  float scale;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / heads, h = i % heads;
    const std::size_t row_width = 3 * width;
    const float* q = qkv + r * row_width + h * head_dim;
    const std::size_t s0 = static_cast<std::size_t>(start[r]), n = static_cast<std::size_t>(length[r]);
    float* s = scores + i * max_length;
    float best = -INFINITY;
    for (std::size_t t = 0; t < n; ++t) {
      const float* k = qkv + (s0 + t) * row_width + width + h * head_dim;
      s[t] = dot(q, k, head_dim) * scale;
      best = fmaxf(best, s[t]);
    }
    const float inv = exp_shifted(s, n, best);
    float* o = out + r * width + h * head_dim;
    for (std::size_t d = 0; d < head_dim; ++d) o[d] = 0.f;
    for (std::size_t t = 0; t < n; ++t) {
      const float w = s[t] * inv;
      const float* v = qkv + (s0 + t) * row_width + 2 * width + h * head_dim;
      for (std::size_t d = 0; d < head_dim; ++d) o[d] += w * v[d];
    }
  }
};

}  // namespace larimar::model::kernels

namespace larimar::model::kernels {

// The same causal attention in three launches with one item per (row, head, slot), per (row, head) and per
// output element: far more parallelism than one serial scan per (row, head), which a GPU needs (the fused
// kernel above suits the CPU, where the scan is contiguous and a (row, head) pair is plenty of work).
struct attention_scores {  // scores[(r·heads + h)·capacity + t] = q·k_t · scale for t <= slot[r]
  const float* qkv;
  const float* k_cache;
  const int* sequence;
  const int* slot;
  float* scores;
  std::size_t width, head_dim, heads, capacity;
  float scale;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t pair = i / capacity, t = i % capacity;
    const std::size_t r = pair / heads, h = pair % heads;
    if (t > static_cast<std::size_t>(slot[r])) return;
    const float* q = qkv + r * 3 * width + h * head_dim;
    const float* k = k_cache + ((static_cast<std::size_t>(sequence[r]) * heads + h) * capacity + t) * head_dim;
    scores[i] = dot(q, k, head_dim) * scale;
  }
};

struct attention_softmax {  // in place over slots [0, slot[r]] of each (row, head)
  float* scores;
  const int* slot;
  std::size_t heads, capacity;

  LARIMAR_HOST_DEVICE void operator()(std::size_t pair) const {
    const std::size_t n = static_cast<std::size_t>(slot[pair / heads]) + 1;
    float* s = scores + pair * capacity;
    float best = -INFINITY;
    for (std::size_t t = 0; t < n; ++t) best = fmaxf(best, s[t]);
    const float inv = exp_shifted(s, n, best);
    for (std::size_t t = 0; t < n; ++t) s[t] *= inv;
  }
};

struct attention_values {  // out[r, c] = Σ_t p_t · v_t[d] for c = h·head_dim + d
  const float* v_cache;
  const int* sequence;
  const int* slot;
  const float* scores;
  float* out;
  std::size_t width, head_dim, heads, capacity;

  LARIMAR_HOST_DEVICE void operator()(std::size_t i) const {
    const std::size_t r = i / width, c = i % width;
    const std::size_t h = c / head_dim, d = c % head_dim;
    const std::size_t n = static_cast<std::size_t>(slot[r]) + 1;
    const float* p = scores + (r * heads + h) * capacity;
    const float* v = v_cache + (static_cast<std::size_t>(sequence[r]) * heads + h) * capacity * head_dim + d;
    float sum = 0.f;
    for (std::size_t t = 0; t < n; ++t) sum += p[t] * v[t * head_dim];
    out[i] = sum;
  }
};

}  // namespace larimar::model::kernels
