// larimar-recall: long-context recall with a Larimar memory, one task or a sweep over lengths × depths × seeds ×
// key policies; prints a table shaped like the paper's and writes CSV files and heatmaps (PNG). --capacity runs the
// superposition study instead. `larimar-recall --help` documents every option (docs/pipeline.md).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/nearest_index.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"
#include "png.hpp"

namespace {

using namespace larimar;
using namespace larimar::pipeline;
using recall_tool::canvas;
using bpe = tokenizer::byte_level_bpe;
using models_t = recall_models<>;

constexpr const char* help_text = R"(larimar-recall - long-context recall with a Larimar episodic memory

Writes a long context (up to millions of tokens) into a sharded memory segment by segment, reads it back with a
query prefix and lets the decoder, conditioned on the read latent, say the passkey or the needle. Runs one task
or a sweep over lengths x depths x seeds x key policies, prints a table like the paper's and writes CSV files and
heatmaps into --out. Segmentation rule, policies and measures: docs/pipeline.md.

Usage: larimar-recall [options]

Task
  --task passkey|needle     passkey (repeated filler, "The pass key is N. Remember it. N is the pass key.",
                            query "The pass key is") or needle (text files as the haystack). Default passkey.
  --digits LIST             passkey digits, comma-separated, each 1..18 (default 3)
  --haystack FILE[,FILE..]  needle task: text files cycled as the haystack (default: the held-out fortune files
                            science, pets, sports, medicine in /usr/share/games/fortunes, Debian package fortunes)
  --needle TEXT             needle task: the needle (default: "The best thing to do in San Francisco is eat a
                            sandwich and sit in Dolores Park on a sunny day.")
  --query TEXT              needle task: the query prefix (default: "The best thing to do in San Francisco is")
  --answer TEXT             needle task: the expected answer (default: the needle after the query prefix)

Sweep
  --lengths LIST            context lengths in tokens; K = 1000, M = 1000000 (e.g. 4K,32K,137K,1M; default 4K)
  --depths LIST             needle depths in percent, 0..100 (default 50)
  --seeds N                 seeds per (length, depth) (default 1)
  --seed-base S             first seed (default 0)
  --policies LIST           prefix (fixed-key nearest neighbour on prefix encodings), no-prefix (the same on full
                            latents), prefix-encoding (keys::prefix_encoding); default prefix

Memory and models
  --model DIR               model directory (default models/larimar-tiny)
  --random-encoder SEED     use randomly initialised encoder weights (the directory's architecture); implies
                            --memory-only
  --memory-only             read only: no generation (memory-only recall)
  --prefix-tokens N|auto    P, tokens of a segment's (and the query's) prefix whose encoding is the lookup vector;
                            auto = the query prefix's token count (default auto)
  --segment-tokens N        token budget per segment (default: the most the model takes)
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

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- options ----------------------------------------------------------------------------------------------

struct options {
  std::string task = "passkey";
  std::vector<std::size_t> digits = {3};
  std::vector<std::filesystem::path> haystack;
  std::string needle = std::string(sf_needle), query = std::string(sf_query);
  std::optional<std::string> answer;
  std::vector<std::size_t> lengths = {4000};
  std::vector<double> depths = {50};
  std::size_t seeds = 1;
  std::uint64_t seed_base = 0;
  std::vector<std::string> policies = {"prefix"};
  std::filesystem::path model = "models/larimar-tiny";
  std::optional<std::uint64_t> random_encoder;
  bool memory_only = false;
  std::optional<std::size_t> prefix_tokens;  // nullopt: auto
  std::size_t segment_tokens = 0, slots = 512, batch = 256, encoder_cache = std::size_t{1} << 17;
  bool capacity = false, footprint = false;
  std::size_t capacity_slots = 64;
  std::vector<double> ratios = {0.25, 0.5, 1, 2, 4, 8, 16};
  std::optional<std::filesystem::path> out;
  bool progress = true, verbose = false;
};

std::vector<std::string> split(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
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

std::string length_label(std::size_t n) {
  if (n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n % 1000 == 0) return std::to_string(n / 1000) + "K";
  return std::to_string(n);
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
      if (o.task != "passkey" && o.task != "needle") throw usage_error("--task: '" + o.task + "' is neither passkey nor needle");
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
      o.policies = split(value());
      if (o.policies.empty()) throw usage_error("--policies: no value");
      for (const auto& p : o.policies)
        if (p != "prefix" && p != "no-prefix" && p != "prefix-encoding")
          throw usage_error("--policies: unknown policy '" + p + "' (prefix, no-prefix, prefix-encoding)");
    } else if (a == "--model") {
      o.model = value();
    } else if (a == "--random-encoder") {
      o.random_encoder = parse_uint(a, value());
      o.memory_only = true;
    } else if (a == "--memory-only") {
      o.memory_only = true;
    } else if (a == "--prefix-tokens") {
      const auto v = value();
      if (v != "auto") o.prefix_tokens = parse_uint(a, v, 1, 4096);
    } else if (a == "--segment-tokens") {
      o.segment_tokens = parse_uint(a, value(), 1, 4096);
    } else if (a == "--slots") {
      o.slots = parse_uint(a, value(), 1, 1 << 16);
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
                              seen.contains("--answer")))
    throw usage_error("--haystack, --needle, --query and --answer belong to --task needle");
  if (o.task == "needle" && seen.contains("--digits")) throw usage_error("--digits belongs to --task passkey");
  if (o.haystack.empty()) {
    const std::filesystem::path dir = "/usr/share/games/fortunes";
    for (const char* f : {"science", "pets", "sports", "medicine"}) o.haystack.push_back(dir / f);
  }
  return o;
}

// ---- the policies, behind one interface --------------------------------------------------------------------

using fixed_memory = sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
using encoded_memory = sharded_memory<float, storage::host, keys::prefix_encoding, solver::pseudoinverse>;

struct runner {
  std::string name;
  virtual ~runner() = default;
  virtual void clear() = 0;
  virtual std::vector<std::size_t> write(std::span<const segment> batch) = 0;
  virtual std::pair<std::vector<float>, hit<float>> read(const std::string& query) = 0;
  virtual std::vector<model::generation> generate(const std::string& query, std::span<const float> latent) = 0;
  virtual std::vector<float> written_latent(std::size_t entry) const = 0;
  virtual stage_timings timings() const = 0;
  virtual std::size_t segments() const = 0;
  virtual std::size_t budget() const = 0;
};

template <class Memory>
struct runner_of final : runner {
  recall_pipeline<Memory> p;
  runner_of(std::string n, std::shared_ptr<const models_t> m, pipeline_options o) : p(std::move(m), o) { name = std::move(n); }
  void clear() override { p.clear(); }
  std::vector<std::size_t> write(std::span<const segment> batch) override { return p.write_segments(batch); }
  std::pair<std::vector<float>, hit<float>> read(const std::string& query) override {
    const std::vector<std::string> q{query};
    auto r = p.read(q);
    return {std::move(r.latents), r.hits[0]};
  }
  std::vector<model::generation> generate(const std::string& query, std::span<const float> latent) override {
    const std::vector<std::string> q{query};
    return p.generate(q, latent);
  }
  std::vector<float> written_latent(std::size_t entry) const override {
    const auto z = p.memory().entry(entry).second;
    return std::vector<float>(z.begin(), z.end());
  }
  stage_timings timings() const override { return p.timings(); }
  std::size_t segments() const override { return p.segments(); }
  std::size_t budget() const override { return p.options().segment_tokens; }
};

std::unique_ptr<runner> make_runner(const std::string& policy, std::shared_ptr<const models_t> m, pipeline_options o) {
  if (policy == "prefix") return std::make_unique<runner_of<fixed_memory>>(policy, std::move(m), o);
  if (policy == "no-prefix") {
    o.lookup = lookup_kind::full;
    return std::make_unique<runner_of<fixed_memory>>(policy, std::move(m), o);
  }
  return std::make_unique<runner_of<encoded_memory>>(policy, std::move(m), o);
}

// ---- helpers -------------------------------------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}
std::string clock_text(double s) {
  const long t = std::lround(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}
std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += "\"\"";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "\"";
}

class progress_bar {
 public:
  progress_bar(std::size_t total, bool on) : total_(total), on_(on), tty_(isatty(2) != 0) {}
  void update(std::size_t done) {
    if (!on_) return;
    const double el = seconds_since(t0_);
    const double left = done ? el / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
    const int width = 30, fill = static_cast<int>(width * done / std::max<std::size_t>(total_, 1));
    if (!tty_ && done != total_ && done * 10 / total_ == last_ * 10 / total_) return;
    last_ = done;
    std::fprintf(stderr, "%s[%s%s] %zu/%zu  elapsed %s  remaining %s%s", tty_ ? "\r" : "",
                 std::string(static_cast<std::size_t>(fill), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - fill), '.').c_str(), done, total_,
                 clock_text(el).c_str(), clock_text(left).c_str(), tty_ && done != total_ ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  std::size_t total_, last_ = 0;
  bool on_, tty_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// Every (seed, length, depth) draws its own passkey and haystack start, so a cell averages over as many distinct
// keys as trials; the same three give the same context in every run.
std::uint64_t trial_seed(std::uint64_t seed, std::size_t length, double depth) {
  splitmix64 mix(seed * 0x9e3779b97f4a7c15ULL ^ (static_cast<std::uint64_t>(length) << 20) ^
                 static_cast<std::uint64_t>(std::llround(depth * 1000)));
  return mix.next();
}

// ---- the sweep ----------------------------------------------------------------------------------------------

struct trial {
  std::string task, policy;
  std::size_t length = 0, tokens = 0, segments = 0;
  double depth = 0, actual_depth = 0;
  std::uint64_t seed = 0;
  std::string truth, generated;
  bool memory_hit = false, entry_hit = false, e2e = false;
  double score = 0, error = 0;
  stage_timings time;
  double peak_mb = 0;
};

struct cell_key {
  std::string task, policy;
  std::size_t length;
  double depth;
  auto operator<=>(const cell_key&) const = default;
};
struct tally {
  std::size_t n = 0, mem = 0, e2e = 0;
  double segment = 0, encode = 0, write = 0, read = 0, decode = 0, peak = 0, tokens = 0;
  void add(const trial& t) {
    ++n;
    mem += t.memory_hit;
    e2e += t.e2e;
    segment += t.time.segment, encode += t.time.encode, write += t.time.write, read += t.time.read,
        decode += t.time.decode;
    peak = std::max(peak, t.peak_mb);
    tokens += static_cast<double>(t.tokens);
  }
};

void heatmap(const std::filesystem::path& path, const std::string& title, const std::vector<std::size_t>& lengths,
             const std::vector<double>& depths, const std::map<std::pair<std::size_t, double>, double>& value) {
  const int cw = 80, ch = 40, left = 90, top = 50, bottom = 60;
  canvas c(left + cw * static_cast<int>(lengths.size()) + 20, top + ch * static_cast<int>(depths.size()) + bottom);
  c.text(10, 12, title, recall_tool::black, 2);
  for (std::size_t j = 0; j < depths.size(); ++j) {
    const int y = top + ch * static_cast<int>(j);
    char lab[16];
    std::snprintf(lab, sizeof lab, "%g%%", depths[j]);
    c.text(left - 10 - canvas::text_width(lab), y + ch / 2 - 5, lab, recall_tool::black);
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      const int x = left + cw * static_cast<int>(i);
      const auto it = value.find({lengths[i], depths[j]});
      if (it == value.end()) continue;
      c.rect(x, y, cw - 2, ch - 2, recall_tool::heat(it->second));
      char v[16];
      std::snprintf(v, sizeof v, "%.2f", it->second);
      c.text(x + (cw - canvas::text_width(v)) / 2, y + ch / 2 - 5, v, recall_tool::black);
    }
  }
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    const auto lab = length_label(lengths[i]);
    c.text(left + cw * static_cast<int>(i) + (cw - canvas::text_width(lab)) / 2, top + ch * static_cast<int>(depths.size()) + 8,
           lab, recall_tool::black);
  }
  c.text(left, top + ch * static_cast<int>(depths.size()) + 34, "CONTEXT TOKENS", recall_tool::dark);
  c.text(10, top - 18, "DEPTH", recall_tool::dark);
  c.save_png(path);
}

std::shared_ptr<const models_t> load_models(const options& o) {
  auto m = std::make_shared<models_t>(o.random_encoder ? models_t::load_random_encoder(o.model, *o.random_encoder)
                                                       : models_t::load(o.model));
  m->set_cache_limit(o.encoder_cache);
  return m;
}

// The pipeline's options from the command line's; P (auto) is the token count of the task's query prefix.
pipeline_options pipeline_options_of(const options& o, const models_t& models, const std::string& query) {
  pipeline_options po;
  po.prefix_tokens = o.prefix_tokens ? *o.prefix_tokens : models.tokenizer().encode(query).size();
  po.segment_tokens = o.segment_tokens;
  po.batch = o.batch;
  po.memory.slots = o.slots;
  po.memory.seed = 7;
  return po;
}

int sweep(const options& o) {
  const auto t_load = std::chrono::steady_clock::now();
  const auto models = load_models(o);
  if (!o.memory_only && !models->has_decoder())
    throw state_error("the model directory '" + o.model.string() + "' has no decoder; use --memory-only");
  const double load_s = seconds_since(t_load);

  // The tasks (one per digit count, or the needle); their query decides P when --prefix-tokens is auto.
  std::vector<std::string> kinds;
  if (o.task == "passkey")
    for (const auto d : o.digits) kinds.push_back("passkey-" + std::to_string(d));
  else
    kinds.push_back("needle");
  const auto make_task = [&](const std::string& kind, std::size_t len, double depth, std::uint64_t seed) {
    if (kind == "needle") return needle_task(o.haystack, o.needle, o.query, len, depth / 100.0, seed, o.answer);
    return passkey_task(std::stoul(kind.substr(8)), len, depth / 100.0, seed);
  };
  const auto probe = make_task(kinds.front(), 1000, 50, 0);
  if (o.task == "needle") text_file_source(o.haystack, 0);  // unreadable or empty files fail here, named
  const auto po = pipeline_options_of(o, *models, probe.query);
  std::vector<std::unique_ptr<runner>> runners;
  for (const auto& p : o.policies) runners.push_back(make_runner(p, models, po));
  const std::size_t budget = runners.front()->budget();

  std::printf("larimar-recall: model %s%s, latent %zu, segment budget %zu tokens, prefix P = %zu tokens, K = %zu "
              "slots/block, %s; models loaded in %.2f s\n",
              o.model.string().c_str(), o.random_encoder ? " (random encoder)" : "", models->latent_size(), budget,
              po.prefix_tokens, o.slots, o.memory_only ? "memory-only" : "end to end", load_s);

  std::optional<std::ofstream> csv;
  if (o.out) {
    std::filesystem::create_directories(*o.out);
    csv.emplace(*o.out / "trials.csv");
    if (!*csv) throw io_error("cannot write '" + (*o.out / "trials.csv").string() + "'");
    *csv << "task,policy,length,tokens,segments,depth,actual_depth,seed,truth,memory_hit,entry_hit,score,read_error,e2e,"
            "generated,segment_s,encode_s,write_s,read_s,decode_s,peak_rss_mb\n";
  }

  const std::size_t total = kinds.size() * o.lengths.size() * o.depths.size() * o.seeds;
  progress_bar bar(total, o.progress);
  std::map<cell_key, tally> cells;
  std::size_t done = 0;
  bar.update(0);
  std::vector<segment> batch;
  for (const auto& kind : kinds)
    for (const auto len : o.lengths)
      for (const auto depth : o.depths)
        for (std::size_t s = 0; s < o.seeds; ++s) {
          const std::uint64_t seed = o.seed_base + s;
          const auto task = make_task(kind, len, depth, trial_seed(seed, len, depth));
          for (auto& r : runners) r->clear();
          context_stream<bpe> stream(task, models->tokenizer(), budget);
          std::vector<std::vector<std::size_t>> needles(runners.size());
          double segment_s = 0;
          for (bool more = true; more;) {
            const auto t0 = std::chrono::steady_clock::now();
            batch.clear();
            while (batch.size() < o.batch)
              if (auto seg = stream.next()) batch.push_back(std::move(*seg));
              else break;
            more = batch.size() == o.batch;
            segment_s += seconds_since(t0);
            for (std::size_t k = 0; k < runners.size(); ++k) {
              const auto ids = runners[k]->write(batch);
              for (std::size_t i = 0; i < batch.size(); ++i)
                if (batch[i].needle) needles[k].push_back(ids[i]);
            }
          }
          for (std::size_t k = 0; k < runners.size(); ++k) {
            auto& r = *runners[k];
            trial t;
            t.task = kind;
            t.policy = r.name;
            t.length = len;
            t.tokens = stream.tokens();
            t.segments = r.segments();
            t.depth = depth;
            t.actual_depth = stream.actual_depth() * 100;
            t.seed = seed;
            t.truth = task.answer;
            const auto [latent, h] = r.read(task.query);
            const auto truth = r.written_latent(needles[k].at(0));
            t.score = h.score;
            t.error = latent_error(latent, truth);
            t.entry_hit = h.entry == needles[k][0];
            t.memory_hit = t.entry_hit && t.error <= 1e-3;
            if (!o.memory_only) {
              const auto g = r.generate(task.query, latent);
              t.generated = models->tokenizer().decode(g[0].tokens);
              t.e2e = is_correct(task, t.generated);
            }
            t.time = r.timings();
            t.time.segment = segment_s;
            t.peak_mb = peak_rss_mb();
            cells[{kind, r.name, len, depth}].add(t);
            if (o.verbose)
              std::printf("%s %s len %zu (%zu tokens, %zu segments) depth %.0f%% seed %llu: hit %d err %.1e%s%s\n",
                          kind.c_str(), r.name.c_str(), len, t.tokens, t.segments, t.depth,
                          static_cast<unsigned long long>(seed), t.memory_hit, t.error,
                          o.memory_only ? "" : (" -> '" + t.generated + "' truth " + t.truth).c_str(),
                          o.memory_only ? "" : (t.e2e ? " correct" : " wrong"));
            if (csv)
              *csv << kind << ',' << r.name << ',' << len << ',' << t.tokens << ',' << t.segments << ',' << t.depth
                   << ',' << t.actual_depth << ',' << seed << ',' << csv_quote(t.truth) << ',' << t.memory_hit << ','
                   << t.entry_hit << ',' << t.score << ',' << t.error << ',' << (o.memory_only ? std::string("") : std::to_string(t.e2e))
                   << ',' << csv_quote(t.generated) << ',' << t.time.segment << ',' << t.time.encode << ','
                   << t.time.write << ',' << t.time.read << ',' << t.time.decode << ',' << t.peak_mb << '\n';
          }
          bar.update(++done);
        }

  // The table: one row per task × policy, one column per length; each cell averages over depths and seeds.
  std::ostringstream table;
  table << "| task | policy |";
  for (const auto len : o.lengths) table << ' ' << length_label(len) << " |";
  table << "\n|---|---|";
  for (std::size_t i = 0; i < o.lengths.size(); ++i) table << "---|";
  table << '\n';
  std::map<std::tuple<std::string, std::string, std::size_t>, tally> by_length;
  for (const auto& [k, v] : cells) {
    auto& t = by_length[{k.task, k.policy, k.length}];
    t.n += v.n, t.mem += v.mem, t.e2e += v.e2e;
    t.segment += v.segment, t.encode += v.encode, t.write += v.write, t.read += v.read, t.decode += v.decode;
    t.peak = std::max(t.peak, v.peak);
    t.tokens += v.tokens;
  }
  for (const auto& kind : kinds)
    for (const auto& p : o.policies) {
      table << "| " << kind << " | " << p << " |";
      for (const auto len : o.lengths) {
        const auto& t = by_length[{kind, p, len}];
        char buf[64];
        if (o.memory_only)
          std::snprintf(buf, sizeof buf, " %.2f |", double(t.mem) / double(t.n));
        else
          std::snprintf(buf, sizeof buf, " %.2f / %.2f |", double(t.mem) / double(t.n), double(t.e2e) / double(t.n));
        table << buf;
      }
      table << '\n';
    }
  std::printf("\n%s recall (%s), each cell averaged over %zu depth(s) x %zu seed(s):\n\n%s\n",
              o.memory_only ? "memory-only" : "memory-only / end-to-end exact", kinds.front().c_str(),
              o.depths.size(), o.seeds, table.str().c_str());
  std::printf("time per context (mean over trials; s) and peak RSS of this process (MB):\n\n"
              "| task | policy | length | tokens | segment | encode | write | read | decode | total | peak RSS |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::ostringstream times;
  for (const auto& [k, t] : by_length) {
    const double n = static_cast<double>(t.n);
    char buf[256];
    std::snprintf(buf, sizeof buf, "| %s | %s | %s | %.0f | %.3f | %.3f | %.3f | %.4f | %.3f | %.3f | %.0f |\n",
                  std::get<0>(k).c_str(), std::get<1>(k).c_str(), length_label(std::get<2>(k)).c_str(), t.tokens / n,
                  t.segment / n, t.encode / n, t.write / n, t.read / n, t.decode / n,
                  (t.segment + t.encode + t.write + t.read + t.decode) / n, t.peak);
    times << buf;
  }
  std::printf("%s", times.str().c_str());
  std::printf("\nencoder cache: %zu distinct token sequences encoded, %zu reused\n", models->cache_misses(),
              models->cache_hits());

  if (o.out) {
    std::ofstream md(*o.out / "table.md");
    md << table.str() << '\n' << times.str();
    std::ofstream sum(*o.out / "summary.csv");
    sum << "task,policy,length,depth,trials,memory_recall,e2e_recall,segment_s,encode_s,write_s,read_s,decode_s,"
           "peak_rss_mb\n";
    for (const auto& [k, t] : cells) {
      const double n = static_cast<double>(t.n);
      sum << k.task << ',' << k.policy << ',' << k.length << ',' << k.depth << ',' << t.n << ',' << t.mem / n << ','
          << (o.memory_only ? std::string("") : std::to_string(t.e2e / n)) << ',' << t.segment / n << ','
          << t.encode / n << ',' << t.write / n << ',' << t.read / n << ',' << t.decode / n << ',' << t.peak << '\n';
    }
    for (const auto& kind : kinds)
      for (const auto& p : o.policies)
        for (const bool e2e : {false, true}) {
          if (e2e && o.memory_only) continue;
          std::map<std::pair<std::size_t, double>, double> v;
          for (const auto& [k, t] : cells)
            if (k.task == kind && k.policy == p)
              v[{k.length, k.depth}] = double(e2e ? t.e2e : t.mem) / double(t.n);
          const std::string metric = e2e ? "e2e" : "memory";
          heatmap(*o.out / ("heatmap-" + kind + "-" + p + "-" + metric + ".png"),
                  kind + " " + p + " " + (e2e ? "END TO END" : "MEMORY-ONLY") + " RECALL", o.lengths, o.depths, v);
        }
    std::printf("wrote %s/{trials.csv,summary.csv,table.md,heatmap-*.png}\n", o.out->string().c_str());
  }
  return 0;
}

// ---- line charts (capacity, footprint) -------------------------------------------------------------------------

struct chart_series {
  std::string name;
  recall_tool::rgb color;
  std::vector<double> y;
};
const recall_tool::rgb red_line{210, 40, 40}, blue_line{40, 80, 210};

// x on a log2 axis (one labelled tick per point), y from 0 to `top` (five grid lines labelled with `yfmt`); each
// series a polyline with markers, named in its colour at the top or the bottom left of the plot.
void save_line_chart(const std::filesystem::path& path, const std::string& title, const std::string& xlabel,
                     const std::vector<double>& xs, const std::vector<std::string>& xlabels, double top,
                     const char* yfmt, const std::vector<chart_series>& series, bool legend_top) {
  const int W = 640, H = 400, L = 80, R = 30, T = 50, B = 60;
  canvas c(W, H);
  c.text(10, 12, title, recall_tool::black);
  const double x0 = std::log2(xs.front()), x1 = std::log2(xs.back());
  const auto px = [&](double x) { return L + static_cast<int>((std::log2(x) - x0) / std::max(x1 - x0, 1e-9) * (W - L - R)); };
  const auto py = [&](double v) { return T + static_cast<int>((1 - v / top) * (H - T - B)); };
  for (int k = 0; k <= 4; ++k) {
    const double v = top * k / 4;
    c.line(L, py(v), W - R, py(v), recall_tool::grey);
    char lab[16];
    std::snprintf(lab, sizeof lab, yfmt, v);
    c.text(L - 8 - canvas::text_width(lab), py(v) - 5, lab, recall_tool::black);
  }
  for (std::size_t i = 0; i < xs.size(); ++i) {
    c.line(px(xs[i]), T, px(xs[i]), H - B, recall_tool::grey);
    c.text(px(xs[i]) - canvas::text_width(xlabels[i]) / 2, H - B + 8, xlabels[i], recall_tool::black);
  }
  c.line(L, H - B, W - R, H - B, recall_tool::black, 2);
  c.line(L, T, L, H - B, recall_tool::black, 2);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    for (std::size_t i = 0; i < xs.size(); ++i) {
      c.rect(px(xs[i]) - 4, py(s.y[i]) - 4, 9, 9, s.color);
      if (i) c.line(px(xs[i - 1]), py(s.y[i - 1]), px(xs[i]), py(s.y[i]), s.color, 3);
    }
    const int row = static_cast<int>(k) * 18;
    c.text(L + 20, legend_top ? T + 10 + row : H - B - 44 + row, s.name, s.color);
  }
  c.text(L, H - 24, xlabel, recall_tool::dark);
  c.save_png(path);
}

// ---- the capacity study ---------------------------------------------------------------------------------------

int capacity(const options& o) {
  const auto models = load_models(o);
  const bool e2e = !o.memory_only && models->has_decoder();
  const std::size_t K = o.capacity_slots, C = models->latent_size();
  std::size_t n_max = 0;
  for (const double r : o.ratios) n_max = std::max(n_max, static_cast<std::size_t>(std::llround(r * double(K))));
  // Distinct prose segments, in haystack order.
  const std::size_t budget = o.segment_tokens ? o.segment_tokens : std::min<std::size_t>(models->max_segment_tokens(), 40);
  std::vector<segment> segs;
  {
    text_file_source src(o.haystack, 0);
    segmenter<bpe> seg(models->tokenizer(), budget);
    std::set<std::vector<model::token_id>> seen;
    for (std::size_t guard = 0; segs.size() < n_max && guard < 50 * n_max + 100000; ++guard) {
      seg.add(*src.next());
      while (auto s = seg.take())
        if (s->ids.size() >= 4 && seen.insert(s->ids).second && segs.size() < n_max) segs.push_back(std::move(*s));
    }
    if (segs.size() < n_max)
      throw value_error("the haystack has only " + std::to_string(segs.size()) + " distinct segments of 4+ tokens; " +
                        "the largest ratio needs " + std::to_string(n_max));
  }
  std::vector<std::vector<model::token_id>> ids;
  for (const auto& s : segs) ids.push_back(s.ids);
  const auto z = models->latents(ids);

  std::printf("capacity study: K = %zu slots, C = %zu, %zu distinct prose segments (budget %zu tokens)%s\n\n", K, C,
              segs.size(), budget, e2e ? "; end to end: greedy reconstruction from the read latent equals the one "
                                         "from the written latent (BOS prompt, up to 100 segments)" : "");
  std::printf("| N/K | N | recall, one memory | read rel. error | recall, sharded | %s\n|---|---|---|---|---|%s\n",
              e2e ? "same generation, one memory | same generation, sharded |" : "", e2e ? "---|---|" : "");
  std::optional<std::ofstream> csv;
  if (o.out) {
    std::filesystem::create_directories(*o.out);
    csv.emplace(*o.out / "capacity.csv");
    *csv << "ratio,n,k,recall_single,rel_error_single,recall_sharded,same_generation_single,same_generation_sharded\n";
  }
  struct point {
    double ratio, single, sharded;
  };
  std::vector<point> points;
  for (const double ratio : o.ratios) {
    const std::size_t n = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(ratio * double(K))));
    const matrix_ref<const float> zn(z.data(), n, C);
    memory_config cfg{.slots = K, .code_size = C, .seed = 7};
    cfg.keys = key_basis::gaussian;
    cfg.addresses = std::max(n, K);
    memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse> one(cfg);
    const auto ids1 = one.write(zn, zn);
    const auto r1 = one.read_entries(ids1);
    memory_config scfg{.slots = K, .code_size = C, .seed = 7};
    fixed_memory sharded(scfg);
    const auto ids2 = sharded.write(zn, zn);
    const auto r2 = sharded.read_entries(ids2);
    // Recall: each read's nearest written latent by cosine (the memory's own exact index over the n latents).
    nearest_index<float, storage::host> written(C);
    written.add(z.data(), n);
    const auto near1 = written.search(r1.data(), n), near2 = written.search(r2.data(), n);
    std::size_t ok1 = 0, ok2 = 0;
    double err = 0;
    for (std::size_t i = 0; i < n; ++i) {
      ok1 += near1[i].position == i;
      ok2 += near2[i].position == i;
      err += latent_error(std::span<const float>(r1.data() + i * C, C), std::span<const float>(z.data() + i * C, C));
    }
    double same1 = 0, same2 = 0;
    if (e2e) {
      const std::size_t m = std::min<std::size_t>(n, 100);
      std::vector<std::vector<model::token_id>> prompts(m, std::vector<model::token_id>{
          models->decoder().config().bos_token_id.value_or(0)});
      model::generation_options g;
      g.max_new_tokens = budget;
      const auto ref = models->decoder().generate(prompts, std::span<const float>(z.data(), m * C), g);
      const auto g1 = models->decoder().generate(prompts, std::span<const float>(r1.data(), m * C), g);
      const auto g2 = models->decoder().generate(prompts, std::span<const float>(r2.data(), m * C), g);
      for (std::size_t i = 0; i < m; ++i) same1 += g1[i].tokens == ref[i].tokens, same2 += g2[i].tokens == ref[i].tokens;
      same1 /= double(m), same2 /= double(m);
    }
    const double rec1 = double(ok1) / double(n), rec2 = double(ok2) / double(n);
    points.push_back({ratio, rec1, rec2});
    std::printf("| %g | %zu | %.3f | %.2e | %.3f |", ratio, n, rec1, err / double(n), rec2);
    if (e2e) std::printf(" %.2f | %.2f |", same1, same2);
    std::printf("\n");
    if (csv)
      *csv << ratio << ',' << n << ',' << K << ',' << rec1 << ',' << err / double(n) << ',' << rec2 << ','
           << (e2e ? std::to_string(same1) : "") << ',' << (e2e ? std::to_string(same2) : "") << '\n';
  }
  if (o.out) {
    // recall against log2(N/K): the unsharded memory in red, the sharded one in blue.
    std::vector<double> xs, single, sharded;
    std::vector<std::string> labels;
    for (const auto& p : points) {
      xs.push_back(p.ratio), single.push_back(p.single), sharded.push_back(p.sharded);
      char lab[16];
      std::snprintf(lab, sizeof lab, "%g", p.ratio);
      labels.emplace_back(lab);
    }
    save_line_chart(*o.out / "capacity.png", "RECALL VS N/K (K=" + std::to_string(K) + ")", "N/K (SEGMENTS PER SLOT)",
                    xs, labels, 1.0, "%.2f",
                    {{"SHARDED (BLOCKS OF K SLOTS)", blue_line, sharded}, {"ONE MEMORY OF K SLOTS", red_line, single}},
                    false);
    std::printf("\nwrote %s/{capacity.csv,capacity.png}\n", o.out->string().c_str());
  }
  return 0;
}

