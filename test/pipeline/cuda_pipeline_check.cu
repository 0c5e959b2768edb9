// recall_pipeline compiled by nvcc: the models on the GPU (backend::cuda) with the memory on the host (the paper's
// setting) and with the memory on the GPU too (storage::device on thrust's CUDA system). Needs a GPU to run; CI
// compiles and links it only (scripts/gpu-check.sh runs it). Checks: the read hits the needle at 4K..1M tokens in
// both settings (printing the GPU memory in use at each length), the answer equals the one the decoder gives from
// the needle's own latent, and ask_async overlapping the next context's writes gives ask()'s answers.
// Exit status 0 = every check passed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
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

// Bytes in use on the GPU (all processes), from the driver: the device-memory-versus-length figure on a GPU.
double gpu_used_bytes() {
  std::size_t free = 0, total = 0;
  LARIMAR_GPU_CALL(cudaMemGetInfo, &free, &total);
  return static_cast<double>(total - free);
}

template <class Memory>
std::vector<std::vector<model::token_id>> run(const char* name, std::shared_ptr<const models> m) {
  pipeline::pipeline_options o;
  o.prefix_tokens = m->tokenizer().encode("The pass key is").size();
  pipeline::recall_pipeline<Memory, gpu> p(m, o);
  std::vector<std::vector<model::token_id>> answers;
  for (const std::size_t len : {4096u, 32768u, 137000u, 1000000u}) {
    p.clear();
    const auto task = pipeline::passkey_task(3, len, 0.5, 1);
    pipeline::context_stream<tokenizer::byte_level_bpe> cs(task, m->tokenizer(), p.options().segment_tokens);
    const auto needle = p.write(cs);
    const auto a = p.ask(task.query);
    const auto& t = p.timings();
    std::printf("%s, %zu tokens: answer '%s' (truth %s); encode %.3f s, write %.3f s, read %.4f s, decode %.3f s; "
                "GPU memory in use %.1f MB (cudaMemGetInfo; the memory's own count %.1f MB)\n",
                name, p.tokens(), a.text.c_str(), task.answer.c_str(), t.encode, t.write, t.read, t.decode,
                gpu_used_bytes() / 1e6, storage::device_memory::in_use() / 1e6);
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

// ask_async on the GPU: context i's generation on the worker's stream while context i+1 is encoded and written on
// the caller's. The answers must equal ask()'s; the wall time of both loops is printed (the overlap's gain).
template <class Memory>
void overlap(const char* name, std::shared_ptr<const models> m) {
  using clock = std::chrono::steady_clock;
  pipeline::pipeline_options o;
  o.prefix_tokens = m->tokenizer().encode("The pass key is").size();
  pipeline::recall_pipeline<Memory, gpu> p(m, o);
  std::vector<pipeline::recall_task> tasks;
  for (std::uint64_t c = 0; c < 4; ++c) tasks.push_back(pipeline::passkey_task(5, 131072, 0.5, 200 + c));
  const std::vector<std::string> qs(64, tasks[0].query);
  auto write = [&](const pipeline::recall_task& t) {
    p.clear();
    pipeline::context_stream<tokenizer::byte_level_bpe> cs(t, m->tokenizer(), p.options().segment_tokens);
    p.write(cs);
  };
  using answers = std::vector<typename pipeline::recall_pipeline<Memory, gpu>::answer>;
  std::vector<answers> want, got;
  for (const auto& t : tasks) write(t), want.push_back(p.ask(qs));  // warm-up and reference
  const auto t0 = clock::now();
  for (const auto& t : tasks) write(t), want[&t - tasks.data()] = p.ask(qs);
  const auto t1 = clock::now();
  std::future<answers> pending;
  for (const auto& t : tasks) {
    write(t);
    if (pending.valid()) got.push_back(pending.get());
    pending = p.ask_async(qs);
  }
  got.push_back(pending.get());
  const auto t2 = clock::now();
  bool same = got.size() == want.size();
  for (std::size_t i = 0; same && i < got.size(); ++i)
    for (std::size_t j = 0; j < qs.size(); ++j) same = same && got[i][j].tokens == want[i][j].tokens;
  std::printf("%s: 4 contexts of 131,072 tokens, 64 queries each: sequential %.3f s, overlapped %.3f s (%.2fx)\n",
              name, std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count(),
              std::chrono::duration<double>(t1 - t0).count() / std::chrono::duration<double>(t2 - t1).count());
  expect(same, std::string(name) + ": ask_async gives ask()'s answers while the next context is written");
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a crash keeps every line printed before it (gpu-check.sh's report)
  try {
    const char* moved = std::getenv("LARIMAR_MODEL_DIR");  // binaries carried to another machine
    const auto m = std::make_shared<const models>(models::load(moved && *moved ? moved : LARIMAR_MODEL_DIR));
    const auto host_memory =
        run<sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>>("memory on the host", m);
    // Everything on one GPU: the latent path, no latent copied to the host (test/pipeline/latent_path.cpp counts it).
    using on_gpu = sharded_memory<float, storage::device, keys::fixed_nearest, solver::pseudoinverse>;
    static_assert(pipeline::recall_pipeline<on_gpu, gpu>::latents_in_place);
    static_assert(!pipeline::recall_pipeline<sharded_memory<float, storage::host, keys::fixed_nearest,
                                                            solver::pseudoinverse>, gpu>::latents_in_place);
    const auto gpu_memory = run<on_gpu>("memory on the GPU (latents in place)", m);
    expect(host_memory == gpu_memory, "the same answers with the memory on the host and on the GPU");
    overlap<sharded_memory<float, storage::host, keys::fixed_nearest, solver::pseudoinverse>>("overlap, memory on the host", m);
    overlap<sharded_memory<float, storage::device, keys::fixed_nearest, solver::pseudoinverse>>("overlap, memory on the GPU", m);
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
