// The memory on the GPU: storage::device compiled by nvcc (thrust CUDA system, cuBLAS, cuSOLVER). Built in CI
// without a GPU (compile + link); scripts/gpu-check.sh runs it where a GPU is present. Exit code 0 = every check
// passed. Each GPU path is compared with the same computation on storage::host (LAPACK/OpenBLAS).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "larimar/core/random.hpp"
#include "larimar/keys/fixed_nearest.hpp"
#include "larimar/keys/prefix_encoding.hpp"
#include "larimar/memory/sharded_memory.hpp"
#include "larimar/solver/iterative.hpp"
#include "larimar/solver/pseudoinverse.hpp"
#include "larimar/storage/device.hpp"
#include "larimar/backend/host/host.hpp"  // the LAPACK reference (no xtensor in .cu files)

// Host matrices as std::vector over backend::host (LAPACK, OpenBLAS): the reference storage, since .cu files do
// not include xtensor (storage::host's matrix type).
namespace reference {  // named: nvcc warns of unused members in an unnamed namespace
struct vector_storage {
  static constexpr const char* name = "vector";
  using linalg = larimar::backend::host;
  template <class T>
  struct matrix {
    std::vector<T> v;
    std::size_t r = 0, c = 0;
  };
  template <class T>
  static matrix<T> make(std::size_t rows, std::size_t cols) { return {std::vector<T>(rows * cols), rows, cols}; }
  template <class T>
  static std::size_t rows(const matrix<T>& m) { return m.r; }
  template <class T>
  static std::size_t cols(const matrix<T>& m) { return m.c; }
  template <class T>
  static T* data(matrix<T>& m) { return m.v.data(); }
  template <class T>
  static const T* data(const matrix<T>& m) { return m.v.data(); }
  template <class T>
  static void resize_rows(matrix<T>& m, std::size_t rows) { m.v.resize(rows * m.c); m.r = rows; }
  template <class T>
  static void upload(const T* src, std::size_t n, T* dst) { std::copy(src, src + n, dst); }
  template <class T>
  static void download(const T* src, std::size_t n, T* dst) { std::copy(src, src + n, dst); }
  template <class T>
  static void copy(const T* src, std::size_t n, T* dst) { std::copy(src, src + n, dst); }
};
}  // namespace reference
using reference::vector_storage;
static_assert(larimar::storage_policy<vector_storage, float> && larimar::storage_policy<vector_storage, double>);

namespace {
int failures = 0;
void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  failures += !ok;
}
std::vector<float> gaussian(std::size_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  larimar::splitmix64 rng(seed);
  for (auto& x : v) x = static_cast<float>(rng.normal());
  return v;
}
double max_rel_row_error(const std::vector<float>& got, const std::vector<float>& want, std::size_t cols) {
  double worst = 0;
  for (std::size_t r = 0; r < want.size() / cols; ++r) {
    double num = 0, den = 0;
    for (std::size_t j = 0; j < cols; ++j) {
      const double d = got[r * cols + j] - want[r * cols + j];
      num += d * d;
      den += double(want[r * cols + j]) * want[r * cols + j];
    }
    worst = std::fmax(worst, std::sqrt(num / den));
  }
  return worst;
}
template <class T>
std::vector<T> gaussian_t(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::vector<T> v(n);
  larimar::splitmix64 rng(seed);
  for (auto& x : v) x = static_cast<T>(scale * rng.normal());
  return v;
}
template <class T>
double rel_diff(const std::vector<T>& a, const std::vector<T>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num / den);
}

// pinv of an m×n matrix by `solver` on the GPU against the SVD pinv on the host through LAPACK's gesdd (default
// cut-off); relative difference of the results.
template <class T, class Solver>
double pinv_gpu_vs_host(const Solver& solver, const std::vector<T>& a, std::size_t m, std::size_t n) {
  using D = larimar::storage::device;
  auto da = D::make<T>(m, n);
  D::upload(a.data(), a.size(), D::data(da));
  auto dout = D::make<T>(n, m);
  solver.template pinv<D>(D::data(da), m, n, D::data(dout));
  std::vector<T> ref(n * m);
  larimar::solver::pseudoinverse{}.pinv<vector_storage>(a.data(), m, n, ref.data());
  return rel_diff(dout.to_host(), ref);
}

