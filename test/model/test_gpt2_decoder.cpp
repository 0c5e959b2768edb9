// GPT-2 decoder vs Hugging Face transformers (fixtures from tools/make_model_fixtures.py).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "fixtures.hpp"
#include "larimar/model/gpt2_decoder.hpp"

using namespace larimar;
using model::gpt2_decoder;
using model::token_id;
namespace fx = model_fixtures;

namespace {

constexpr float tolerance = 1e-4f;

const gpt2_decoder<>& tiny() {  // latent_mode kv+embedding (config.json)
  static const auto decoder = gpt2_decoder<>::load(fx::dir() / "tiny");
  return decoder;
}
const gpt2_decoder<>& tiny_kv() {  // the same weights read in kv mode (latent_emb ignored)
  static const auto decoder = [] {
    const auto cfg = model::load_model_config(fx::dir() / "tiny" / "config.json");
    return gpt2_decoder<>(*cfg.decoder, cfg.latent_size, model::latent_mode::kv,
                          io::safetensors_file::open(fx::dir() / "tiny" / "decoder.safetensors"));
  }();
  return decoder;
}
const gpt2_decoder<>& tiny_plain() {  // mode none: plain GPT-2
  static const auto decoder = [] {
    const auto cfg = model::load_model_config(fx::dir() / "tiny" / "config.json");
    return gpt2_decoder<>(*cfg.decoder, 0, model::latent_mode::none,
                          io::safetensors_file::open(fx::dir() / "tiny" / "decoder.safetensors"));
  }();
  return decoder;
}

std::vector<token_id> prompt(std::size_t i) { return fx::ids(fx::info()["prompts"][i]); }
std::vector<float> latent(std::size_t i) { return fx::tensor("dec.latent.z" + std::to_string(i)); }
std::vector<token_id> greedy(const char* mode, std::size_t i) { return fx::ids(fx::info()["greedy"][mode][i]); }

std::vector<float> row(const std::vector<float>& m, std::size_t r, std::size_t width) {
  return {m.begin() + static_cast<std::ptrdiff_t>(r * width), m.begin() + static_cast<std::ptrdiff_t>((r + 1) * width)};
}

}  // namespace

TEST_CASE("config and weights of the tiny model") {
  const auto& d = tiny();
  CHECK(d.config().n_layer == 3);
  CHECK(d.config().n_head == 4);
  CHECK(d.config().n_embd == 80);
  CHECK(d.vocab_size() == 1000);
  CHECK(d.latent_size() == 20);
  CHECK(d.mode() == model::latent_mode::kv_embedding);
}

TEST_CASE("plain GPT-2 logits match transformers at every position") {
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto got = tiny_plain().logits(prompt(i));
    const auto want = fx::tensor("dec.plain.p" + std::to_string(i));
    REQUIRE(got.size() == want.size());
    CHECK(fx::max_abs_diff(got, want) < tolerance);
    // the mode-none decoder and a latent-capable decoder without a latent are the same model
    CHECK(fx::max_abs_diff(tiny().logits(prompt(i)), want) < tolerance);
  }
}

TEST_CASE("latent as one extra key/value position (kv mode) matches HF past_key_values") {
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto got = tiny_kv().logits(prompt(i), latent(i));
    const auto want = fx::tensor("dec.kv.p" + std::to_string(i));
    CHECK(fx::max_abs_diff(got, want) < tolerance);
    // and the latent matters: the plain logits are far away
    CHECK(fx::max_abs_diff(got, fx::tensor("dec.plain.p" + std::to_string(i))) > 0.05f);
  }
}

TEST_CASE("latent in kv+embedding mode matches HF with inputs_embeds += latent_emb(z)") {
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto got = tiny().logits(prompt(i), latent(i));
    CHECK(fx::max_abs_diff(got, fx::tensor("dec.emb.p" + std::to_string(i))) < tolerance);
    CHECK(fx::max_abs_diff(got, fx::tensor("dec.kv.p" + std::to_string(i))) > 0.01f);
  }
}

