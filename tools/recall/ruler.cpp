// larimar-recall --task ruler:<name>|ruler:all: RULER's needle-in-a-haystack tasks (larimar/eval/ruler.hpp),
// every (task, length, seed) context written once into one pipeline per policy and asked each of its queries.
// Per query: memory-hit = the share of its answers whose needle is in one of the k entries read (k = --top-k, by
// default the task's values per key: 4 for multivalue, else 1); end to end = RULER's string_match_all on the
// distinct answers decoded from those k entries, joined. A sample's score is the mean over its queries; cells are the
// mean over seeds, in percent as RULER reports.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "factory.hpp"
#include "larimar/core/random.hpp"
#include "larimar/eval/ruler.hpp"
#include "report.hpp"
#include "setup.hpp"

namespace recall_tool {

namespace {

using namespace larimar;
using namespace larimar::pipeline;


struct score {
  double n = 0, memory = 0, e2e = 0, seconds = 0;
  void add(double m, double e, double s) { n += 1, memory += m, e2e += e, seconds += s; }
};

// The tasks `--task ruler:NAME` names (ruler:all: the eight).
std::vector<const eval::ruler_spec*> tasks_of(const std::string& task) {
  const std::string name = task.substr(task.find(':') + 1);
  std::vector<const eval::ruler_spec*> out;
  if (name == "all")
    for (const auto& t : eval::ruler_tasks) out.push_back(&t);
  else
    out.push_back(&eval::ruler_task(name));
  return out;
}

std::uint64_t sample_seed(std::uint64_t seed, std::size_t length, std::size_t task) {
  splitmix64 mix(seed * 0x9e3779b97f4a7c15ULL ^ (static_cast<std::uint64_t>(length) << 20) ^ (task << 8) ^ 0x72756cULL);
  return mix.next();
}

// Writes one context into every column; returns, per column, the needles each written entry holds.
template <class Source>
std::vector<std::map<std::size_t, std::vector<std::size_t>>> write_context(const eval::ruler_sample& sample,
                                                                           Source haystack, const bpe& tok,
                                                                           const segmenting& cut, std::size_t length,
                                                                           std::size_t batch_size,
                                                                           std::vector<column>& columns,
                                                                           std::size_t& tokens) {
  eval::ruler_stream<bpe, Source> stream(sample, std::move(haystack), tok, cut, length);
  std::vector<std::map<std::size_t, std::vector<std::size_t>>> holds(columns.size());
  std::vector<segment> batch;
  for (bool more = true; more;) {
    batch.clear();
    while (batch.size() < batch_size)
      if (auto seg = stream.next()) batch.push_back(std::move(*seg));
      else break;
    more = batch.size() == batch_size;
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const auto ids = columns[k].pipeline->write_segments(batch);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!batch[i].needle) continue;
        for (std::size_t n = 0; n < sample.needles.size(); ++n)
          if (eval::holds_needle_start(batch[i].text, sample.needles[n])) holds[k][ids[i]].push_back(n);
      }
    }
  }
  tokens = stream.tokens();
  return holds;
}

}  // namespace

