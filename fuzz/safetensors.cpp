// libFuzzer target: safetensors_file::from_bytes on arbitrary bytes, then to_f32 on every tensor it accepted
// (non-float tensors must be refused by to_f32 with a value_error).
// Anything but a clean parse or a larimar::format_error is a bug (crash, sanitizer report, other exception).
#include <larimar/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(size);
  if (size != 0) std::memcpy(bytes.data(), data, size);
  try {
    const auto file = larimar::io::safetensors_file::from_bytes(std::move(bytes));
    for (const auto& name : file.names()) {
      const auto& view = file.at(name);
      // validation promised that the view is in bounds and sized by its shape: touch every byte
      if (view.size_bytes != view.numel() * larimar::io::dtype_size(view.type)) __builtin_trap();
      if (!larimar::io::is_float_compute_type(view.type)) {
        // integer/f64/bool tensors are read but refused by to_f32 with a value_error
        bool refused = false;
        try {
          (void)larimar::io::to_f32(view);
        } catch (const larimar::value_error&) {
          refused = true;
        }
        if (!refused) __builtin_trap();
        continue;
      }
      const std::vector<float> values = larimar::io::to_f32(view);
      if (values.size() != view.numel()) __builtin_trap();
    }
  } catch (const larimar::format_error&) {
    // expected for malformed input
  }
  return 0;
}