TEST_CASE("f16 and bf16 copies load exactly and stay close to f32") {
  const auto want32 = fx::tensor("dec.emb.p0");
  // tolerances vs the f32 model: measured max |diff| on these fixtures is ~3e-3 (f16) and ~3e-2 (bf16)
  for (const auto& [tag, loose] : {std::pair{std::string("f16"), 1e-2f}, std::pair{std::string("bf16"), 1e-1f}}) {
    CAPTURE(tag);
    const auto d = gpt2_decoder<>::load(fx::dir() / ("tiny-" + tag));
    const auto got = d.logits(prompt(0), latent(0));
    CHECK(fx::max_abs_diff(got, fx::tensor("dec." + tag + ".emb.p0")) < tolerance);  // rounded weights, f32 math
    CHECK(fx::max_abs_diff(got, want32) < loose);
    MESSAGE(tag << " vs f32 max |diff| = " << fx::max_abs_diff(got, want32));
  }
}

TEST_CASE("prefill + step with the KV cache equals the full forward") {
  const auto& d = tiny();
  const std::size_t V = d.vocab_size();
  const auto p = prompt(1);
  const auto z = latent(1);
  const auto full = fx::tensor("dec.emb.p1");  // logits at every position of prompt 1
  auto cache = d.new_cache(1);
  // feed the first 5 tokens, then the rest one at a time
  const std::vector<std::vector<token_id>> head{{p.begin(), p.begin() + 5}};
  const auto first = d.prefill(cache, head, z);
  CHECK(fx::max_abs_diff(first, row(full, 4, V)) < tolerance);
  CHECK(cache.length(0) == 6);  // latent slot + 5 tokens
  for (std::size_t t = 5; t < p.size(); ++t) {
    CAPTURE(t);
    const std::vector<token_id> next{p[t]};
    CHECK(fx::max_abs_diff(d.step(cache, next), row(full, t, V)) < tolerance);
  }
  CHECK(cache.length(0) == 1 + p.size());
}

TEST_CASE("batched prompts of different lengths give the per-prompt results") {
  const auto& d = tiny();
  const std::size_t V = d.vocab_size();
  const std::vector<std::vector<token_id>> prompts{prompt(0), prompt(1), prompt(2)};
  std::vector<float> zs;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto z = latent(i);
    zs.insert(zs.end(), z.begin(), z.end());
  }
  auto cache = d.new_cache(3);
  const auto last = d.prefill(cache, prompts, zs);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto full = fx::tensor("dec.emb.p" + std::to_string(i));
    CHECK(fx::max_abs_diff(row(last, i, V), row(full, prompts[i].size() - 1, V)) < tolerance);
  }
  // greedy generation, batched, equals the HF greedy loop per prompt, in all three modes
  model::generation_options opt;
  opt.max_new_tokens = fx::info()["greedy_new_tokens"].get<std::size_t>();
  opt.stop_at_eos = false;
  const auto emb = d.generate(prompts, zs, opt);
  const auto kv = tiny_kv().generate(prompts, zs, opt);
  const auto plain = tiny_plain().generate(prompts, {}, opt);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(emb[i].tokens == greedy("emb", i));
    CHECK(kv[i].tokens == greedy("kv", i));
    CHECK(plain[i].tokens == greedy("plain", i));
    CHECK(emb[i].reason == model::finish_reason::max_tokens);
  }
  // single-prompt overload agrees with the batch
  CHECK(d.generate(prompt(2), latent(2), opt).tokens == greedy("emb", 2));
}

TEST_CASE("generation stops at EOS (excluded) and at the context window") {
  const auto& d = tiny_kv();
  const auto want = greedy("kv", 0);
  model::generation_options opt;
  opt.max_new_tokens = want.size();
  opt.eos_token = want[4];
  const auto g = d.generate(prompt(0), latent(0), opt);
  // stops at the first occurrence of the EOS id
  std::size_t first = 0;
  while (want[first] != want[4]) ++first;
  CHECK(g.reason == model::finish_reason::eos);
  CHECK(g.tokens == std::vector<token_id>(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(first)));

  // n_positions 48, latent takes one position: a 40-token prompt leaves room for 7 cached tokens + 1 output
  std::vector<token_id> long_prompt(40, 7);
  opt.eos_token.reset();
  opt.stop_at_eos = false;
  opt.max_new_tokens = 100;
  const auto full = d.generate(long_prompt, latent(0), opt);
  CHECK(full.reason == model::finish_reason::context_full);
  CHECK(full.tokens.size() == 48 - 1 - 40 + 1);
  const auto plain = tiny_plain().generate(long_prompt, {}, opt);
  CHECK(plain.tokens.size() == 48 - 40 + 1);
}

