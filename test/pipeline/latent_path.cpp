// The latent path: with the memory in the models' backend memory (storage::device_on<Backend>), a latent goes
// encoder → memory → decoder without visiting the host; with the memory on the host, a batch crosses exactly once
// each way. A counting backend (backend::omp, with the hook backend::note_latent_crossing calls) counts the
// crossings; the answers are the same either way and the same as the host-memory pipeline's of the other suites.
#include <doctest/doctest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/memory/memory.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"
#include "models.hpp"

using namespace larimar;
using namespace larimar::pipeline;

namespace {

// backend::omp that counts the latent batches crossing between the host and its memory.
struct counting : backend::omp {
  static constexpr const char* name = "counting (thrust OpenMP)";
  static inline std::size_t to_device = 0, to_host = 0, values = 0;
  static void on_latent_crossing(backend::crossing c, std::size_t n) {
    ++(c == backend::crossing::to_device ? to_device : to_host);
    values += n;
  }
  static void reset() { to_device = to_host = values = 0; }
};

}  // namespace

// A user's backend names its BLAS: here OpenBLAS, as omp's.
template <>
class larimar::backend::blas<counting> : public larimar::backend::blas<larimar::backend::omp> {};

namespace {

using on_device = sharded_memory<float, storage::device_on<counting>, keys::fixed_nearest, solver::pseudoinverse>;
using on_host = sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>;
using counted_models = recall_models<counting>;

std::shared_ptr<const counted_models> counted_tiny() {
  static const auto m = std::make_shared<const counted_models>(counted_models::load(test::model_dir));
  return m;
}

pipeline_options options() {
  pipeline_options o;
  o.prefix_tokens = test::tiny()->tokenizer().encode("The pass key is").size();
  return o;
}

// Segments, distinct so that the encoder's cache does not hide a batch.
std::vector<segment> segments_of(const counted_models& m, const std::vector<std::string>& texts) {
  std::vector<segment> out;
  for (const auto& t : texts) out.push_back(segment{t, m.tokenizer().encode(t), false, {}});
  return out;
}

const std::vector<std::string> context{
    "The grass is green and the sky is blue.", "The pass key is 41027. Remember it.",
    "Here we go again, over the hills.",       "A cat sat on the mat all day long.",
    "The train leaves at noon from the east.", "Rain fell on the quiet town tonight."};
const std::vector<std::string> queries{"The pass key is", "The grass is"};

}  // namespace

TEST_CASE("latent path: the memory on the models' device keeps every latent there; on the host, one crossing each way") {
  static_assert(recall_pipeline<on_device, counting>::latents_in_place);
  static_assert(!recall_pipeline<on_host, counting>::latents_in_place);
  recall_pipeline<on_device, counting> dev(counted_tiny(), options());
  recall_pipeline<on_host, counting> host(counted_tiny(), options());
  const auto batch = segments_of(*counted_tiny(), context);

  counting::reset();
  const auto ids_dev = dev.write_segments(batch);
  CHECK(counting::to_device == 0);
  CHECK(counting::to_host == 0);
  counting::reset();
  const auto ids_host = host.write_segments(batch);
  CHECK(ids_host == ids_dev);
  CHECK(counting::to_host == 2);  // the latents, and the prefix lookup vectors of the same segments
  CHECK(counting::to_device == 0);

  counting::reset();
  const auto a_dev = dev.ask(queries);
  CHECK(counting::to_device == 0);
  CHECK(counting::to_host == 0);
  counting::reset();
  const auto a_host = host.ask(queries);
  CHECK(counting::to_host == 1);    // the queries' lookup vectors, to the memory
  CHECK(counting::to_device == 1);  // the read latents, to the decoder
  CHECK(counting::values == 2 * queries.size() * counted_tiny()->latent_size());

  REQUIRE(a_dev.size() == queries.size());
  REQUIRE(a_host.size() == queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    CAPTURE(i);
    CHECK(a_dev[i].matched.entry == a_host[i].matched.entry);
    CHECK(a_dev[i].text == a_host[i].text);
  }
  CHECK(a_dev[0].matched.entry == ids_dev[1]);
  CHECK(a_dev[0].text.find("41027") != std::string::npos);

  // The same answers as the plain backend's pipeline (backend::omp, host memory).
  recall_pipeline<on_host> plain(test::tiny(), options());
  std::vector<segment> plain_batch;
  for (const auto& t : context) plain_batch.push_back(segment{t, test::tiny()->tokenizer().encode(t), false, {}});
  plain.write_segments(plain_batch);
  const auto a_plain = plain.ask(queries);
  for (std::size_t i = 0; i < queries.size(); ++i) CHECK(a_plain[i].text == a_dev[i].text);

  // Top-k on the device: decoded in place, the best answer first.
  counting::reset();
  const auto top = dev.ask(queries, 3);
  CHECK(counting::to_device + counting::to_host == 0);
  REQUIRE(top.size() == queries.size());
  CHECK(top[0].front().text == a_dev[0].text);
  counting::reset();
  const auto top_host = host.ask(queries, 3);
  CHECK(counting::to_host == 1);
  CHECK(counting::to_device == 1);
  REQUIRE(top_host.size() == queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    REQUIRE(top_host[i].size() == top[i].size());
    for (std::size_t j = 0; j < top[i].size(); ++j) CHECK(top_host[i][j].text == top[i][j].text);
  }
  // A read for the caller brings the latents to the host: that is the one crossing.
  counting::reset();
  const auto r = dev.read(queries);
  CHECK(counting::to_host == 1);
  CHECK(counting::to_device == 0);
  CHECK(r.latents.size() == queries.size() * counted_tiny()->latent_size());
}

