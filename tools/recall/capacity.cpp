// larimar-recall --capacity: the superposition study. One unsharded memory of K slots holds N distinct prose
// segments (N/K from --ratios), each read back at its own address: recall = the read is nearest (cosine) to its own
// latent; the same N in a sharded memory for comparison; end to end, whether greedy reconstruction from the read
// latent equals the one from the written latent.
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
#include "larimar/memory/nearest_index.hpp"
#include "larimar/storage/host.hpp"
#include "report.hpp"
#include "setup.hpp"

namespace recall_tool {

using namespace larimar;
using namespace larimar::pipeline;

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

  std::printf("capacity study: K = %zu slots, C = %zu, %zu distinct prose segments (budget %zu tokens)%s%s\n\n", K, C,
              segs.size(), budget, memory_note(o).c_str(),
              e2e ? "; end to end: greedy reconstruction from the read latent equals the one "
                    "from the written latent (BOS prompt, up to 100 segments)" : "");
  std::printf("| N/K | N | recall, one memory | read rel. error | recall, sharded | %s\n|---|---|---|---|---|%s\n",
              e2e ? "same generation, one memory | same generation, sharded |" : "", e2e ? "---|---|" : "");
  auto csv = open_csv(o.out, "capacity.csv",
                      "ratio,n,k,recall_single,rel_error_single,recall_sharded,same_generation_single,"
                      "same_generation_sharded");
  std::vector<double> xs, single, sharded;  // the chart: recall against log2(N/K)
  std::vector<std::string> labels;
  for (const double ratio : o.ratios) {
    const std::size_t n = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(ratio * double(K))));
    const matrix_ref<const float> zn(z.data(), n, C);
    memory_config cfg{.slots = K, .code_size = C, .seed = 7};
    cfg.keys = key_basis::gaussian;
    cfg.addresses = std::max(n, K);
    const auto one = make_memory(memory_for(o, capacity_memories[0], "--capacity"), cfg);
    const auto ids1 = one->write(zn, zn);
    const auto r1 = one->read_entries(ids1);
    memory_config scfg{.slots = K, .code_size = C, .seed = 7};
    const auto blocks = make_memory(memory_for(o, capacity_memories[1], "--capacity"), scfg);
    const auto ids2 = blocks->write(zn, zn);
    const auto r2 = blocks->read_entries(ids2);
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
    xs.push_back(ratio), labels.push_back(formatted("%g", ratio)), single.push_back(rec1), sharded.push_back(rec2);
    std::printf("| %g | %zu | %.3f | %.2e | %.3f |", ratio, n, rec1, err / double(n), rec2);
    if (e2e) std::printf(" %.2f | %.2f |", same1, same2);
    std::printf("\n");
    if (csv)
      *csv << ratio << ',' << n << ',' << K << ',' << rec1 << ',' << err / double(n) << ',' << rec2 << ','
           << (e2e ? std::to_string(same1) : "") << ',' << (e2e ? std::to_string(same2) : "") << '\n';
  }
  if (o.out) {  // the unsharded memory in red, the sharded one in blue
    save_line_chart(*o.out / "capacity.png", "RECALL VS N/K (K=" + std::to_string(K) + ")", "N/K (SEGMENTS PER SLOT)",
                    xs, labels, 1.0, "%.2f",
                    {{"SHARDED (BLOCKS OF K SLOTS)", blue_line, sharded}, {"ONE MEMORY OF K SLOTS", red_line, single}},
                    false);
    std::printf("\nwrote %s/{capacity.csv,capacity.png}\n", o.out->string().c_str());
  }
  return 0;
}

}  // namespace recall_tool
