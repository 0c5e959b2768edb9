// GPU status codes as exceptions, and running out of (device) memory: the message names the call or the size,
// and a write that cannot allocate leaves the memory as it was. The CUDA statuses are tested with their numeric
// codes (no GPU here); test/memory/cuda_memory_check.cu repeats the typed ones under nvcc.
#include <doctest/doctest.h>

#include <string>

#include "helpers.hpp"
#include "larimar/core/gpu_status.hpp"
#include "larimar/larimar.hpp"

using namespace larimar;
using test::host;

namespace {
// A fake library call for LARIMAR_GPU_CALL: returns the status it is given.
enum class fake_status { ok = 0, failed = 13 };
fake_status fake_call(fake_status s, int) { return s; }
}  // namespace
namespace larimar {
inline void gpu_check(fake_status s, const char* call) { gpu_check(gpu_library::cublas, static_cast<int>(s), call); }
}  // namespace larimar

TEST_CASE("a GPU status becomes an exception that names the call, the status and its code") {
  CHECK_NOTHROW(gpu_check(gpu_library::cublas, 0, "cublasSgemm"));
  CHECK_NOTHROW(gpu_check(gpu_library::cusolver, 0, "cusolverDnSgesvdj"));
  CHECK_THROWS_WITH_AS(gpu_check(gpu_library::cublas, 13, "cublasSgemm"),
                       "cublasSgemm failed: CUBLAS_STATUS_EXECUTION_FAILED (13)", device_error);
  CHECK_THROWS_WITH_AS(gpu_check(gpu_library::cusolver, 6, "cusolverDnSpotrf"),
                       "cusolverDnSpotrf failed: CUSOLVER_STATUS_EXECUTION_FAILED (6)", device_error);
  CHECK_THROWS_WITH_AS(gpu_check(gpu_library::cuda_runtime, 700, "cudaMemcpy"),
                       "cudaMemcpy failed: cudaErrorIllegalAddress (700)", device_error);
  CHECK_THROWS_WITH_AS(gpu_check(gpu_library::cusolver, 12345, "cusolverDnXgesvd"),
                       "cusolverDnXgesvd failed: unknown status (12345)", device_error);
  // The same number means different things in each library: 3 is cuBLAS's ALLOC_FAILED, cuSOLVER's INVALID_VALUE.
  CHECK(std::string(gpu_status_name(gpu_library::cublas, 3)) == "CUBLAS_STATUS_ALLOC_FAILED");
  CHECK(std::string(gpu_status_name(gpu_library::cusolver, 3)) == "CUSOLVER_STATUS_INVALID_VALUE");
  // Allocation failures in any of the three are out_of_memory (a device_error, a larimar::error).
  for (auto [lib, code] : {std::pair{gpu_library::cuda_runtime, 2}, {gpu_library::cublas, 3}, {gpu_library::cusolver, 2}})
    CHECK_THROWS_AS(gpu_check(lib, code, "call"), out_of_memory);
  CHECK_THROWS_WITH_AS(gpu_check(gpu_library::cuda_runtime, 2, "cudaMalloc"),
                       "cudaMalloc failed: cudaErrorMemoryAllocation (2); the device is out of memory", error);
  // The macro names the function it called.
  CHECK_NOTHROW(LARIMAR_GPU_CALL(fake_call, fake_status::ok, 1));
  CHECK_THROWS_WITH(LARIMAR_GPU_CALL(fake_call, fake_status::failed, 1),
                    "fake_call failed: CUBLAS_STATUS_EXECUTION_FAILED (13)");
}

TEST_CASE("an allocation larger than any device can hold throws out_of_memory naming its size") {
  using D = storage::device;
  const std::size_t before = storage::device_memory::in_use();
  // rows·cols·4 bytes overflows size_t: refused before asking the allocator.
  try {
    (void)D::make<float>(std::size_t{1} << 40, std::size_t{1} << 40);
    FAIL("no exception");
  } catch (const out_of_memory& e) {
    CHECK(e.requested_bytes == static_cast<std::size_t>(-1));
    CHECK(std::string(e.what()).find("1099511627776x1099511627776 matrix") != std::string::npos);
  }
#if !defined(__SANITIZE_ADDRESS__)  // ASan aborts on an allocation this size instead of failing it
  // 64 TiB: the system allocator refuses it (thrust's OpenMP system here, cudaMalloc under CUDA).
  try {
    (void)D::make<float>(std::size_t{1} << 22, std::size_t{1} << 22);
    FAIL("no exception");
  } catch (const out_of_memory& e) {
    CHECK(e.requested_bytes == (std::size_t{1} << 46));
    CHECK(std::string(e.what()).find("allocating 70368744177664 bytes") != std::string::npos);
  }
#endif
  CHECK(storage::device_memory::in_use() == before);  // nothing stays counted after a failure
}

TEST_CASE("device memory limit: a write that does not fit throws, names the size, and changes nothing") {
  using D = storage::device;
  struct limit_guard {
    ~limit_guard() { storage::device_memory::set_limit(0); }
  } guard;
  const std::size_t baseline = storage::device_memory::in_use();
  {
    sharded_memory<float, D, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 32, .code_size = 24, .lookup_size = 16});
    const auto z = test::gaussian<float>(120, 24, 41);
    const auto look = test::gaussian<float>(120, 16, 42);
    const xt::xtensor<float, 2> z1 = xt::view(z, xt::range(0, 50), xt::all()), l1 = xt::view(look, xt::range(0, 50), xt::all());
    const xt::xtensor<float, 2> z2 = xt::view(z, xt::range(50, 120), xt::all()), l2 = xt::view(look, xt::range(50, 120), xt::all());
    const auto ids = mem.write(z1, l1);
    const std::size_t held = storage::device_memory::in_use();
    CHECK(held > baseline);
    const auto before = host(mem.read(l1).latents);
    const auto mean0 = host(mem.block_mean(0));

    storage::device_memory::set_limit(held + 2048);  // 2 KiB of headroom: not enough for 70 more segments
    try {
      mem.write(z2, l2);
      FAIL("no exception");
    } catch (const out_of_memory& e) {
      CHECK(e.requested_bytes > 2048);
      CHECK(std::string(e.what()).find("allocating " + std::to_string(e.requested_bytes) + " bytes") != std::string::npos);
      CHECK(std::string(e.what()).find("memory limit") != std::string::npos);
    }
    // Unchanged: size, blocks, the first block's memory, every read; nothing leaked against the limit.
    CHECK(storage::device_memory::in_use() == held);
    CHECK(mem.size() == 50);
    CHECK(mem.block_count() == 2);
    CHECK_THROWS_AS(mem.read(l1), out_of_memory);  // a read needs scratch too; it fails the same clean way

    storage::device_memory::set_limit(0);  // lifted: memory and reads are as before, the same write goes through
    CHECK(host(mem.block_mean(0)) == mean0);
    CHECK(host(mem.read(l1).latents) == before);
    const auto more = mem.write(z2, l2);
    CHECK(mem.size() == 120);
    const auto r = mem.read(look);
    for (std::size_t i = 0; i < 120; ++i) CHECK(r.hits[i].entry == (i < 50 ? ids[i] : more[i - 50]));
    for (double e : test::row_rel_errors(host(r.latents), z)) CHECK(e < 1e-4);
  }
  CHECK(storage::device_memory::in_use() == baseline);  // every byte given back with the memory
}
