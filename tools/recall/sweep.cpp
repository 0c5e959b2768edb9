// larimar-recall's sweep: every (task, length, depth, seed) context written once into one pipeline per policy,
// read with the task's query and (end to end) answered by the decoder; the table like the paper's, the time split,
// and with --out the CSV files, table.md and heatmaps.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "factory.hpp"
#include "larimar/core/random.hpp"
#include "needle_set.hpp"
#include "report.hpp"
#include "setup.hpp"

namespace recall_tool {

namespace {

using namespace larimar;
using namespace larimar::pipeline;

// Every (seed, length, depth) draws its own passkey and haystack start, so a cell averages over as many distinct
// keys as trials; the same three give the same context in every run.
std::uint64_t trial_seed(std::uint64_t seed, std::size_t length, double depth) {
  splitmix64 mix(seed * 0x9e3779b97f4a7c15ULL ^ (static_cast<std::uint64_t>(length) << 20) ^
                 static_cast<std::uint64_t>(std::llround(depth * 1000)));
  return mix.next();
}

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
  void add(const tally& t) {
    n += t.n, mem += t.mem, e2e += t.e2e;
    segment += t.segment, encode += t.encode, write += t.write, read += t.read, decode += t.decode;
    peak = std::max(peak, t.peak);
    tokens += t.tokens;
  }
  void add(const trial& t) {
    add(tally{1, t.memory_hit, t.e2e, t.time.segment, t.time.encode, t.time.write, t.time.read, t.time.decode,
              t.peak_mb, static_cast<double>(t.tokens)});
  }
};


// The table (rows task × policy, columns lengths, cells averaged over depths and seeds), the time split, and with
// --out table.md, summary.csv and the heatmaps.
void report(const options& o, const std::vector<std::string>& kinds, const std::map<cell_key, tally>& cells,
            const models_t& models) {
  std::ostringstream table;
  table << "| task | policy |";
  for (const auto len : o.lengths) table << ' ' << length_label(len) << " |";
  table << "\n|---|---|";
  for (std::size_t i = 0; i < o.lengths.size(); ++i) table << "---|";
  table << '\n';
  std::map<std::tuple<std::string, std::string, std::size_t>, tally> by_length;
  for (const auto& [k, v] : cells) by_length[{k.task, k.policy, k.length}].add(v);
  const auto row = [&](const std::string& label, const std::vector<std::string>& of, const std::string& policy) {
    table << "| " << label << " | " << policy << " |";
    for (const auto len : o.lengths) {
      tally t;
      for (const auto& kind : of) t.add(by_length[{kind, policy, len}]);
      char buf[64];
      if (o.memory_only)
        std::snprintf(buf, sizeof buf, " %.2f |", double(t.mem) / double(t.n));
      else
        std::snprintf(buf, sizeof buf, " %.2f / %.2f |", double(t.mem) / double(t.n), double(t.e2e) / double(t.n));
      table << buf;
    }
    table << '\n';
  };
  for (const auto& kind : kinds)
    for (const auto& p : o.policies) row(kind, {kind}, p.name);
  if (kinds.size() > 1)  // a needle set's (or the passkey digits') mean over its tasks, each weighted by its trials
    for (const auto& p : o.policies) row("**mean**", kinds, p.name);
  std::printf("\n%s recall (%s), each cell averaged over %zu depth(s) x %zu seed(s):\n\n%s\n",
              o.memory_only ? "memory-only" : "memory-only / end-to-end exact",
              kinds.size() == 1 ? kinds.front().c_str() : (std::to_string(kinds.size()) + " tasks").c_str(),
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
  std::printf("\nencoder cache: %zu distinct token sequences encoded, %zu reused\n", models.cache_misses(),
              models.cache_hits());
  if (!o.out) return;

  open_output(*o.out, "table.md") << table.str() << '\n' << times.str();
  auto sum = open_output(*o.out, "summary.csv");
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
          if (k.task == kind && k.policy == p.name) v[{k.length, k.depth}] = double(e2e ? t.e2e : t.mem) / double(t.n);
        std::string file = p.name;  // a key token's "/" is no part of a file name
        std::replace(file.begin(), file.end(), '/', '-');
        const std::string metric = e2e ? "e2e" : "memory";
        heatmap(*o.out / ("heatmap-" + kind + "-" + file + "-" + metric + ".png"),
                kind + " " + p.name + " " + (e2e ? "END TO END" : "MEMORY-ONLY") + " RECALL", o.lengths, o.depths, v);
      }
  std::printf("wrote %s/{trials.csv,summary.csv,table.md,heatmap-*.png}\n", o.out->string().c_str());
}

}  // namespace