int ruler(const options& o) {
  double load_s = 0;
  const auto models = load_models_for_recall(o, load_s);
  const auto specs = tasks_of(o.task);
  bool essay = false;
  for (const auto* s : specs) essay |= s->haystack == eval::ruler_haystack::essay;
  if (essay) text_file_source(o.haystack, 0);  // unreadable or empty files fail here, named

  // P (auto) from a probe query: "One of the special magic numbers for amused-hook is:"
  const auto probe = eval::make_ruler_sample(*specs.front(), 0);
  const auto po = pipeline_options_of(o, *models, probe.query_prefixes.front());
  auto columns = policy_columns(o, models, po);
  const auto cut = columns.front().pipeline->options().cut();
  const std::size_t budget = cut.budget;
  std::printf("larimar-recall: RULER (%zu task(s)), model %s%s, segment budget %zu tokens (%s packing), prefix P = "
              "%zu tokens, continuation %zu tokens, K = %zu slots/block%s, %s; essay haystack: %zu file(s) from %s; "
              "models loaded in %.2f s\n",
              specs.size(), o.model.string().c_str(), o.random_encoder ? " (random encoder)" : "", budget,
              to_string(o.packing), po.prefix_tokens, po.continuation_tokens, o.slots, memory_note(o).c_str(), o.memory_only ? "memory-only" : "end to end",
              o.haystack.size(), o.haystack.front().parent_path().string().c_str(), load_s);

  auto csv = open_csv(o.out, "ruler_trials.csv",
                      "task,policy,length,tokens,seed,query,answers,memory,e2e,generated,seconds");
  progress_bar bar(specs.size() * o.lengths.size() * o.seeds, o.progress);
  std::size_t done = 0;
  bar.update(0);
  std::map<std::tuple<std::size_t, std::string, std::size_t>, score> cells;  // (task index, policy, length)
  for (std::size_t ti = 0; ti < specs.size(); ++ti)
    for (const auto len : o.lengths)
      for (std::size_t s = 0; s < o.seeds; ++s) {
        const std::uint64_t seed = o.seed_base + s;
        const auto& spec = *specs[ti];
        const auto sample = eval::make_ruler_sample(spec, sample_seed(seed, len, ti));
        for (auto& c : columns) c.pipeline->clear();
        const auto t0 = std::chrono::steady_clock::now();
        std::size_t tokens = 0;
        const auto& tok = models->tokenizer();
        const auto holds =
            spec.haystack == eval::ruler_haystack::noise
                ? write_context(sample, eval::ruler_noise(), tok, cut, len, o.batch, columns, tokens)
            : spec.haystack == eval::ruler_haystack::needle
                ? write_context(sample, eval::needle_haystack_source(sample), tok, cut, len, o.batch,
                                columns, tokens)
                : write_context(sample, text_file_source(o.haystack, sample.seed), tok, cut, len, o.batch,
                                columns, tokens);
        const double write_s = seconds_since(t0);
        for (std::size_t c = 0; c < columns.size(); ++c) {
          const auto& p = *columns[c].pipeline;
          const auto t1 = std::chrono::steady_clock::now();
          // k entries per query: --top-k, or as many as the task has values per key (4 for multivalue)
          const std::size_t k = o.top_k ? *o.top_k : spec.values;
          const auto r = p.read(sample.query_prefixes, k);
          std::vector<std::string> generated(sample.queries.size());
          if (!o.memory_only) {
            // A prompt the decoder's window cannot hold (a uuid key is ~50 tokens of larimar-tiny's) is answered
            // by nothing, and says so in the CSV.
            const auto& dec = models->decoder();
            const std::size_t window = dec.config().n_positions - dec.latent_slots();
            std::vector<std::string> fits;
            std::vector<std::size_t> which;
            for (std::size_t q = 0; q < sample.queries.size(); ++q) {
              if (p.prompt(sample.query_prefixes[q]).size() >= window) {
                generated[q] = "<query longer than the decoder's window>";
                continue;
              }
              which.push_back(q);
              fits.push_back(sample.query_prefixes[q]);
            }
            if (!fits.empty()) {
              const auto answers = p.ask(fits, k);  // the distinct answers of the k best entries, best first
              for (std::size_t i = 0; i < answers.size(); ++i)
                for (const auto& a : answers[i]) generated[which[i]] += (generated[which[i]].empty() ? "" : " | ") + a.text;
            }
          }
          const double seconds = write_s + seconds_since(t1);
          double memory = 0, e2e = 0;
          for (std::size_t q = 0; q < sample.queries.size(); ++q) {
            // answers of this query whose needle sits in the entry read
            std::set<std::string> read_values;
            for (const auto& h : r.hits_of(q))
              if (const auto it = holds[c].find(h.entry); it != holds[c].end())
                for (const auto n : it->second)
                  if (sample.needles[n].key == sample.queries[q]) read_values.insert(sample.needles[n].value);
            const double m = static_cast<double>(read_values.size()) / static_cast<double>(sample.answers[q].size());
            const double e = o.memory_only ? 0.0 : eval::string_match_all(generated[q], sample.answers[q]);
            memory += m, e2e += e;
            if (csv) {
              std::string answers;
              for (const auto& a : sample.answers[q]) answers += (answers.empty() ? "" : " ") + a;
              *csv << spec.name << ',' << columns[c].name << ',' << len << ',' << tokens << ',' << seed << ','
                   << csv_quote(sample.query_prefixes[q]) << ',' << csv_quote(answers) << ',' << m << ','
                   << (o.memory_only ? std::string() : std::to_string(e)) << ',' << csv_quote(generated[q]) << ','
                   << seconds << '\n';
            }
            if (o.verbose)
              std::printf("%s %s len %zu seed %llu: '%s' -> memory %.2f%s\n", std::string(spec.name).c_str(),
                          columns[c].name.c_str(), len, static_cast<unsigned long long>(seed),
                          sample.query_prefixes[q].c_str(), m,
                          o.memory_only ? "" : (", said '" + generated[q] + "', " + std::to_string(e)).c_str());
          }
          const double nq = static_cast<double>(sample.queries.size());
          cells[{ti, columns[c].name, len}].add(memory / nq, e2e / nq, seconds);
        }
        bar.update(++done);
      }

  // task × policy rows, length columns: "memory-hit / end to end" in percent (memory-hit alone with --memory-only)
  std::ostringstream table;
  table << "| task | policy |";
  for (const auto len : o.lengths) table << ' ' << length_label(len) << " |";
  table << "\n|---|---|";
  for (std::size_t i = 0; i < o.lengths.size(); ++i) table << "---|";
  table << '\n';
  const auto cell = [&](const score& t) {
    char buf[48];
    if (o.memory_only)
      std::snprintf(buf, sizeof buf, " %.1f |", 100 * t.memory / t.n);
    else
      std::snprintf(buf, sizeof buf, " %.1f / %.1f |", 100 * t.memory / t.n, 100 * t.e2e / t.n);
    return std::string(buf);
  };
  for (const auto& p : o.policies) {
    std::map<std::size_t, score> mean;
    for (std::size_t ti = 0; ti < specs.size(); ++ti) {
      table << "| " << specs[ti]->name << " | " << p.name << " |";
      for (const auto len : o.lengths) {
        const auto& t = cells[{ti, p.name, len}];
        table << cell(t);
        mean[len].add(t.memory / t.n, t.e2e / t.n, t.seconds / t.n);
      }
      table << '\n';
    }
    if (specs.size() > 1) {
      table << "| **mean** | " << p.name << " |";
      for (const auto len : o.lengths) table << cell(mean[len]);
      table << '\n';
    }
  }
  std::printf("\nRULER NIAH, %s, percent, each cell the mean over %zu seed(s):\n\n%s\n",
              o.memory_only ? "memory-hit" : "memory-hit / end-to-end string_match_all", o.seeds,
              table.str().c_str());
  std::printf("time per context (write + read%s, mean, s):", o.memory_only ? "" : " + decode");
  for (const auto len : o.lengths) {
    score all;
    for (const auto& [k, t] : cells)
      if (std::get<2>(k) == len) all.add(0, 0, t.seconds / t.n);
    std::printf(" %s %.2f", length_label(len).c_str(), all.seconds / all.n);
  }
  std::printf("\n");
  if (o.out) {
    open_output(*o.out, "ruler_table.md") << table.str();
    std::printf("wrote %s/{ruler_trials.csv,ruler_table.md}\n", o.out->string().c_str());
  }
  return 0;
}

}  // namespace recall_tool
