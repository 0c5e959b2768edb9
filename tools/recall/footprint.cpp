// larimar-recall --footprint: the GPU memory a context needs, with the memory on the host or on the device.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "commands.hpp"
#include "factory.hpp"
#include "larimar/io/safetensors.hpp"
#include "larimar/storage/device.hpp"
#include "report.hpp"
#include "setup.hpp"

namespace recall_tool {

using namespace larimar;
using namespace larimar::pipeline;

// The paper's trade-off: with the memory on the host, the GPU holds the models and a batch's read latents whatever
// the context's length; with the memory on the device it also holds the memory, which grows with the context.
// storage::device counts the bytes its matrices hold (device_memory::in_use(): the same matrices on thrust's
// OpenMP system here as on CUDA; thrust's short-lived scratch inside one operation is not counted). One passkey
// context per length, prefix lookup, K = --slots per block; --memory-only is implied (the decoder's KV cache is a
// per-batch cost: batch × positions × layers × 2 × d floats).
int footprint(const options& o) {
  const auto models = load_models(o);
  std::size_t weight_bytes = 0;
  for (const char* f : {"encoder.safetensors", "decoder.safetensors"})
    if (std::filesystem::exists(o.model / f)) {
      const auto file = io::safetensors_file::open(o.model / f);
      for (const auto& name : file.names()) weight_bytes += file.at(name).numel() * sizeof(float);
    }
  const auto po = pipeline_options_of(o, *models, passkey_task(3, 1000, 0.5, 0).query);
  const auto spec = memory_for(o, footprint_memory, "--footprint");
  const std::size_t queries = 64, C = models->latent_size();
  const double MB = 1e6;
  std::printf("device footprint: model %s (weights as fp32 on the GPU: %.1f MB), K = %zu slots/block%s, C = %zu; "
              "read latents for %zu queries: %.2f MB\n\n",
              o.model.string().c_str(), weight_bytes / MB, o.slots, memory_note(o).c_str(), C, queries,
              queries * C * sizeof(float) / MB);
  std::printf("| context tokens | segments | memory (bytes held) | GPU, memory on the host | GPU, memory on the device |"
              " peak RSS |\n|---|---|---|---|---|---|\n");
  auto csv = open_csv(o.out, "footprint.csv",
                      "length,tokens,segments,memory_bytes,gpu_bytes_memory_on_host,gpu_bytes_memory_on_device");
  std::vector<double> xs, host, device;  // the chart: MB against log2(tokens)
  std::vector<std::string> labels;
  double top = 0;
  for (const auto len : o.lengths) {
    const auto base = storage::device_memory::in_use();
    std::size_t held = 0, tokens = 0, segments = 0;
    {
      const auto p = make_pipeline(spec, models, po);
      const auto task = passkey_task(3, len, 0.5, 1);
      context_stream<bpe> cs(task, models->tokenizer(), p->options().cut());
      p->write(cs);
      held = storage::device_memory::in_use() - base;
      tokens = p->tokens(), segments = p->segments();
    }
    const std::size_t read = queries * C * sizeof(float);
    const std::size_t on_host = weight_bytes + read, on_device = weight_bytes + read + held;
    std::printf("| %zu | %zu | %.1f MB | %.1f MB | %.1f MB | %.0f MB |\n", tokens, segments, held / MB, on_host / MB,
                on_device / MB, peak_rss_mb());
    if (csv) *csv << len << ',' << tokens << ',' << segments << ',' << held << ',' << on_host << ',' << on_device << '\n';
    xs.push_back(static_cast<double>(tokens)), labels.push_back(formatted("%.0fK", static_cast<double>(tokens) / 1000));
    host.push_back(on_host / MB), device.push_back(on_device / MB), top = std::max(top, 1.1 * device.back());
  }
  if (o.out && xs.size() > 1) {
    save_line_chart(*o.out / "footprint.png", "GPU MEMORY (MB) VS CONTEXT TOKENS", "CONTEXT TOKENS (LOG SCALE)", xs,
                    labels, top, "%.0f",
                    {{"MEMORY ON THE DEVICE", red_line, device}, {"MEMORY ON THE HOST (PAPER)", blue_line, host}}, true);
    std::printf("\nwrote %s/{footprint.csv,footprint.png}\n", o.out->string().c_str());
  }
  return 0;
}

}  // namespace recall_tool
