// larimar-recall's options: the help text, the parsing of each value, and the checks across options.
#include "options.hpp"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <set>
#include <sstream>
#include <utility>

#include "commands.hpp"
#include "larimar/eval/ruler.hpp"

namespace recall_tool {

namespace runtime = larimar::runtime;

namespace {

constexpr const char* help_text = R"(larimar-recall - long-context recall with a Larimar episodic memory

Writes a long context (up to millions of tokens) into a sharded memory segment by segment, reads it back with a
query prefix and lets the decoder, conditioned on the read latent, say the passkey or the needle. Runs one task
or a sweep over lengths x depths x seeds x key policies, prints a table like the paper's and writes CSV files and
heatmaps into --out. Segmentation rule, policies and measures: docs/pipeline.md.

Usage: larimar-recall [options]

Task
  --task passkey|needle|ruler:NAME
                            passkey (repeated filler, "The pass key is N. Remember it. N is the pass key.",
                            query "The pass key is"), needle (text files as the haystack), or one of RULER's
                            needle-in-a-haystack tasks: ruler:single_1..3, ruler:multikey_1..3, ruler:multivalue,
                            ruler:multiquery, or ruler:all for the eight (each query is the needle's text up to
                            its value; scores in percent, RULER's string_match_all). Default passkey.
  --digits LIST             passkey digits, comma-separated, each 1..18 (default 3)
  --top-k K                 RULER: entries read per query, their distinct answers joined (default: the task's
                            values per key, 4 for ruler:multivalue, else 1)
  --haystack FILE[,FILE..]  needle task and RULER's essay haystack: text files cycled as the haystack (default: the
                            held-out fortune files
                            science, pets, sports, medicine in /usr/share/games/fortunes, Debian package fortunes)
  --needle TEXT             needle task: the needle (default: "The best thing to do in San Francisco is eat a
                            sandwich and sit in Dolores Park on a sunny day.")
  --query TEXT              needle task: the query prefix (default: "The best thing to do in San Francisco is")
  --answer TEXT             needle task: the expected answer (default: the needle after the query prefix)
  --needles FILE            needle task: a set of needles instead of --needle/--query/--answer, one JSON object
                            per line, {"name", "needle", "query"[, "answer"]}; each gets its own contexts and row
                            (P, when auto, from its own query). tools/recall/needles.jsonl holds twenty (names,
                            dates, instructions, codes, quotes)

Sweep
  --lengths LIST            context lengths in tokens; K = 1000, M = 1000000 (e.g. 4K,32K,137K,1M; default 4K)
  --depths LIST             needle depths in percent, 0..100 (default 50)
  --seeds N                 seeds per (length, depth) (default 1)
  --seed-base S             first seed (default 0)
  --policies LIST           prefix (fixed-key nearest neighbour on prefix encodings), no-prefix (the same on full
                            latents), prefix-encoding (keys::prefix_encoding), tokens (fixed keys, nearest on a
                            hash sketch of the prefix's token ids: exact prefixes match, no encoder pass), or a key
                            token of --memory's grammar (fixed_nearest, prefix_encoding, content; with /prefix,
                            /full or /tokens); default prefix

Memory and models
  --model DIR               model directory (default models/larimar-small)
  --memory SPEC             the memories' layout, solver, storage and precisions as a factory spec
                            (docs/runtime.md), e.g. sharded,iter15_safe,device,fp16; the key policy comes from
                            --policies (default sharded,pinv,host,fp32)
  --random-encoder SEED     use randomly initialised encoder weights (the directory's architecture); implies
                            --memory-only
  --memory-only             read only: no generation (memory-only recall)
  --weights f32|f16|bf16|int8
                            the format the encoder and decoder hold their weight matrices in (int8: quantised
                            per row at load; default: the files')
  --prefix-tokens N|auto    P, tokens of a segment's (and the query's) prefix whose encoding is the lookup vector;
                            auto = the query prefix's token count (default auto)
  --segment-tokens N        token budget per segment (default: the model directory's segment_tokens, else the
                            most the model takes)
  --segment-overlap N       tokens each later piece of a sentence longer than the budget repeats from the piece
                            before, the prompt of its contiguous read (default: the model directory's
                            segment_overlap, else 0)
  --packing greedy|sentence_start|sentence_keys
                            how sentences share segments: greedy packs consecutive sentences while they fit the
                            budget; sentence_start gives every sentence a segment of its own, so a prefix lookup
                            finds a fact that does not begin a paragraph; sentence_keys packs greedily and gives
                            every sentence start inside a segment a lookup row of its entry (prefix and tokens only)
                            (default greedy)
  --continuation-tokens N   an answer that reaches its segment's end mid-sentence continues into the entries
                            written after it for up to N tokens (contiguous reads; 0: off; default 64)
  --slots K                 slots per memory block (default 512)
  --batch N                 segments encoded and written per step (default 256)
  --encoder-cache N         distinct token sequences whose latents are kept (default 131072; 0: encode every
                            segment, as for a context that never repeats itself)

Capacity study (instead of the sweep)
  --capacity                one unsharded memory of K slots holding N distinct prose segments (N/K from
                            --ratios), read at each segment's address: recall = the read is nearest (cosine) to
                            its own latent; the same N in a sharded memory for comparison
  --capacity-slots K        K of the unsharded memory (default 64)
  --ratios LIST             N/K values (default 0.25,0.5,1,2,4,8,16)

Device footprint (instead of the sweep)
  --footprint               bytes the GPU would hold against context length (--lengths), memory on the host vs
                            memory on the device: storage::device's own count of its matrices (the allocations
                            are those of CUDA) plus the models' weights (fp32) and a batch's read latents

Output
  --out DIR                 write trials.csv, summary.csv, table.md and heatmap PNGs (capacity: capacity.csv,
                            capacity.png) into DIR (created)
  --no-progress             no progress bar on stderr
  --verbose                 one line per trial on stdout
  --help                    this text

Exit status: 0 done, 2 bad arguments, 1 an error while running (unreadable or empty files, ...).
)";

// The sweep's named policies: the key token (and lookup vector) each adds to --memory.
constexpr std::pair<std::string_view, std::string_view> named_policies[] = {
    {"prefix", "fixed_nearest/prefix"},
    {"no-prefix", "fixed_nearest/full"},
    {"prefix-encoding", "prefix_encoding/prefix"},
    {"tokens", "fixed_nearest/tokens"}};

std::vector<std::string> split(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

// A named policy, or a key token of the spec grammar (its name in the tables is the token as given).
policy parse_policy(const std::string& p) {
  for (const auto& [name, keys] : named_policies)
    if (p == name) return {p, runtime::parse_memory_spec(keys)};
  try {
    const auto s = runtime::parse_memory_spec(p);
    runtime::memory_spec keys_only;
    keys_only.keys = s.keys;
    keys_only.lookup = s.lookup;
    if (s.keys && s == keys_only) return {p, s};
  } catch (const larimar::value_error&) {
  }
  std::string names;
  for (const auto& [name, keys] : named_policies) names += std::string(name) + ", ";
  throw usage_error("--policies: unknown policy '" + p + "' (" + names + "or a key token: " +
                    runtime::key_choices::list() + ", with /prefix or /full)");
}

std::uint64_t parse_uint(const std::string& opt, const std::string& v, std::uint64_t lo = 0,
                         std::uint64_t hi = ~std::uint64_t{0}) {
  std::size_t used = 0;
  unsigned long long x = 0;
  try {
    if (v.empty() || v[0] == '-' || v[0] == '+') throw std::invalid_argument(v);
    x = std::stoull(v, &used);
  } catch (const std::exception&) {
    throw usage_error(opt + ": '" + v + "' is not a non-negative integer");
  }
  if (used != v.size()) throw usage_error(opt + ": '" + v + "' is not a non-negative integer");
  if (x < lo || x > hi)
    throw usage_error(opt + ": " + v + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

double parse_real(const std::string& opt, const std::string& v, double lo, double hi) {
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    throw usage_error(opt + ": '" + v + "' is not a number");
  }
  if (used != v.size() || !std::isfinite(x)) throw usage_error(opt + ": '" + v + "' is not a number");
  if (x < lo || x > hi) throw usage_error(opt + ": " + v + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

std::size_t parse_length(const std::string& v) {
  std::string digits = v;
  std::uint64_t scale = 1;
  if (!v.empty() && (v.back() == 'K' || v.back() == 'k')) scale = 1000, digits.pop_back();
  else if (!v.empty() && (v.back() == 'M' || v.back() == 'm')) scale = 1000000, digits.pop_back();
  const auto n = parse_uint("--lengths", digits, 1, std::uint64_t{1} << 34) * scale;
  if (n > (std::uint64_t{1} << 34)) throw usage_error("--lengths: " + v + " is too long");
  return static_cast<std::size_t>(n);
}

}  // namespace

std::string length_label(std::size_t n) {
  if (n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n % 1000 == 0) return std::to_string(n / 1000) + "K";
  return std::to_string(n);
}

std::string memory_note(const options& o) {
  return o.memory == runtime::memory_spec{} ? "" : std::string(", memory ").append(runtime::to_string(o.memory));
}

runtime::memory_spec memory_for(const options& o, const runtime::memory_spec& fixed, std::string_view command) {
  const std::string where = "--memory '" + runtime::to_string(o.memory) + "' with " + std::string(command) + " ('" +
                            runtime::to_string(fixed) + "')";
  try {
    const auto s = runtime::merged(o.memory, fixed, where);
    try {
      return runtime::resolved(s);
    } catch (const larimar::value_error& e) {
      throw usage_error(where + ": " + e.what());
    }
  } catch (const larimar::value_error& e) {
    throw usage_error(e.what());
  }
}
runtime::memory_spec memory_for(const options& o, std::string_view fixed, std::string_view command) {
  return memory_for(o, runtime::parse_memory_spec(fixed), command);
}

options parse(int argc, char** argv) {
  options o;
  std::set<std::string> seen;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a.rfind("--", 0) == 0 && a != "--help" && !seen.insert(a).second) throw usage_error(a + " given twice");
    if (a == "--help" || a == "-h") {
      std::cout << help_text;
      std::exit(0);
    } else if (a == "--task") {
      o.task = value();
      if (o.task.rfind("ruler:", 0) == 0) {
        try {
          if (o.task != "ruler:all") larimar::eval::ruler_task(o.task.substr(6));
        } catch (const std::exception& e) {
          throw usage_error(std::string("--task: ") + e.what());
        }
      } else if (o.task != "passkey" && o.task != "needle") {
        throw usage_error("--task: '" + o.task + "' is neither passkey, needle nor ruler:NAME");
      }
    } else if (a == "--digits") {
      o.digits.clear();
      for (const auto& d : split(value())) o.digits.push_back(parse_uint("--digits", d, 1, 18));
      if (o.digits.empty()) throw usage_error("--digits: no value");
    } else if (a == "--haystack") {
      for (const auto& f : split(value())) o.haystack.emplace_back(f);
      if (o.haystack.empty()) throw usage_error("--haystack: no file");
    } else if (a == "--needle") {
      o.needle = value();
    } else if (a == "--query") {
      o.query = value();
    } else if (a == "--answer") {
      o.answer = value();
    } else if (a == "--needles") {
      o.needles = value();
    } else if (a == "--lengths") {
      o.lengths.clear();
      for (const auto& l : split(value())) o.lengths.push_back(parse_length(l));
      if (o.lengths.empty()) throw usage_error("--lengths: no value");
    } else if (a == "--depths") {
      o.depths.clear();
      for (const auto& d : split(value())) o.depths.push_back(parse_real("--depths", d, 0, 100));
      if (o.depths.empty()) throw usage_error("--depths: no value");
    } else if (a == "--seeds") {
      o.seeds = parse_uint(a, value(), 1, 1000000);
    } else if (a == "--seed-base") {
      o.seed_base = parse_uint(a, value());
    } else if (a == "--policies") {
      for (const auto& p : split(value())) o.policies.push_back(parse_policy(p));
      if (o.policies.empty()) throw usage_error("--policies: no value");
    } else if (a == "--memory") {
      const auto v = value();
      try {
        o.memory = runtime::parse_memory_spec(v);
      } catch (const larimar::value_error& e) {
        throw usage_error(std::string("--memory: ") + e.what());
      }
      if (o.memory.keys || o.memory.lookup)
        throw usage_error("--memory: '" + v + "' names a key policy; the key policies come from --policies");
    } else if (a == "--model") {
      o.model = value();
    } else if (a == "--random-encoder") {
      o.random_encoder = parse_uint(a, value());
      o.memory_only = true;
    } else if (a == "--weights") {
      const auto v = value();
      o.load.weights = larimar::model::parse_weight_format(v);
      if (!o.load.weights) throw usage_error("--weights: '" + v + "' is none of f32, f16, bf16, int8");
    } else if (a == "--memory-only") {
      o.memory_only = true;
    } else if (a == "--prefix-tokens") {
      const auto v = value();
      if (v != "auto") o.prefix_tokens = parse_uint(a, v, 1, 4096);
    } else if (a == "--segment-tokens") {
      o.segment_tokens = parse_uint(a, value(), 1, 4096);
    } else if (a == "--segment-overlap") {
      o.segment_overlap = parse_uint(a, value(), 0, 4096);
    } else if (a == "--packing") {
      const auto v = value();
      try {
        o.packing = larimar::pipeline::parse_segment_packing(v);
      } catch (const larimar::value_error& e) {
        throw usage_error(std::string("--packing: ") + e.what());
      }
    } else if (a == "--continuation-tokens") {
      o.continuation_tokens = parse_uint(a, value(), 0, 4096);
    } else if (a == "--slots") {
      o.slots = parse_uint(a, value(), 1, 1 << 16);
    } else if (a == "--top-k") {
      o.top_k = parse_uint(a, value(), 1, 1 << 16);
    } else if (a == "--batch") {
      o.batch = parse_uint(a, value(), 1, 1 << 20);
    } else if (a == "--encoder-cache") {
      o.encoder_cache = parse_uint(a, value(), 0, std::size_t{1} << 30);
    } else if (a == "--capacity") {
      o.capacity = true;
    } else if (a == "--footprint") {
      o.footprint = true;
    } else if (a == "--capacity-slots") {
      o.capacity_slots = parse_uint(a, value(), 1, 1 << 14);
    } else if (a == "--ratios") {
      o.ratios.clear();
      for (const auto& r : split(value())) o.ratios.push_back(parse_real("--ratios", r, 1e-6, 1e6));
      if (o.ratios.empty()) throw usage_error("--ratios: no value");
    } else if (a == "--out") {
      o.out = value();
    } else if (a == "--no-progress") {
      o.progress = false;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else {
      throw usage_error("unknown argument '" + a + "' (see --help)");
    }
  }
  if (o.task == "passkey" && (seen.contains("--haystack") || seen.contains("--needle") || seen.contains("--query") ||
                              seen.contains("--answer") || seen.contains("--needles")))
    throw usage_error("--haystack, --needle, --query, --answer and --needles belong to --task needle");
  if (o.needles && (seen.contains("--needle") || seen.contains("--query") || seen.contains("--answer")))
    throw usage_error("--needles gives each needle its query and answer; drop --needle, --query and --answer");
  if (o.task != "passkey" && seen.contains("--digits")) throw usage_error("--digits belongs to --task passkey");
  if (o.task.rfind("ruler:", 0) == 0 && (seen.contains("--needle") || seen.contains("--query") ||
                                          seen.contains("--answer") || seen.contains("--needles") ||
                                          seen.contains("--depths")))
    throw usage_error(
        "--needle, --query, --answer, --needles and --depths do not apply to RULER's tasks (they draw their own)");
  if (o.task.rfind("ruler:", 0) == 0 && (o.capacity || o.footprint))
    throw usage_error("--capacity and --footprint are studies of their own; drop --task ruler:...");
  if (o.task.rfind("ruler:", 0) != 0 && seen.contains("--top-k")) throw usage_error("--top-k belongs to --task ruler:...");
  if (o.haystack.empty()) {
    const std::filesystem::path dir = "/usr/share/games/fortunes";
    for (const char* f : {"science", "pets", "sports", "medicine"}) o.haystack.push_back(dir / f);
  }
  if (o.policies.empty()) o.policies.push_back(parse_policy("prefix"));
  // Each command's memory specs, resolved now: one that no memory type can have is a usage error.
  if (o.capacity) {
    for (const auto memories : capacity_memories) memory_for(o, memories, "--capacity");
  } else if (o.footprint) {
    memory_for(o, footprint_memory, "--footprint");
  } else {
    for (const auto& p : o.policies) memory_for(o, p.keys, "--policies " + p.name);
  }
  return o;
}

}  // namespace recall_tool