TEST_CASE("sampling: seeded, reproducible, restricted by top-k and top-p") {
  const auto& d = tiny();
  model::generation_options opt;
  opt.max_new_tokens = 10;
  opt.stop_at_eos = false;
  opt.sampling.temperature = 1.5f;
  opt.sampling.seed = 42;
  const auto a = d.generate(prompt(0), latent(0), opt);
  const auto b = d.generate(prompt(0), latent(0), opt);
  CHECK(a.tokens == b.tokens);
  CHECK(a.tokens.size() == 10);
  opt.sampling.seed = 43;
  CHECK(d.generate(prompt(0), latent(0), opt).tokens != a.tokens);
  // top_k = 1 and a vanishing top_p are greedy whatever the temperature
  opt.max_new_tokens = greedy("emb", 0).size();
  opt.sampling.top_k = 1;
  CHECK(d.generate(prompt(0), latent(0), opt).tokens == greedy("emb", 0));
  opt.sampling.top_k = 0;
  opt.sampling.top_p = 1e-6f;
  CHECK(d.generate(prompt(0), latent(0), opt).tokens == greedy("emb", 0));
  // a batch's sequence b draws from its own stream: same result alone or with others
  opt.sampling.top_p = 0.9f;
  const std::vector<std::vector<token_id>> two{prompt(0), prompt(1)};
  auto zs = latent(0);
  const auto z1 = latent(1);
  zs.insert(zs.end(), z1.begin(), z1.end());
  const auto batch = d.generate(two, zs, opt);
  CHECK(batch[0].tokens == d.generate(prompt(0), latent(0), opt).tokens);
}

