// larimar-model-eval: how exactly a model says back what it encoded, through the C++ runtime.
//
//   larimar-model-eval --model models/larimar-small --items build/eval/heldout.jsonl [--csv out.csv] [--limit N]
//                      [--weights f32|f16|bf16|int8]   (the weight matrices' format; default: the files')
//                      [--pipeline [--segment-tokens N] [--segment-overlap N]]
//
// Each item (a JSON line: set, text, prompt, score, value?) is encoded to its latent; the decoder, given that
// latent and the prompt, continues greedily. Scores: "exact" (prompt + continuation == text), "value" (the value
// right after the prompt), "number" (the value among the digit runs after the prompt). With --pipeline each item is
// instead written alone into a recall_pipeline's memory, cut as the pipeline cuts text (the model directory's
// segment_tokens and segment_overlap, or the options'), and asked its prompt: the answer is read back through the
// memory and continued across the item's pieces (contiguous reads). The pipeline's answer ends at the first
// sentence end its rule sees ("e.g." is one), so there an exact item also counts when the output is the text's
// start up to one of its sentence ends (how many did is printed). Prints the rate of every set
// and, for the exact sets, the rate by the text's length in words and in tokens (items from
// tools/train/make_eval_items.py).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "larimar/backend/blas_info.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/model/model.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/host.hpp"
#include "larimar/tokenizer/byte_level_bpe.hpp"

namespace {

using larimar::model::token_id;

struct item {
  std::string set, text, prompt, score, value;
};

struct options {
  std::filesystem::path model, items, csv;
  std::size_t limit = 0, batch = 32;
  larimar::model::load_options load;
  bool pipeline = false;
  std::size_t segment_tokens = 0;                // --pipeline: 0, the model directory's (else the most it takes)
  std::optional<std::size_t> segment_overlap;    // --pipeline: unset, the model directory's
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "larimar-model-eval: " << why
            << "\nusage: larimar-model-eval --model DIR --items FILE.jsonl [--csv FILE] [--limit N] [--batch B]"
               " [--weights f32|f16|bf16|int8] [--pipeline [--segment-tokens N] [--segment-overlap N]]\n";
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--model") o.model = next();
    else if (a == "--items") o.items = next();
    else if (a == "--csv") o.csv = next();
    else if (a == "--limit") o.limit = std::stoul(next());
    else if (a == "--batch") o.batch = std::max<std::size_t>(1, std::stoul(next()));
    else if (a == "--weights") {
      const std::string f = next();
      o.load.weights = larimar::model::parse_weight_format(f);
      if (!o.load.weights) usage("--weights must be f32, f16, bf16 or int8, not " + f);
    }
    else if (a == "--pipeline") o.pipeline = true;
    else if (a == "--segment-tokens") o.segment_tokens = std::stoul(next());
    else if (a == "--segment-overlap") o.segment_overlap = std::stoul(next());
    else usage("unknown option " + a);
  }
  if (o.model.empty() || o.items.empty()) usage("--model and --items are required");
  if (!o.pipeline && (o.segment_tokens || o.segment_overlap)) usage("--segment-tokens and --segment-overlap need --pipeline");
  return o;
}

std::vector<item> read_items(const std::filesystem::path& path, std::size_t limit_per_set) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<item> out;
  std::map<std::string, std::size_t> per_set;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    item it{j.at("set"), j.at("text"), j.at("prompt"), j.at("score"), j.value("value", std::string{})};
    if (it.score != "exact" && it.score != "value" && it.score != "number")
      throw std::runtime_error(path.string() + ":" + std::to_string(n) + ": unknown score '" + it.score + "'");
    if (it.text.compare(0, it.prompt.size(), it.prompt) != 0)
      throw std::runtime_error(path.string() + ":" + std::to_string(n) + ": the prompt is not a prefix of the text");
    if (limit_per_set && per_set[it.set]++ >= limit_per_set) continue;
    out.push_back(std::move(it));
  }
  return out;
}