template <class T>
void solver_checks(const char* type, double tol) {
  using namespace larimar;
  const std::string t = type;
  const auto wide = gaussian_t<T>(96 * 160, 11), tall = gaussian_t<T>(160 * 96, 12);
  check(pinv_gpu_vs_host<T>(solver::pseudoinverse{}, wide, 96, 160) < tol, (t + ": cuSOLVER gesvdj pinv of a wide matrix = LAPACK's").c_str());
  check(pinv_gpu_vs_host<T>(solver::pseudoinverse{}, tall, 160, 96) < tol, (t + ": cuSOLVER gesvdj pinv of a tall matrix = LAPACK's").c_str());
  // Rank 40 of 96: the cut-off drops the same singular values on both sides.
  std::vector<T> low(96 * 160, T(0));
  const auto f = gaussian_t<T>(96 * 40, 13), g = gaussian_t<T>(40 * 160, 14);
  for (std::size_t i = 0; i < 96; ++i)
    for (std::size_t k = 0; k < 40; ++k)
      for (std::size_t j = 0; j < 160; ++j) low[i * 160 + j] += f[i * 40 + k] * g[k * 160 + j];
  check(pinv_gpu_vs_host<T>(solver::pseudoinverse{}, low, 96, 160) < tol, (t + ": rank-deficient pinv, same cut-off").c_str());
  const solver::pseudoinverse chol{.how = solver::pseudoinverse::method::cholesky};
  check(pinv_gpu_vs_host<T>(chol, wide, 96, 160) < tol, (t + ": cuSOLVER potrf/potrs normal equations = LAPACK's").c_str());
  check(pinv_gpu_vs_host<T>(chol, tall, 160, 96) < tol, (t + ": Cholesky path, tall matrix").c_str());
  check(pinv_gpu_vs_host<T>(chol, low, 96, 160) < tol, (t + ": Cholesky refuses a singular Gram matrix, falls back to the SVD").c_str());
  const solver::iterative<100, solver::init::safe> it{};
  check(pinv_gpu_vs_host<T>(it, wide, 96, 160) < 100 * tol, (t + ": Ben-Israel-Cohen in cuBLAS GEMMs = on the host").c_str());
}
}  // namespace

