// recall_pipeline compiled by nvcc: the models on the GPU (backend::cuda) with the memory on the host (the paper's
// setting) and with the memory on the GPU too (storage::device on thrust's CUDA system). Needs a GPU to run; CI
// compiles and links it only (scripts/gpu-check.sh runs it). Checks: the read hits the needle at 4K..137K tokens
// in both settings, and the answer equals the one the decoder gives from the needle's own latent.
// Exit status 0 = every check passed.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/pipeline/pipeline.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/storage/host.hpp"

using namespace larimar;
using gpu = backend::cuda;
using models = pipeline::recall_models<gpu>;

namespace {

int failures = 0;
void expect(bool ok, const std::string& what) {
  std::printf("%-72s %s\n", what.c_str(), ok ? "ok" : "FAIL");
  failures += ok ? 0 : 1;
}

template <class Memory>
std::vector<std::vector<model::token_id>> run(const char* name, std::shared_ptr<const models> m) {
  pipeline::pipeline_options o;
  o.prefix_tokens = m->tokenizer().encode("The pass key is").size();
  pipeline::recall_pipeline<Memory, gpu> p(m, o);
  std::vector<std::vector<model::token_id>> answers;
  for (const std::size_t len : {4096u, 32768u, 137000u}) {
    p.clear();
    const auto task = pipeline::passkey_task(3, len, 0.5, 1);
    pipeline::context_stream<tokenizer::byte_level_bpe> cs(task, m->tokenizer(), p.options().segment_tokens);
    const auto needle = p.write(cs);
    const auto a = p.ask(task.query);
    const auto& t = p.timings();
    std::printf("%s, %zu tokens: answer '%s' (truth %s); encode %.3f s, write %.3f s, read %.4f s, decode %.3f s\n",
                name, p.tokens(), a.text.c_str(), task.answer.c_str(), t.encode, t.write, t.read, t.decode);
    expect(needle.size() == 1 && a.matched.entry == needle[0], std::string(name) + ": the read hits the needle at " +
                                                                   std::to_string(len) + " tokens");
    const auto z = m->latents(std::vector<std::vector<model::token_id>>{m->tokenizer().encode(task.needle)});
    model::generation_options g;
    g.max_new_tokens = p.options().segment_tokens;
    expect(m->decoder().generate(p.prompt(task.query), z, g).tokens == a.tokens,
           std::string(name) + ": the answer is the decoder's from the needle's latent");
    answers.push_back(a.tokens);
  }
  return answers;
}

}  // namespace

int main() {
  try {
    const auto m = std::make_shared<const models>(models::load(LARIMAR_MODEL_DIR));
    const auto host_memory =
        run<sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>>("memory on the host", m);
    const auto gpu_memory =
        run<sharded_memory<float, storage::device, keys::fixed_nearest, solver::pseudoinverse>>("memory on the GPU", m);
    expect(host_memory == gpu_memory, "the same answers with the memory on the host and on the GPU");
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