// --pipeline: the output is the text's start, says something after the prompt, and stops where a sentence of the
// text ends.
bool stops_at_sentence_end(const item& it, const std::string& out) {
  return out.size() > it.prompt.size() && out.size() < it.text.size() && it.text.compare(0, out.size(), out) == 0 &&
         larimar::pipeline::ends_sentence(out) && larimar::pipeline::detail::is_space(it.text[out.size()]);
}

bool correct(const item& it, const std::string& out, bool pipeline) {
  if (it.score == "exact") return out == it.text || (pipeline && stops_at_sentence_end(it, out));
  if (out.compare(0, it.prompt.size(), it.prompt) != 0) return false;
  std::string rest = out.substr(it.prompt.size());
  if (it.score == "value") {
    rest.erase(0, rest.find_first_not_of(' '));
    return rest.compare(0, it.value.size(), it.value) == 0;
  }
  // Any maximal run of digits equal to the value counts.
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < rest.size();) {
    if (!digit(rest[i])) { ++i; continue; }
    std::size_t j = i;
    while (j < rest.size() && digit(rest[j])) ++j;
    if (rest.compare(i, j - i, it.value) == 0 && j - i == it.value.size()) return true;
    i = j;
  }
  return false;
}

std::size_t words(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), ' ')) + 1; }

