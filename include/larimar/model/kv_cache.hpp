#pragma once
// The decoder's per-session state: keys and values of every layer for `batch` sequences, preallocated for
// `capacity` cache slots each, plus the scratch buffers of a forward pass (grown once, then reused, so decoding
// allocates nothing per token). Slot s holds position id s: with a latent, slots 0..S-1 hold the latent
// (S = the decoder's latent_slots) and tokens start at slot S (position S), as docs/model.md conditions the decoder.
#include <cstddef>
#include <vector>

#include "larimar/backend/system.hpp"

namespace larimar::model {

template <backend::thrust_backend Backend>
class gpt2_decoder;

template <backend::thrust_backend Backend = backend::active>
class kv_cache {
 public:
  std::size_t batch() const { return batch_; }
  std::size_t capacity() const { return capacity_; }  // slots per sequence (latent slot included)
  bool conditioned() const { return conditioned_; }   // a latent occupies the first latent_slots slots
  bool started() const { return started_; }
  std::size_t length(std::size_t sequence) const { return length_.at(sequence); }  // slots in use
  // Tokens that can still be appended to `sequence`.
  std::size_t room(std::size_t sequence) const { return capacity_ - length_.at(sequence); }
  std::size_t bytes() const { return (keys_.size() + values_.size()) * sizeof(float); }

 private:
  friend class gpt2_decoder<Backend>;
  template <class T>
  using buffer = backend::device_buffer<Backend, T>;

  kv_cache(std::size_t layers, std::size_t batch, std::size_t heads, std::size_t capacity, std::size_t head_dim)
      : batch_(batch),
        capacity_(capacity),
        layer_block_(batch * heads * capacity * head_dim),
        keys_(layers * layer_block_),
        values_(layers * layer_block_),
        length_(batch, 0) {}

  std::size_t batch_, capacity_, layer_block_;
  bool conditioned_ = false, started_ = false;
  buffer<float> keys_, values_;
  buffer<float> latent_embedding_;  // [batch × n_embd] in kv+embedding mode
  std::vector<std::size_t> length_;

  struct workspace {
    buffer<float> hidden, normed, qkv, context, mlp, scores, selected, logits, latent_in, latent_out;
    buffer<int> token, position, sequence, logit_rows;
    std::vector<int> host_token, host_position, host_sequence, host_logit_rows;
  } work_;
};

}  // namespace larimar::model
