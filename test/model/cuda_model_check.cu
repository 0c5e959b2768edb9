// The decoder and encoder compiled by nvcc on thrust's CUDA system + cuBLAS, checked against the same
// Hugging Face fixtures as the host tests (tools/make_model_fixtures.py). Needs a GPU to run; CI compiles and
// links it only. Exit status 0 = every comparison within tolerance.
#include <cstdio>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "larimar/model/bert_encoder.hpp"
#include "larimar/model/gpt2_decoder.hpp"

namespace fx = model_fixtures;
using larimar::model::token_id;

namespace {

int failures = 0;

void expect_close(const std::string& what, std::span<const float> got, std::span<const float> want, float tol) {
  const float diff = fx::max_abs_diff(got, want);
  const bool ok = diff < tol;
  std::printf("%-44s max|diff| %.3g %s\n", what.c_str(), static_cast<double>(diff), ok ? "ok" : "FAIL");
  failures += ok ? 0 : 1;
}

}  // namespace

int main() {
  using backend = larimar::backend::cuda;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a crash keeps every line printed before it (gpu-check.sh's report)
  try {
    const auto dir = fx::dir() / "tiny";
    const auto decoder = larimar::model::gpt2_decoder<backend>::load(dir);
    const auto cfg = larimar::model::load_model_config(dir / "config.json");
    const larimar::model::gpt2_decoder<backend> kv_decoder(
        *cfg.decoder, cfg.latent_size, larimar::model::latent_mode::kv,
        larimar::io::safetensors_file::open(dir / "decoder.safetensors"));
    std::vector<std::vector<token_id>> prompts;
    std::vector<float> latents;
    for (std::size_t i = 0; i < 3; ++i) {
      const std::string n = std::to_string(i);
      prompts.push_back(fx::ids(fx::info()["prompts"][i]));
      const auto z = fx::tensor("dec.latent.z" + n);
      latents.insert(latents.end(), z.begin(), z.end());
      expect_close("decoder plain logits, prompt " + n, decoder.logits(prompts[i]), fx::tensor("dec.plain.p" + n),
                   1e-4f);
      expect_close("decoder kv logits, prompt " + n, kv_decoder.logits(prompts[i], z), fx::tensor("dec.kv.p" + n),
                   1e-4f);
      expect_close("decoder kv+embedding logits, prompt " + n, decoder.logits(prompts[i], z),
                   fx::tensor("dec.emb.p" + n), 1e-4f);
    }
    larimar::model::generation_options opt;
    opt.max_new_tokens = fx::info()["greedy_new_tokens"].get<std::size_t>();
    opt.stop_at_eos = false;
    const auto generated = decoder.generate(prompts, latents, opt);
    for (std::size_t i = 0; i < 3; ++i) {
      const bool ok = generated[i].tokens == fx::ids(fx::info()["greedy"]["emb"][i]);
      std::printf("%-44s %s\n", ("batched greedy continuation " + std::to_string(i)).c_str(), ok ? "ok" : "FAIL");
      failures += ok ? 0 : 1;
    }

    // Weights kept narrow: on CUDA every product widens panels for cuBLAS; the host backend (fused GEMV for one
    // row, panels + OpenBLAS beyond) holds the same stored values, so the two agree to fp32 summation order.
    for (const auto f : {larimar::model::weight_format::f16, larimar::model::weight_format::bf16,
                         larimar::model::weight_format::int8}) {
      const larimar::model::load_options o{f};
      const auto narrow = larimar::model::gpt2_decoder<backend>::load(dir, o);
      const auto host = larimar::model::gpt2_decoder<larimar::backend::omp>::load(dir, o);
      const std::string name = larimar::model::weight_format_name(f);
      const auto z = fx::tensor("dec.latent.z1");
      expect_close("decoder " + name + " weights vs host, prompt 1", narrow.logits(prompts[1], z),
                   host.logits(prompts[1], z), 1e-3f);
      const std::vector<token_id> one{prompts[1].front()};
      expect_close("decoder " + name + " weights vs host, one token", narrow.logits(one, z), host.logits(one, z), 1e-3f);
      const auto e = larimar::model::bert_encoder<backend>::load(dir, o);
      const auto eh = larimar::model::bert_encoder<larimar::backend::omp>::load(dir, o);
      const std::vector<std::vector<token_id>> seqs{fx::ids(fx::info()["encoder_batch"]["input_ids"][0])};
      expect_close("encoder " + name + " weights vs host, latent", e.encode(seqs).latent, eh.encode(seqs).latent, 1e-3f);
    }

    const auto encoder = larimar::model::bert_encoder<backend>::load(dir);
    const auto& batch = fx::info()["encoder_batch"];
    std::vector<token_id> ids, types;
    std::vector<std::int64_t> mask;
    for (std::size_t b = 0; b < batch["lengths"].size(); ++b) {
      for (const auto& v : batch["input_ids"][b]) ids.push_back(v.get<token_id>());
      for (const auto& v : batch["token_type_ids"][b]) types.push_back(v.get<token_id>());
      for (const auto& v : batch["attention_mask"][b]) mask.push_back(v.get<std::int64_t>());
    }
    const std::size_t B = batch["lengths"].size(), T = batch["input_ids"][0].size();
    const auto e = encoder.encode_padded(ids, mask, types, B, T);
    expect_close("encoder pooled output", e.pooled, fx::tensor("enc.pooled"), 1e-4f);
    expect_close("encoder latent (mean | logvar)", e.latent, fx::tensor("enc.latent.cls"), 1e-4f);
  } catch (const std::exception& ex) {
    std::printf("exception: %s\n", ex.what());
    return 2;
  }
  std::printf("%s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
