#pragma once
// The formats the model's weight matrices can be held in at compute time, and the load option that picks one
// (docs/model.md, "Weight formats"). Products always accumulate in fp32; only the stored values differ:
//   f32  — the values as read (an f16/bf16 file widened exactly);
//   f16  — IEEE binary16, 11 significant bits: each value within u·|w|, u = 2⁻¹¹, of the fp32 one (exact for an f16 file);
//   bf16 — bfloat16, 8 significant bits: u = 2⁻⁸ (exact for a bf16 file);
//   int8 — symmetric per-row quantisation: row o (an output channel) stores q_oi ∈ [−127, 127] and one fp32 scale
//          s_o = max_i |w_oi| / 127, and ŵ_oi = s_o·q_oi with q_oi = round(w_oi / s_o). Each value is within
//          s_o / 2 = max_i |w_oi| / 254 of w_oi (plus fp32 rounding of the division, ≤ 2⁻²⁴·|w|), so an output
//          y_o = Σ_i x_i·w_oi moves by at most (s_o / 2)·‖x‖₁ against the same product with the unquantised row.
// A file says which of f32/f16/bf16 it holds (the safetensors dtype of each tensor); int8 is a load-time option
// only (quantised from whatever the file holds), never written to a file.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace larimar::model {

enum class weight_format : std::uint8_t { f32 = 0, f16 = 1, bf16 = 2, int8 = 3 };

constexpr const char* weight_format_name(weight_format f) {
  switch (f) {
    case weight_format::f16: return "f16";
    case weight_format::bf16: return "bf16";
    case weight_format::int8: return "int8";
    default: return "f32";
  }
}
inline std::optional<weight_format> parse_weight_format(std::string_view name) {
  for (const weight_format f : {weight_format::f32, weight_format::f16, weight_format::bf16, weight_format::int8})
    if (name == weight_format_name(f)) return f;
  return std::nullopt;
}
// Bytes per stored value (int8 rows also carry one 4-byte scale each).
constexpr std::size_t weight_format_bytes(weight_format f) {
  return f == weight_format::f32 ? 4 : f == weight_format::int8 ? 1 : 2;
}

// How gpt2_decoder::load / bert_encoder::load hold the weight matrices (the projections, the tied LM head and the
// token embeddings). Vectors (biases, LayerNorm), the position tables and the decoder's latent projections
// (used once per prefill) stay f32.
struct load_options {
  // nullopt: each matrix in the format its file stores it in (f32, f16 or bf16); otherwise converted at load
  // (int8: quantised at load). Converting to f16 a value beyond f16's range is a value_error.
  std::optional<weight_format> weights;
};

}  // namespace larimar::model