int run_checks() {
  using namespace larimar;
  using D = storage::device;
  solver_checks<float>("float", 2e-4);
  solver_checks<double>("double", 1e-10);

  // The nearest-neighbour lookup: one GEMM + the sliced arg-max, batched, against the host storage's answer.
  {
    const std::size_t rows = 50000, dim = 64, q = 300;
    const auto table = gaussian_t<float>(rows * dim, 21);
    std::vector<float> queries(q * dim);
    for (std::size_t i = 0; i < q; ++i)
      for (std::size_t j = 0; j < dim; ++j) queries[i * dim + j] = table[(i * 157) * dim + j] + 0.01f * float(j % 3);
    nearest_index<float, D> gpu(dim);
    auto dt = D::make<float>(rows, dim);
    D::upload(table.data(), table.size(), D::data(dt));
    gpu.add(D::data(dt), rows);
    for (std::size_t batch : {std::size_t{1}, std::size_t{64}, q}) {
      auto dq = D::make<float>(batch, dim);
      D::upload(queries.data(), batch * dim, D::data(dq));
      const auto g = gpu.search(D::data(dq), batch);
      std::size_t same = 0;  // each query is row i·157 plus a small offset: that row is its nearest
      for (std::size_t i = 0; i < batch; ++i) same += g[i].position == i * 157;
      check(same == batch, ("nearest-neighbour lookup over 50,000 rows, " + std::to_string(batch) + " queries").c_str());
    }
    // Top-k on the GPU (k > 1: each chunk's scores ranked on the host; k = 1: the sliced arg-max) against a
    // brute-force ranking here: the same scores position by position, the query's own row first.
    std::vector<std::size_t> keys(rows);
    for (std::size_t i = 0; i < rows; ++i) keys[i] = i;
    for (std::size_t k : {std::size_t{1}, std::size_t{10}}) {
      const std::size_t batch = 64;
      auto dq = D::make<float>(batch, dim);
      D::upload(queries.data(), batch * dim, D::data(dq));
      const auto g = gpu.search(D::data(dq), batch, k, keys.data());
      bool ok = g.size() == batch * k;
      for (std::size_t i = 0; ok && i < batch; ++i) {
        std::vector<double> score(rows);
        double qq = 0;
        for (std::size_t j = 0; j < dim; ++j) qq += double(queries[i * dim + j]) * queries[i * dim + j];
        for (std::size_t r = 0; r < rows; ++r) {
          double qr = 0, rr = 0;
          for (std::size_t j = 0; j < dim; ++j)
            qr += double(queries[i * dim + j]) * table[r * dim + j], rr += double(table[r * dim + j]) * table[r * dim + j];
          score[r] = qr / std::sqrt(qq * rr);
        }
        std::vector<double> best(score);
        std::partial_sort(best.begin(), best.begin() + k, best.end(), std::greater<>());
        ok = g[i * k].position == i * 157;
        for (std::size_t j = 0; j < k; ++j) ok = ok && std::abs(g[i * k + j].score - best[j]) < 1e-5;
      }
      check(ok, ("top-" + std::to_string(k) + " over 50,000 rows on the GPU = the brute-force ranking").c_str());
    }
  }
  // Errors: a status names the call; an allocation past the limit names its size and leaves the memory as it was.
  try {
    gpu_check(CUBLAS_STATUS_EXECUTION_FAILED, "cublasSgemm");
    check(false, "a failed cuBLAS status throws");
  } catch (const device_error& e) {
    check(std::string(e.what()) == "cublasSgemm failed: CUBLAS_STATUS_EXECUTION_FAILED (13)", "cuBLAS status message");
  }
  const std::size_t N = 3000, C = 768, L = 256;
  const auto z = gaussian(N * C, 1), look = gaussian(N * L, 2);
  sharded_memory<float, D, keys::fixed_nearest, solver::pseudoinverse> mem({.slots = 512, .code_size = C, .lookup_size = L});
  const auto ids = mem.write(matrix_ref<const float>(z.data(), N, C), matrix_ref<const float>(look.data(), N, L));
  check(mem.block_count() == 6, "3000 segments in 6 blocks of 512");
  const auto r = mem.read(matrix_ref<const float>(look.data(), N, L));
  std::size_t found = 0;
  for (std::size_t i = 0; i < N; ++i) found += r.hits[i].entry == ids[i];
  check(found == N, "every segment found from its lookup vector");
  check(max_rel_row_error(r.latents.to_host(), z, C) < 1e-4, "every read returns its latent (relative error <= 1e-4)");
  mem.forget(ids[17]);
  check(mem.read(matrix_ref<const float>(look.data() + 17 * L, 1, L)).hits[0].entry != ids[17], "forget");
  {  // the memory's top-k read on the GPU: k = 1 is read(), hits best first, each read at its entry's key
    const std::size_t q = 64, k = 5;
    const auto one = mem.read(matrix_ref<const float>(look.data() + 100 * L, q, L));
    const auto top = mem.read(matrix_ref<const float>(look.data() + 100 * L, q, L), k);
    const auto k1 = mem.read(matrix_ref<const float>(look.data() + 100 * L, q, L), 1);
    bool ordered = top.k == k && top.hits.size() == q * k, first = ordered, same = k1.latents.to_host() == one.latents.to_host();
    for (std::size_t i = 0; ordered && i < q; ++i) {
      first = first && top.hits_of(i)[0].entry == ids[100 + i] && k1.hits[i].entry == one.hits[i].entry;
      for (std::size_t j = 0; j + 1 < k; ++j) ordered = ordered && top.hits_of(i)[j].score >= top.hits_of(i)[j + 1].score;
    }
    const auto lat = top.latents.to_host();
    std::vector<float> firsts, want;
    for (std::size_t i = 0; i < q; ++i) {
      firsts.insert(firsts.end(), lat.begin() + (i * k) * C, lat.begin() + (i * k + 1) * C);
      want.insert(want.end(), z.begin() + (100 + i) * C, z.begin() + (101 + i) * C);
    }
    check(ordered && first, "top-5 reads on the GPU: each query's own entry first, scores descending");
    check(same, "top-1 read on the GPU = read(), to the bit");
    check(max_rel_row_error(firsts, want, C) < 1e-4, "top-5 reads on the GPU: the first hit reads its latent");
  }

  // fp16 lookups and block memories (the narrowing/widening kernels on the GPU): the same hits, reads within 2u.
  for (precision p : {precision::fp16, precision::bf16}) {
    sharded_memory<float, D, keys::fixed_nearest, solver::pseudoinverse> half(
        {.slots = 512, .code_size = C, .lookup_size = L, .lookup_precision = p, .memory_precision = p});
    const auto hids = half.write(matrix_ref<const float>(z.data(), N, C), matrix_ref<const float>(look.data(), N, L));
    const auto hr = half.read(matrix_ref<const float>(look.data(), N, L));
    std::size_t same = 0;
    for (std::size_t i = 0; i < N; ++i) same += hr.hits[i].entry == hids[i];
    const std::string name = precision_name(p);
    check(same == N, (name + " lookups on the GPU: every segment found").c_str());
    check(max_rel_row_error(hr.latents.to_host(), z, C) < 2 * unit_roundoff(p),
          (name + " memory on the GPU: every read within 2u of its latent").c_str());
  }

  sharded_memory<float, D, keys::prefix_encoding, solver::iterative<60, solver::init::safe>> prefix(
      {.slots = 512, .code_size = C, .lookup_size = L});
  prefix.write(matrix_ref<const float>(z.data(), 600, C), matrix_ref<const float>(look.data(), 600, L));
  const auto pr = prefix.read(matrix_ref<const float>(look.data(), 600, L));
  check(max_rel_row_error(pr.latents.to_host(), std::vector<float>(z.begin(), z.begin() + 600 * C), C) < 2e-3,
        "prefix encoding with the iterative solver on the GPU");

  {
    sharded_memory<float, D, keys::fixed_nearest, solver::pseudoinverse> small({.slots = 64, .code_size = 32});
    small.write(matrix_ref<const float>(z.data(), 100, 32), matrix_ref<const float>(z.data(), 100, 32));
    const auto before = small.read(matrix_ref<const float>(z.data(), 100, 32)).latents.to_host();
    storage::device_memory::set_limit(storage::device_memory::in_use() + 4096);
    bool named = false;
    try {
      small.write(matrix_ref<const float>(z.data(), 200, 32), matrix_ref<const float>(z.data(), 200, 32));
    } catch (const out_of_memory& e) {
      named = e.requested_bytes > 0 && std::string(e.what()).find(std::to_string(e.requested_bytes)) != std::string::npos;
    }
    storage::device_memory::set_limit(0);
    check(named, "a write past the device memory limit throws out_of_memory naming the bytes");
    check(small.size() == 100 && small.read(matrix_ref<const float>(z.data(), 100, 32)).latents.to_host() == before,
          "... and the memory is unchanged");
    bool oom = false;
    try {
      D::make<float>(std::size_t{1} << 22, std::size_t{1} << 22);  // 64 TiB
    } catch (const out_of_memory& e) {
      oom = e.requested_bytes == (std::size_t{1} << 46);
    }
    check(oom, "cudaMalloc failing for 64 TiB becomes out_of_memory with the size");
    bool scratch_oom = false;  // an operation's scratch (cuSOLVER workspaces, arg-max slices) likewise
    try {
      backend::scratch<backend::cuda, float>(std::size_t{1} << 44);  // 64 TiB
    } catch (const out_of_memory& e) {
      scratch_oom = e.requested_bytes == (std::size_t{1} << 46);
    }
    check(scratch_oom, "scratch memory failing for 64 TiB becomes out_of_memory with the size");
  }
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a crash keeps every line printed before it (gpu-check.sh's report)
  try {
    return run_checks();
  } catch (const std::exception& e) {  // a CUDA/cuBLAS/cuSOLVER status outside the checks that expect one
    std::printf("FAIL: uncaught exception: %s\n", e.what());
    return 2;
  }
}