TEST_CASE("token_sampler: top-k keeps the k most likely, top-p the nucleus") {
  // logits with probabilities ~ 0.5, 0.25, 0.125, ... at temperature 1
  std::vector<float> logits;
  for (int i = 0; i < 12; ++i) logits.push_back(-static_cast<float>(i) * std::log(2.f));
  model::sampling_options o;
  o.temperature = 1.f;
  o.top_k = 3;
  o.seed = 9;
  model::token_sampler k3(o);
  std::set<token_id> seen;
  for (int i = 0; i < 400; ++i) seen.insert(k3(logits));
  CHECK(seen == std::set<token_id>{0, 1, 2});
  o.top_k = 0;
  o.top_p = 0.7f;  // 0.5 < 0.7 <= 0.75: the nucleus is {0, 1}
  model::token_sampler p(o);
  seen.clear();
  int zeros = 0;
  for (int i = 0; i < 600; ++i) {
    const auto t = p(logits);
    seen.insert(t);
    zeros += t == 0;
  }
  CHECK(seen == std::set<token_id>{0, 1});
  CHECK(zeros > 330);  // renormalised 2/3 of 600 = 400
  CHECK(zeros < 470);
  o.top_p = 1.f;
  model::token_sampler all(o);
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen.insert(all(logits));
  CHECK(seen.size() >= 7);
  std::vector<float> bad(logits);
  bad[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(all(bad), value_error);
  o.temperature = -1.f;
  CHECK_THROWS_AS(model::token_sampler{o}, value_error);
  o.temperature = 1.f;
  o.top_p = 0.f;
  CHECK_THROWS_AS(model::token_sampler{o}, value_error);
}

TEST_CASE("bad input: clear exceptions, state unchanged") {
  const auto& d = tiny();
  auto z = latent(0);
  const std::vector<std::vector<token_id>> ok{prompt(0)};
  auto cache = d.new_cache(1);
  const auto before = d.prefill(cache, ok, z);
  const std::size_t len = cache.length(0);

  const std::vector<std::vector<token_id>> out_of_range{{1, 2, 1000}};
  CHECK_THROWS_WITH_AS(d.prefill(cache, out_of_range, z), doctest::Contains("outside the vocabulary"), value_error);
  const std::vector<std::vector<token_id>> negative{{-1}};
  CHECK_THROWS_AS(d.prefill(cache, negative, z), value_error);
  const std::vector<std::vector<token_id>> empty{{}};
  CHECK_THROWS_AS(d.prefill(cache, empty, z), shape_error);
  const std::vector<std::vector<token_id>> too_long{std::vector<token_id>(48, 5)};  // 47 fit with a latent
  CHECK_THROWS_WITH_AS(d.prefill(cache, too_long, z), doctest::Contains("context holds 47"), shape_error);
  CHECK_NOTHROW(d.logits(too_long[0]));  // without a latent all 48 positions are usable
  auto nan_z = z;
  nan_z[3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(d.prefill(cache, ok, nan_z), doctest::Contains("non-finite"), value_error);
  nan_z[3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(d.logits(ok[0], nan_z), value_error);
  const std::vector<float> short_z(19, 0.f);
  CHECK_THROWS_AS(d.prefill(cache, ok, short_z), shape_error);
  const std::vector<std::vector<token_id>> two{prompt(0), prompt(1)};
  CHECK_THROWS_AS(d.prefill(cache, two, {}), shape_error);  // cache holds one sequence
  const std::vector<token_id> bad_next{1000};
  CHECK_THROWS_AS(d.step(cache, bad_next), value_error);
  const std::vector<token_id> two_next{1, 2};
  CHECK_THROWS_AS(d.step(cache, two_next), shape_error);
  CHECK_THROWS_AS(tiny_plain().logits(ok[0], z), state_error);  // no latent projection
  CHECK_THROWS_AS(d.new_cache(1, 49), shape_error);
  auto fresh = d.new_cache(1);
  const std::vector<token_id> one{5};
  CHECK_THROWS_AS(d.step(fresh, one), state_error);  // not prefilled

  // the failed calls left the cache as it was: stepping continues the good prefix
  CHECK(cache.length(0) == len);
  const std::vector<token_id> next{greedy("emb", 0)[0]};
  auto after = d.step(cache, next);
  const auto full = d.logits([&] {
    auto p = prompt(0);
    p.push_back(next[0]);
    return p;
  }(), z);
  CHECK(fx::max_abs_diff(after, row(full, prompt(0).size(), d.vocab_size())) < tolerance);
  CHECK(before.size() == d.vocab_size());

  // a full cache refuses another token
  auto small = d.new_cache(1, 3);
  const std::vector<std::vector<token_id>> two_tokens{{5, 6}};
  d.prefill(small, two_tokens, z);
  CHECK(small.room(0) == 0);
  CHECK_THROWS_WITH_AS(d.step(small, one), doctest::Contains("context window"), shape_error);
}

TEST_CASE("missing and mis-shaped tensors are named") {
  const auto file = io::safetensors_file::open(fx::dir() / "tiny" / "decoder.safetensors");
  auto cfg = *model::load_model_config(fx::dir() / "tiny" / "config.json").decoder;
  cfg.n_layer = 4;  // layer 3 does not exist
  CHECK_THROWS_WITH_AS(gpt2_decoder<>(cfg, 20, model::latent_mode::kv, file),
                       doctest::Contains("transformer.h.3.ln_1.weight"), format_error);
  cfg.n_layer = 3;
  cfg.n_positions = 64;  // wpe is [48, 80]
  CHECK_THROWS_WITH_AS(gpt2_decoder<>(cfg, 20, model::latent_mode::kv, file),
                       doctest::Contains("transformer.wpe.weight"), shape_error);
  cfg.n_positions = 48;
  CHECK_THROWS_WITH_AS(gpt2_decoder<>(cfg, 21, model::latent_mode::kv, file), doctest::Contains("latent_kv.weight"),
                       shape_error);
  // the f16 decoder directory has no encoder
  CHECK_THROWS_AS(gpt2_decoder<>::load(fx::dir() / "does-not-exist"), io_error);
}

TEST_CASE("a plain Hugging Face GPT-2 directory loads (config.json + model.safetensors, tied or copied lm_head)") {
  const auto dir = std::filesystem::temp_directory_path() / ("larimar-test-hf-gpt2-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto cfg = *model::load_model_config(fx::dir() / "tiny" / "config.json").decoder;
  {
    std::ofstream(dir / "config.json") << nlohmann::json{{"model_type", "gpt2"},
                                                         {"vocab_size", cfg.vocab_size},
                                                         {"n_embd", cfg.n_embd},
                                                         {"n_layer", cfg.n_layer},
                                                         {"n_head", cfg.n_head},
                                                         {"n_positions", cfg.n_positions},
                                                         {"n_inner", nullptr},
                                                         {"activation_function", "gelu_new"},
                                                         {"layer_norm_epsilon", 1e-5},
                                                         {"eos_token_id", 2}}
                                                .dump();
  }
  // GPT2LMHeadModel's names plus an explicit lm_head.weight equal to wte
  const auto source = io::safetensors_file::open(fx::dir() / "tiny" / "decoder.safetensors");
  std::vector<io::tensor_to_save> tensors;
  for (const auto& name : source.names()) {
    const auto& v = source.at(name);
    tensors.push_back({name, v.type, v.shape, v.bytes()});
  }
  const auto& wte = source.at("transformer.wte.weight");
  tensors.push_back({"lm_head.weight", wte.type, wte.shape, wte.bytes()});
  io::save_safetensors(dir / "model.safetensors", tensors);
  const auto hf = gpt2_decoder<>::load(dir);
  CHECK(hf.mode() == model::latent_mode::none);
  CHECK(hf.latent_size() == 0);
  CHECK(fx::max_abs_diff(hf.logits(prompt(0)), fx::tensor("dec.plain.p0")) < tolerance);

  // an untied head is refused
  std::vector<std::byte> other(wte.bytes().begin(), wte.bytes().end());
  other[5] = static_cast<std::byte>(static_cast<unsigned char>(other[5]) ^ 0x40u);
  tensors.back().bytes = other;
  io::save_safetensors(dir / "model.safetensors", tensors);
  CHECK_THROWS_WITH_AS(gpt2_decoder<>::load(dir), doctest::Contains("lm_head.weight differs"), format_error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("the split attention kernels (the CUDA default) give the same results on the host") {
  auto d = gpt2_decoder<>::load(fx::dir() / "tiny");
  CHECK(d.attention() == gpt2_decoder<>::attention_kernel::fused);  // host default
  d.use_attention_kernel(gpt2_decoder<>::attention_kernel::split);
  const std::size_t V = d.vocab_size();
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(fx::max_abs_diff(d.logits(prompt(i), latent(i)), fx::tensor("dec.emb.p" + std::to_string(i))) < tolerance);
    CHECK(fx::max_abs_diff(d.logits(prompt(i)), fx::tensor("dec.plain.p" + std::to_string(i))) < tolerance);
  }
  const std::vector<std::vector<token_id>> prompts{prompt(0), prompt(1), prompt(2)};
  std::vector<float> zs;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto z = latent(i);
    zs.insert(zs.end(), z.begin(), z.end());
  }
  auto cache = d.new_cache(3);
  const auto last = d.prefill(cache, prompts, zs);
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(fx::max_abs_diff(row(last, i, V), row(fx::tensor("dec.emb.p" + std::to_string(i)), prompts[i].size() - 1,
                                                V)) < tolerance);
  model::generation_options opt;
  opt.max_new_tokens = fx::info()["greedy_new_tokens"].get<std::size_t>();
  opt.stop_at_eos = false;
  const auto g = d.generate(prompts, zs, opt);
  for (std::size_t i = 0; i < 3; ++i) CHECK(g[i].tokens == greedy("emb", i));
}

TEST_CASE("a latent over several cache slots with a slot bias (latent_slots) matches HF past_key_values") {
  const auto d = gpt2_decoder<>::load(fx::dir() / "tiny-slots");  // f16 weights, latent_slots 3, latent_kv.bias
  const std::size_t S = fx::info()["latent_slots"].get<std::size_t>(), V = d.vocab_size();
  REQUIRE(S == 3);
  CHECK(d.latent_slots() == S);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto want = fx::tensor("dec.slots.p" + std::to_string(i));
    CHECK(fx::max_abs_diff(d.logits(prompt(i), latent(i)), want) < tolerance);
    // the slots differ: with one slot's worth of the same projection the logits would not match
    CHECK(fx::max_abs_diff(tiny().logits(prompt(i), latent(i)), want) > 0.1f);
  }
  // prefill + step: tokens after the S latent slots
  const auto p = prompt(1);
  const auto full = fx::tensor("dec.slots.p1");
  auto cache = d.new_cache(1);
  const std::vector<std::vector<token_id>> head{{p.begin(), p.begin() + 4}};
  CHECK(fx::max_abs_diff(d.prefill(cache, head, latent(1)), row(full, 3, V)) < tolerance);
  CHECK(cache.length(0) == S + 4);
  for (std::size_t t = 4; t < p.size(); ++t) {
    const std::vector<token_id> next{p[t]};
    CHECK(fx::max_abs_diff(d.step(cache, next), row(full, t, V)) < tolerance);
  }
  // batched greedy generation equals the HF greedy loop, with both attention kernels
  std::vector<std::vector<token_id>> prompts;
  std::vector<float> zs;
  for (std::size_t i = 0; i < 3; ++i) {
    prompts.push_back(prompt(i));
    const auto z = latent(i);
    zs.insert(zs.end(), z.begin(), z.end());
  }
  model::generation_options opt;
  opt.max_new_tokens = fx::info()["greedy_new_tokens"].get<std::size_t>();
  opt.stop_at_eos = false;
  for (const auto kernel : {gpt2_decoder<>::attention_kernel::fused, gpt2_decoder<>::attention_kernel::split}) {
    auto dk = gpt2_decoder<>::load(fx::dir() / "tiny-slots");
    dk.use_attention_kernel(kernel);
    const auto g = dk.generate(prompts, zs, opt);
    for (std::size_t i = 0; i < 3; ++i) CHECK(g[i].tokens == greedy("slots", i));
  }
  // the window: n_positions 48 less S latent slots
  std::vector<token_id> long_prompt(40, 7);
  opt.max_new_tokens = 100;
  const auto g = d.generate(long_prompt, latent(0), opt);
  CHECK(g.reason == model::finish_reason::context_full);
  CHECK(g.tokens.size() == 48 - S - 40 + 1);
  std::vector<token_id> too_long(48 - S + 1, 7);
  CHECK_THROWS_WITH_AS(d.logits(too_long, latent(0)), doctest::Contains("3 positions taken by the latent"),
                       shape_error);
}

TEST_CASE("latent_slots is checked: at least one, and room left for tokens") {
  const auto cfg = model::load_model_config(fx::dir() / "tiny-slots" / "config.json");
  const auto file = io::safetensors_file::open(fx::dir() / "tiny-slots" / "decoder.safetensors");
  CHECK_THROWS_WITH_AS(gpt2_decoder<>(*cfg.decoder, cfg.latent_size, cfg.mode, file, {}, 0),
                       doctest::Contains("latent_slots is 0"), value_error);
  CHECK_THROWS_WITH_AS(gpt2_decoder<>(*cfg.decoder, cfg.latent_size, cfg.mode, file, {}, 48),
                       doctest::Contains("latent_slots is 48"), value_error);
  // a slot count that disagrees with latent_kv's shape names the tensor
  CHECK_THROWS_WITH_AS(gpt2_decoder<>(*cfg.decoder, cfg.latent_size, cfg.mode, file, {}, 2),
                       doctest::Contains("latent_kv.weight"), shape_error);
  auto j = nlohmann::json::parse(std::ifstream(fx::dir() / "tiny-slots" / "config.json"));
  j["latent_slots"] = -2;
  CHECK_THROWS_WITH_AS(model::parse_model_config(j), doctest::Contains("latent_slots"), format_error);
}