int sweep(const options& o) {
  double load_s = 0;
  const auto models = load_models_for_recall(o, load_s);

  // The tasks: one per digit count, the needle, or one per needle of --needles, each its own row; its query decides
  // P when --prefix-tokens is auto, so each has its own pipelines.
  struct kind_t {
    std::string name;
    std::function<recall_task(std::size_t, double, std::uint64_t)> make;  // (length, depth %, seed)
  };
  std::vector<kind_t> kinds;
  if (o.task == "passkey") {
    for (const auto d : o.digits)
      kinds.push_back({"passkey-" + std::to_string(d), [d](std::size_t len, double depth, std::uint64_t seed) {
                         return passkey_task(d, len, depth / 100.0, seed);
                       }});
  } else {
    text_file_source(o.haystack, 0);  // unreadable or empty files fail here, named
    std::vector<needle_def> set;
    if (o.needles) set = read_needle_set(*o.needles);
    else set.push_back({"needle", o.needle, o.query, o.answer});
    for (auto& d : set) {
      needle_task(o.haystack, d.needle, d.query, 1000, 0.5, 0, d.answer);  // a query that does not start it fails here
      auto make = [&o, d](std::size_t len, double depth, std::uint64_t seed) {
        return needle_task(o.haystack, d.needle, d.query, len, depth / 100.0, seed, d.answer);
      };
      kinds.push_back({o.needles ? "needle-" + d.name : d.name, std::move(make)});
    }
  }
  std::vector<std::vector<column>> columns;  // [kind][policy]
  std::vector<std::size_t> prefix_tokens;
  for (const auto& kind : kinds) {
    const auto po = pipeline_options_of(o, *models, kind.make(1000, 50, 0).query);
    prefix_tokens.push_back(po.prefix_tokens);
    columns.push_back(policy_columns(o, models, po));
  }
  const auto cut = columns.front().front().pipeline->options().cut();
  const std::size_t budget = cut.budget;
  const auto [p_lo, p_hi] = std::minmax_element(prefix_tokens.begin(), prefix_tokens.end());
  const std::string p_note = *p_lo == *p_hi
                                 ? std::to_string(*p_lo) + " tokens"
                                 : std::to_string(*p_lo) + ".." + std::to_string(*p_hi) + " tokens (per needle)";

  std::printf("larimar-recall: model %s%s, latent %zu, segment budget %zu tokens, prefix P = %s, K = %zu "
              "slots/block%s, %s; models loaded in %.2f s\n",
              o.model.string().c_str(), o.random_encoder ? " (random encoder)" : "", models->latent_size(), budget,
              p_note.c_str(), o.slots, memory_note(o).c_str(), o.memory_only ? "memory-only" : "end to end", load_s);

  auto csv = open_csv(o.out, "trials.csv",
                      "task,policy,length,tokens,segments,depth,actual_depth,seed,truth,memory_hit,entry_hit,score,"
                      "read_error,e2e,generated,segment_s,encode_s,write_s,read_s,decode_s,peak_rss_mb");

  const std::size_t total = kinds.size() * o.lengths.size() * o.depths.size() * o.seeds;
  progress_bar bar(total, o.progress);
  std::map<cell_key, tally> cells;
  std::size_t done = 0;
  bar.update(0);
  std::vector<segment> batch;
  for (std::size_t ki = 0; ki < kinds.size(); ++ki)
    for (const auto len : o.lengths)
      for (const auto depth : o.depths)
        for (std::size_t s = 0; s < o.seeds; ++s) {
          const std::string& kind = kinds[ki].name;
          auto& cols = columns[ki];
          const std::uint64_t seed = o.seed_base + s;
          const auto task = kinds[ki].make(len, depth, trial_seed(seed, len, depth));
          for (auto& c : cols) c.pipeline->clear();
          context_stream<bpe> stream(task, models->tokenizer(), cut);
          std::vector<std::vector<std::size_t>> needles(cols.size());
          double segment_s = 0;
          for (bool more = true; more;) {
            const auto t0 = std::chrono::steady_clock::now();
            batch.clear();
            while (batch.size() < o.batch)
              if (auto seg = stream.next()) batch.push_back(std::move(*seg));
              else break;
            more = batch.size() == o.batch;
            segment_s += seconds_since(t0);
            for (std::size_t k = 0; k < cols.size(); ++k) {
              const auto ids = cols[k].pipeline->write_segments(batch);
              for (std::size_t i = 0; i < batch.size(); ++i)
                if (batch[i].needle) needles[k].push_back(ids[i]);
            }
          }
          for (std::size_t k = 0; k < cols.size(); ++k) {
            const auto& p = *cols[k].pipeline;
            const std::string& name = cols[k].name;
            trial t;
            t.task = kind;
            t.policy = name;
            t.length = len;
            t.tokens = stream.tokens();
            t.segments = p.segments();
            t.depth = depth;
            t.actual_depth = stream.actual_depth() * 100;
            t.seed = seed;
            t.truth = task.answer;
            const std::vector<std::string> query{task.query};
            const auto r = p.read(query);
            const auto& h = r.hits[0];
            const auto truth = p.memory().entry(needles[k].at(0)).second;
            t.score = h.score;
            t.error = latent_error(r.latents, truth);
            t.entry_hit = h.entry == needles[k][0];
            t.memory_hit = t.entry_hit && t.error <= 1e-3;
            if (!o.memory_only) {
              // ask(): the read again (its hit is the one above; its seconds are not counted twice) and the answer
              // with contiguous reads, so a needle cut across segments comes back whole (--continuation-tokens 0:
              // the segment's own answer)
              const double read_s = p.timings().read;
              t.generated = p.ask(query)[0].text;
              t.e2e = is_correct(task, t.generated);
              t.time = p.timings();
              t.time.read = read_s;
            } else {
              t.time = p.timings();
            }
            t.time.segment = segment_s;
            t.peak_mb = peak_rss_mb();
            cells[{kind, name, len, depth}].add(t);
            if (o.verbose)
              std::printf("%s %s len %zu (%zu tokens, %zu segments) depth %.0f%% seed %llu: hit %d err %.1e%s%s\n",
                          kind.c_str(), name.c_str(), len, t.tokens, t.segments, t.depth,
                          static_cast<unsigned long long>(seed), t.memory_hit, t.error,
                          o.memory_only ? "" : (" -> '" + t.generated + "' truth " + t.truth).c_str(),
                          o.memory_only ? "" : (t.e2e ? " correct" : " wrong"));
            if (csv)
              *csv << kind << ',' << name << ',' << len << ',' << t.tokens << ',' << t.segments << ',' << t.depth
                   << ',' << t.actual_depth << ',' << seed << ',' << csv_quote(t.truth) << ',' << t.memory_hit << ','
                   << t.entry_hit << ',' << t.score << ',' << t.error << ','
                   << (o.memory_only ? std::string("") : std::to_string(t.e2e)) << ',' << csv_quote(t.generated)
                   << ',' << t.time.segment << ',' << t.time.encode << ',' << t.time.write << ',' << t.time.read
                   << ',' << t.time.decode << ',' << t.peak_mb << '\n';
          }
          bar.update(++done);
          // A needle's pipelines are done after its last trial: their memories go (20 needles, 20 contexts held).
          if (len == o.lengths.back() && depth == o.depths.back() && s + 1 == o.seeds)
            for (auto& c : cols) c.pipeline->clear();
        }
  std::vector<std::string> names;
  for (const auto& k : kinds) names.push_back(k.name);
  report(o, names, cells, *models);
  return 0;
}

}  // namespace recall_tool