TEST_CASE("latent path: the parts' device overloads give the host overloads' values and reject non-finite rows") {
  const auto& m = *counted_tiny();
  const std::size_t C = m.latent_size();
  std::vector<std::vector<model::token_id>> seqs;
  for (const auto& t : context) seqs.push_back(m.tokenizer().encode(t));
  const auto host = m.encoder().encode(std::vector<std::vector<model::token_id>>(seqs.begin(), seqs.begin() + 2));
  auto z = backend::scratch<counting, float>(2 * C);
  m.encoder().encode_latents(std::vector<std::vector<model::token_id>>(seqs.begin(), seqs.begin() + 2),
                             backend::device_view<counting>(backend::raw<float>(z), 2, C));
  std::vector<float> back(2 * C);
  backend::download(z, 0, std::span<float>(back));
  CHECK(back == host.latent_means());
  CHECK_THROWS_AS(m.encoder().encode_latents(seqs, backend::device_view<counting>(backend::raw<float>(z), 2, C)),
                  shape_error);

  // The decoder conditions on a device view as on the same values from the host.
  const auto zc = backend::device_view<counting>(static_cast<const float*>(backend::raw<float>(z)), 2, C);
  const std::vector<std::vector<model::token_id>> prompts(2, std::vector<model::token_id>{0});
  model::generation_options g;
  g.max_new_tokens = 12;
  const auto from_host = m.decoder().generate(prompts, std::span<const float>(back), g);
  const auto from_device = m.decoder().generate(prompts, zc, g);
  REQUIRE(from_device.size() == 2);
  for (std::size_t b = 0; b < 2; ++b) CHECK(from_device[b].tokens == from_host[b].tokens);

  // The memory takes rows in its storage; a NaN there is named with its place, and nothing is written.
  memory_config cfg;
  cfg.slots = 16;
  cfg.code_size = C;
  cfg.lookup_size = C;
  on_device mem(cfg);
  const auto ids = mem.write(zc, zc);
  CHECK(ids.size() == 2);
  const auto r = mem.read(zc);
  CHECK(r.hits[1].entry == ids[1]);
  auto bad = backend::scratch<counting, float>(2 * C, 0.5f);
  std::vector<float> nan_row(1, std::nanf(""));
  backend::upload(std::span<const float>(nan_row), bad, C + 3);
  const auto badv = backend::device_view<counting>(static_cast<const float*>(backend::raw<float>(bad)), 2, C);
  CHECK_THROWS_WITH_AS(mem.write(badv, badv), doctest::Contains("row 1, column 3"), value_error);
  CHECK(mem.size() == 2);
  CHECK_THROWS_WITH_AS(m.decoder().generate(prompts, badv, g), doctest::Contains("latent 1 has a non-finite value at 3"),
                       value_error);
}