std::string csv_quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// --pipeline: each item written alone into a pipeline's memory and asked its prompt; the prompt + the answer.
std::vector<std::string> pipeline_outputs(const options& o, const std::shared_ptr<const larimar::pipeline::recall_models<>>& models,
                                          const std::vector<item>& items, std::vector<std::size_t>& tokens,
                                          larimar::pipeline::segmenting& cut) {
  namespace lp = larimar::pipeline;
  using memory = larimar::sharded_memory<float, larimar::storage::host, larimar::keys::fixed_nearest,
                                         larimar::solver::pseudoinverse>;
  std::vector<std::string> out(items.size());
  lp::pipeline_options po;
  po.segment_tokens = o.segment_tokens;
  po.segment_overlap = o.segment_overlap;
  po.memory.slots = 16;
  po.memory.seed = 7;
  for (std::size_t i = 0; i < items.size(); ++i) {
    tokens[i] = models->tokenizer().encode(items[i].text).size();
    po.prefix_tokens = models->tokenizer().encode(items[i].prompt).size();
    po.continuation_tokens = tokens[i] + 8;  // as the plain mode's limit: room for the whole item and a little
    lp::recall_pipeline<memory> p(models, po);
    cut = p.options().cut();
    p.write_text(items[i].text);
    out[i] = items[i].prompt + p.ask(items[i].prompt).text;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  const auto o = parse(argc, argv);
  if (const auto note = larimar::backend::blas_info().advice(); !note.empty())
    std::fprintf(stderr, "larimar-model-eval: %s\n", note.c_str());
  namespace m = larimar::model;
  // One load serves both modes: the encoder, the decoder and the tokenizer, as a pipeline takes them.
  const auto models = std::make_shared<const larimar::pipeline::recall_models<>>(
      larimar::pipeline::recall_models<>::load(o.model, o.load));
  const auto& encoder = models->encoder();
  const auto& decoder = models->decoder();
  const auto& bpe = models->tokenizer();
  const auto& ecfg = encoder.config();
  const std::size_t positions = decoder.config().n_positions, C = encoder.latent_size();
  auto required = [&](const std::optional<token_id>& id, const char* name) {
    if (!id) throw std::runtime_error(o.model.string() + "/config.json names no " + name);
    return *id;
  };
  const token_id cls = required(ecfg.cls_token_id, "encoder cls_token_id");
  const token_id sep = required(ecfg.sep_token_id, "encoder sep_token_id");
  const token_id bos = required(decoder.config().bos_token_id, "decoder bos_token_id");
  const auto items = read_items(o.items, o.limit);

  std::vector<std::string> outputs(items.size());
  std::vector<std::size_t> tokens(items.size());
  const auto t0 = std::chrono::steady_clock::now();
  larimar::pipeline::segmenting cut;
  if (o.pipeline) outputs = pipeline_outputs(o, models, items, tokens, cut);
  for (std::size_t b0 = 0; !o.pipeline && b0 < items.size(); b0 += o.batch) {
    const std::size_t b1 = std::min(items.size(), b0 + o.batch);
    std::vector<std::vector<token_id>> enc, prompts;
    std::vector<std::size_t> which;
    for (std::size_t i = b0; i < b1; ++i) {
      auto ids = bpe.encode(items[i].text);
      tokens[i] = ids.size();
      if (ids.size() + 2 > ecfg.max_position_embeddings) {
        outputs[i] = "<longer than the encoder's positions>";
        continue;
      }
      ids.insert(ids.begin(), cls);
      ids.push_back(sep);
      enc.push_back(std::move(ids));
      auto p = bpe.encode(items[i].prompt);
      p.insert(p.begin(), bos);
      prompts.push_back(std::move(p));
      which.push_back(i);
    }
    if (enc.empty()) continue;
    const auto latents = encoder.encode(enc).latent_means();
    // Generation past the decoder's positions is impossible: each prompt gets what is left of them.
    for (std::size_t k = 0; k < which.size(); ++k) {
      m::generation_options g;
      const std::size_t used = prompts[k].size() + decoder.latent_slots();
      g.max_new_tokens = positions > used ? positions - used : 0;
      g.max_new_tokens = std::min<std::size_t>(g.max_new_tokens, tokens[which[k]] + 8);
      const std::span<const float> z(latents.data() + k * C, C);
      if (g.max_new_tokens == 0) {
        outputs[which[k]] = items[which[k]].prompt;
        continue;
      }
      const auto r = decoder.generate(prompts[k], z, g);
      outputs[which[k]] = items[which[k]].prompt + bpe.decode(r.tokens);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::map<std::string, std::pair<std::size_t, std::size_t>> by_set, by_words, by_tokens;
  auto bucket = [](std::size_t n, std::size_t width) {
    const std::size_t lo = (n - 1) / width * width + 1;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%3zu-%3zu", lo, lo + width - 1);
    return std::string(buf);
  };
  for (std::size_t i = 0; i < items.size(); ++i) {
    const bool ok = correct(items[i], outputs[i], o.pipeline);
    auto& s = by_set[items[i].set];
    s.first += ok;
    ++s.second;
    if (items[i].score == "exact" && items[i].set.rfind("words_", 0) == 0) {
      auto& w = by_words[bucket(words(items[i].text), 4)];
      w.first += ok;
      ++w.second;
      auto& t = by_tokens[bucket(tokens[i], 8)];
      t.first += ok;
      ++t.second;
    }
  }
  std::cout << "model " << o.model.string() << ", " << items.size() << " items, " << seconds << " s";
  if (o.pipeline) {
    std::size_t stopped = 0;
    for (std::size_t i = 0; i < items.size(); ++i)
      stopped += items[i].score == "exact" && outputs[i] != items[i].text && stops_at_sentence_end(items[i], outputs[i]);
    std::cout << ", through the pipeline: segments of " << cut.budget << " tokens, pieces repeating " << cut.overlap
              << "; " << stopped << " exact item(s) counted as answered up to a sentence end of theirs";
  }
  std::cout << "\n\n"
            << "| set | items | correct |\n|---|---|---|\n";
  auto rows = [](const auto& table) {
    for (const auto& [k, v] : table)
      std::printf("| %s | %zu | %.3f |\n", k.c_str(), v.second, static_cast<double>(v.first) / v.second);
  };
  rows(by_set);
  std::cout << "\nexact by words (sentence sets)\n\n| words | items | exact |\n|---|---|---|\n";
  rows(by_words);
  std::cout << "\nexact by tokens (this model's tokenizer)\n\n| tokens | items | exact |\n|---|---|---|\n";
  rows(by_tokens);
  if (!o.csv.empty()) {
    std::ofstream csv(o.csv);
    csv << "set,words,tokens,correct,text,output\n";
    for (std::size_t i = 0; i < items.size(); ++i)
      csv << items[i].set << ',' << words(items[i].text) << ',' << tokens[i] << ',' << correct(items[i], outputs[i], o.pipeline)
          << ',' << csv_quote(items[i].text) << ',' << csv_quote(outputs[i]) << '\n';
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "larimar-model-eval: " << e.what() << "\n";
  return 1;
}
