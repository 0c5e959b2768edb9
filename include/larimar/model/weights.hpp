#pragma once
// Loading named tensors from a safetensors file into backend buffers: vectors and tables as f32 (f32/f16/bf16 ->
// f32 on the way), weight matrices in the format load_options asks for (model/weight_matrix.hpp).
#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

#include "larimar/backend/system.hpp"
#include "larimar/io/safetensors.hpp"
#include "larimar/model/weight_format.hpp"
#include "larimar/model/weight_matrix.hpp"

namespace larimar::model::detail {

template <backend::thrust_backend Backend>
backend::device_buffer<Backend, float> load_tensor(const io::safetensors_file& file, const std::string& name,
                                                   std::initializer_list<std::size_t> shape) {
  const io::tensor_view& view = file.at(name, shape);  // format_error if missing, shape_error if mis-shaped
  const std::vector<float> host = io::to_f32(view);
  backend::device_buffer<Backend, float> out(host.size());
  backend::upload(std::span<const float>(host), out);
  return out;
}

// A weight matrix [shape[0], shape[1]] as named in the file; `transposed`: the file holds [in, out] (GPT-2's
// Conv1D) and the matrix is kept as [out, in].
template <backend::thrust_backend Backend>
weight_matrix<Backend> load_matrix(const io::safetensors_file& file, const std::string& name,
                                   std::initializer_list<std::size_t> shape, bool transposed,
                                   const load_options& options) {
  return weight_matrix<Backend>::from_tensor(file.at(name, shape), transposed, options.weights);
}

// The prefix under which a checkpoint stores a model's tensors: Hugging Face saves GPT2LMHeadModel as
// "transformer.*" and BertFor* heads as "bert.*", the bare models without a prefix. "" if `probe` is unprefixed.
inline std::string find_prefix(const io::safetensors_file& file, const std::string& probe,
                               std::initializer_list<const char*> prefixes, const std::string& op) {
  for (const char* p : prefixes)
    if (file.contains(std::string(p) + probe)) return p;
  if (file.contains(probe)) return "";
  std::string tried;
  for (const char* p : prefixes) tried.append("'").append(p).append(probe).append("', ");
  throw format_error(op + ": tensor " + tried + "or '" + probe + "' not found in " +
                     (file.path().empty() ? std::string("the in-memory file") : "'" + file.path().string() + "'"));
}

}  // namespace larimar::model::detail