// ---- the device footprint ------------------------------------------------------------------------------------
// The paper's trade-off: with the memory on the host, the GPU holds the models and a batch's read latents whatever
// the context's length; with the memory on the device it also holds the memory, which grows with the context.
// storage::device counts the bytes its matrices hold (device_memory::in_use(): the same matrices on thrust's
// OpenMP system here as on CUDA; thrust's short-lived scratch inside one operation is not counted). One passkey
// context per length, prefix lookup, K = --slots per block; --memory-only is implied (the decoder's KV cache is a
// per-batch cost: batch × positions × layers × 2 × d floats).
int footprint(const options& o) {
  using device_memory_t = sharded_memory<float, storage::device, keys::fixed_nearest, solver::pseudoinverse>;
  const auto models = load_models(o);
  std::size_t weight_bytes = 0;
  for (const char* f : {"encoder.safetensors", "decoder.safetensors"})
    if (std::filesystem::exists(o.model / f)) {
      const auto file = io::safetensors_file::open(o.model / f);
      for (const auto& name : file.names()) weight_bytes += file.at(name).numel() * sizeof(float);
    }
  const auto po = pipeline_options_of(o, *models, passkey_task(3, 1000, 0.5, 0).query);
  const std::size_t queries = 64, C = models->latent_size();
  const double MB = 1e6;
  std::printf("device footprint: model %s (weights as fp32 on the GPU: %.1f MB), K = %zu slots/block, C = %zu; "
              "read latents for %zu queries: %.2f MB\n\n",
              o.model.string().c_str(), weight_bytes / MB, o.slots, C, queries, queries * C * sizeof(float) / MB);
  std::printf("| context tokens | segments | memory (bytes held) | GPU, memory on the host | GPU, memory on the device |"
              " peak RSS |\n|---|---|---|---|---|---|\n");
  std::optional<std::ofstream> csv;
  if (o.out) {
    std::filesystem::create_directories(*o.out);
    csv.emplace(*o.out / "footprint.csv");
    if (!*csv) throw io_error("cannot write '" + (*o.out / "footprint.csv").string() + "'");
    *csv << "length,tokens,segments,memory_bytes,gpu_bytes_memory_on_host,gpu_bytes_memory_on_device\n";
  }
  struct point {
    double tokens, host, device;
  };
  std::vector<point> points;
  for (const auto len : o.lengths) {
    const auto base = storage::device_memory::in_use();
    std::size_t held = 0, tokens = 0, segments = 0;
    {
      recall_pipeline<device_memory_t> p(models, po);
      const auto task = passkey_task(3, len, 0.5, 1);
      context_stream<bpe> cs(task, models->tokenizer(), p.options().segment_tokens);
      p.write(cs);
      held = storage::device_memory::in_use() - base;
      tokens = p.tokens(), segments = p.segments();
    }
    const std::size_t read = queries * C * sizeof(float);
    const std::size_t on_host = weight_bytes + read, on_device = weight_bytes + read + held;
    std::printf("| %zu | %zu | %.1f MB | %.1f MB | %.1f MB | %.0f MB |\n", tokens, segments, held / MB, on_host / MB,
                on_device / MB, peak_rss_mb());
    if (csv) *csv << len << ',' << tokens << ',' << segments << ',' << held << ',' << on_host << ',' << on_device << '\n';
    points.push_back({static_cast<double>(tokens), on_host / MB, on_device / MB});
  }
  if (o.out && points.size() > 1) {
    std::vector<double> xs, host, device;
    std::vector<std::string> labels;
    double top = 0;
    for (const auto& p : points) {
      xs.push_back(p.tokens), host.push_back(p.host), device.push_back(p.device), top = std::max(top, 1.1 * p.device);
      char lab[16];
      std::snprintf(lab, sizeof lab, "%.0fK", p.tokens / 1000);
      labels.emplace_back(lab);
    }
    save_line_chart(*o.out / "footprint.png", "GPU MEMORY (MB) VS CONTEXT TOKENS", "CONTEXT TOKENS (LOG SCALE)", xs,
                    labels, top, "%.0f",
                    {{"MEMORY ON THE DEVICE", red_line, device}, {"MEMORY ON THE HOST (PAPER)", blue_line, host}}, true);
    std::printf("\nwrote %s/{footprint.csv,footprint.png}\n", o.out->string().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  try {
    o = parse(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "larimar-recall: %s\n", e.what());
    return 2;
  }
  try {
    return o.capacity ? capacity(o) : o.footprint ? footprint(o) : sweep(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "larimar-recall: error: %s\n", e.what());
    return 1;
  }
}
