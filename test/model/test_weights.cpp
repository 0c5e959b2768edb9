// Weights kept in their format (model/weight_matrix.hpp, model/weight_product.hpp, model/kernels/weight_kernels.hpp,
// core/cpu_dispatch.hpp): storage and quantisation, every kernel at every instruction-set level this CPU has plus
// the plain C++ fallback against an exact reference, and the whole shipped model (f16 file) with its weights kept
// in f16 / bf16 / int8 against the same weights widened to f32.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "larimar/core/cpu_dispatch.hpp"
#include "larimar/model/model.hpp"

using namespace larimar;
using namespace larimar::model;
using host_matrix = weight_matrix<backend::omp>;
namespace fx = model_fixtures;

namespace {

std::string name(weight_format f) { return weight_format_name(f); }
std::string name(cpu_isa i) { return cpu_isa_name(i); }

constexpr weight_format all_formats[] = {weight_format::f32, weight_format::f16, weight_format::bf16,
                                         weight_format::int8};

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale = 1.f) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// How far each stored value may be from the fp32 one it came from: f16/bf16 relative (u·|w|), int8 absolute (s/2).
double storage_error(weight_format f, double w, double row_max) {
  switch (f) {
    case weight_format::f16: return std::ldexp(std::fabs(w), -11);
    case weight_format::bf16: return std::ldexp(std::fabs(w), -8);
    case weight_format::int8: return row_max / 254 * (1 + 1e-6) + std::ldexp(std::fabs(w), -23);
    default: return 0;
  }
}

// γ_m·(Σ|x·ŵ| + |beta·y|) with m = n + 4: the accumulation bound of weight_kernels.hpp with room for the int8
// scale's and the beta term's roundings (any summation order, BLAS included).
double accumulation_bound(std::size_t n, double magnitude) {
  const double m = static_cast<double>(n + 4) * 0x1p-24;
  return m / (1 - m) * magnitude + 1e-30;
}

struct product_case {
  std::size_t rows, cols;
};
// Odd sizes and every tail: 16-wide (AVX-512) and 8-wide (AVX2) loops, 4-row and 2-row blocks, 64-row tiles.
constexpr product_case shapes[] = {{1, 1},  {1, 7},   {3, 5},    {4, 16},   {5, 17},  {7, 31},  {9, 33},
                                   {13, 64}, {2, 129}, {65, 100}, {130, 257}, {67, 768}, {200, 8}};

// Checks y (R × rows, stride ldy) against x·Ŵᵀ + beta·y0 with Ŵ the stored values (exact reference in double), and
// against the unrounded fp32 weights within the format's storage error. Returns the largest error vs Ŵ.
double check_product(const std::vector<float>& original, const host_matrix& m, std::size_t R,
                     const std::vector<float>& x, std::size_t ldx, float beta, const std::vector<float>& y0,
                     const std::vector<float>& y, std::size_t ldy) {
  const std::size_t rows = m.rows(), cols = m.cols();
  const std::vector<float> stored = m.to_f32();
  double worst = 0;
  for (std::size_t o = 0; o < rows; ++o) {
    double row_max = 0;
    for (std::size_t i = 0; i < cols; ++i) row_max = std::max(row_max, std::fabs(double(original[o * cols + i])));
    for (std::size_t r = 0; r < R; ++r) {
      double exact = 0, magnitude = 0, exact32 = 0, storage = 0;
      for (std::size_t i = 0; i < cols; ++i) {
        const double xi = x[r * ldx + i], w = stored[o * cols + i], w32 = original[o * cols + i];
        exact += xi * w;
        magnitude += std::fabs(xi * w);
        exact32 += xi * w32;
        storage += std::fabs(xi) * storage_error(m.format(), w32, row_max);
      }
      const double prior = beta == 0.f ? 0.0 : double(beta) * y0[r * ldy + o];
      exact += prior;
      exact32 += prior;
      const double got = y[r * ldy + o];
      const double bound = accumulation_bound(cols, magnitude + std::fabs(prior));
      const double err = std::fabs(got - exact);
      worst = std::max(worst, err);
      if (!(err <= bound)) {
        CAPTURE(o);
        CAPTURE(r);
        CHECK(got == doctest::Approx(exact));
        CHECK(err <= bound);
        return worst;
      }
      if (!(std::fabs(got - exact32) <= storage * (1 + 1e-5) + 2 * bound)) {
        CAPTURE(o);
        CAPTURE(r);
        CHECK(std::fabs(got - exact32) <= storage * (1 + 1e-5) + 2 * bound);
        return worst;
      }
    }
    for (std::size_t r = 0; r < R; ++r)  // padding past the rows is never written
      for (std::size_t c = rows; c < ldy; ++c)
        if (y[r * ldy + c] != y0[r * ldy + c]) {
          CHECK(y[r * ldy + c] == y0[r * ldy + c]);
          return worst;
        }
  }
  return worst;
}

std::filesystem::path tiny_model_dir() {
  return fx::dir().parent_path().parent_path().parent_path() / "models" / "larimar-tiny";
}
const nlohmann::json& tiny_segments() {
  static const nlohmann::json j = [] {
    std::ifstream in(fx::dir() / "larimar_tiny_parity.json");
    return nlohmann::json::parse(in);
  }();
  return j["segments"];
}

// Logits at every position of p through a prefill of its first token and one step per further token: every
// weight product is a one-row one (the fused GEMV for narrow weights, sgemv for f32), as in decoding.
std::vector<float> stepped_logits(const gpt2_decoder<>& d, const std::vector<token_id>& p, std::span<const float> z) {
  auto cache = d.new_cache(1);
  const std::vector<std::vector<token_id>> first{{p[0]}};
  std::vector<float> out = d.prefill(cache, first, z);
  for (std::size_t t = 1; t < p.size(); ++t) {
    const std::vector<token_id> next{p[t]};
    const auto l = d.step(cache, next);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

}  // namespace

TEST_CASE("cpu_dispatch: levels, names and the LARIMAR_CPU_ISA cap") {
  for (const cpu_isa isa : {cpu_isa::generic, cpu_isa::avx2, cpu_isa::avx512})
    CHECK(parse_cpu_isa(cpu_isa_name(isa)) == isa);
  CHECK_FALSE(parse_cpu_isa("sse4"));
  CHECK(cap_cpu_isa(cpu_isa::avx512, nullptr) == cpu_isa::avx512);
  CHECK(cap_cpu_isa(cpu_isa::avx512, "") == cpu_isa::avx512);
  CHECK(cap_cpu_isa(cpu_isa::avx512, "avx2") == cpu_isa::avx2);
  CHECK(cap_cpu_isa(cpu_isa::avx512, "generic") == cpu_isa::generic);
  CHECK(cap_cpu_isa(cpu_isa::avx2, "avx512") == cpu_isa::avx2);  // a cap, never more than the processor has
  CHECK_THROWS_AS(cap_cpu_isa(cpu_isa::avx2, "AVX2"), value_error);
  const auto levels = available_cpu_isas();
  REQUIRE(!levels.empty());
  CHECK(levels.front() == cpu_isa::generic);
  CHECK(levels.back() == detected_cpu_isa());
  CHECK(cpu_isa_in_use() <= detected_cpu_isa());
  MESSAGE("this CPU: " << name(detected_cpu_isa()) << "; in use: " << name(cpu_isa_in_use()));
  weight_product<backend::omp> p;
  if (detected_cpu_isa() < cpu_isa::avx512) CHECK_THROWS_AS(p.use_cpu_isa(cpu_isa::avx512), value_error);
  p.use_cpu_isa(cpu_isa::generic);
  CHECK(p.isa() == cpu_isa::generic);
}

TEST_CASE("weight_matrix: storage in each format, rounding and int8 quantisation") {
  const std::size_t rows = 9, cols = 37;
  auto values = random_values(rows * cols, 1, 0.5f);
  for (std::size_t i = 0; i < cols; ++i) values[3 * cols + i] = 0.f;  // an all-zero row
  values[5 * cols + 2] = -3.f;                                          // a row with one large value
  for (const weight_format f : all_formats) {
    CAPTURE(name(f));
    const auto m = host_matrix::from_f32(values, rows, cols, f);
    CHECK(m.rows() == rows);
    CHECK(m.cols() == cols);
    CHECK(m.format() == f);
    CHECK(m.bytes() == rows * cols * weight_format_bytes(f) + (f == weight_format::int8 ? rows * 4 : 0));
    const auto got = m.to_f32();
    REQUIRE(got.size() == values.size());
    std::size_t mismatches = 0;
    for (std::size_t o = 0; o < rows; ++o) {
      float amax = 0;
      for (std::size_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(values[o * cols + i]));
      for (std::size_t i = 0; i < cols; ++i) {
        const float v = values[o * cols + i], g = got[o * cols + i];
        float want = v;
        if (f == weight_format::f16) want = larimar::f16_to_f32(larimar::f32_to_f16(v));
        if (f == weight_format::bf16) want = larimar::bf16_to_f32(larimar::f32_to_bf16(v));
        if (f == weight_format::int8) {
          const float s = amax / 127.f;
          const float q = s > 0 ? std::round(v / s) : 0.f;
          want = s * q;
          CHECK(std::fabs(g - v) <= amax / 254 * 1.000001f);  // the documented bound, s/2
        }
        mismatches += g != want;
      }
    }
    CHECK(mismatches == 0);
    if (f == weight_format::int8) {
      for (std::size_t i = 0; i < cols; ++i) CHECK(got[3 * cols + i] == 0.f);
      CHECK(got[5 * cols + 2] == -3.f);  // the row's extreme is q = −127 exactly: s·q = max|w|
    }
  }
  std::vector<float> bad = values;
  bad[4] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(host_matrix::from_f32(bad, rows, cols, weight_format::int8), value_error);
  bad[4] = 70000.f;  // beyond f16's range: refused rather than turned into infinity
  CHECK_THROWS_WITH_AS(host_matrix::from_f32(bad, rows, cols, weight_format::f16), doctest::Contains("f16's range"),
                       value_error);
  CHECK_NOTHROW(host_matrix::from_f32(bad, rows, cols, weight_format::bf16));
  CHECK_THROWS_AS(host_matrix::from_f32(values, rows, cols + 1, weight_format::f32), shape_error);
}

TEST_CASE("weight_matrix: from a safetensors tensor, as stored or transposed, in the file's format by default") {
  const auto file = io::safetensors_file::open(fx::dir() / "tiny-f16" / "decoder.safetensors");
  const auto& view = file.at("transformer.h.0.attn.c_attn.weight");  // Conv1D [in, out], F16
  REQUIRE(view.type == io::dtype::f16);
  REQUIRE(view.shape.size() == 2);
  const std::size_t in = view.shape[0], out = view.shape[1];
  const auto values = io::to_f32(view);
  const auto kept = host_matrix::from_tensor(view, true, std::nullopt);
  CHECK(kept.format() == weight_format::f16);
  CHECK(kept.rows() == out);
  CHECK(kept.cols() == in);
  const auto got = kept.to_f32();
  std::size_t mismatches = 0;
  for (std::size_t o = 0; o < out; ++o)
    for (std::size_t i = 0; i < in; ++i) mismatches += got[o * in + i] != values[i * out + o];
  CHECK(mismatches == 0);  // the file's bits, transposed
  const auto plain = host_matrix::from_tensor(view, false, std::nullopt);
  CHECK(plain.rows() == in);
  CHECK(plain.to_f32() == values);
  const auto wide = host_matrix::from_tensor(view, true, weight_format::f32);
  CHECK(wide.format() == weight_format::f32);
  CHECK(wide.to_f32() == got);  // f16 -> f32 is exact
  const auto q = host_matrix::from_tensor(view, true, weight_format::int8);
  CHECK(q.format() == weight_format::int8);
  CHECK(q.to_f32() == host_matrix::from_f32(got, out, in, weight_format::int8).to_f32());
}

TEST_CASE("the plain path's branchless f16 conversion equals larimar::f16_to_f32 on every bit pattern") {
  std::size_t mismatches = 0;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    mismatches += std::bit_cast<std::uint32_t>(weight_kernels::plain::f16_to_f32(bits)) !=
                  std::bit_cast<std::uint32_t>(larimar::f16_to_f32(bits));
  }
  CHECK(mismatches == 0);
}

TEST_CASE("fused GEMV: every format, 1-4 rows, odd sizes, every dispatch path vs an exact reference") {
  std::uint64_t seed = 100;
  for (const cpu_isa isa : available_cpu_isas()) {
    CAPTURE(name(isa));
    double worst = 0;
    for (const weight_format f : all_formats) {
      CAPTURE(name(f));
      for (const auto& [rows, cols] : shapes) {
        CAPTURE(rows);
        CAPTURE(cols);
        const auto w = random_values(rows * cols, ++seed, 0.2f);
        const auto m = host_matrix::from_f32(w, rows, cols, f);
        for (std::size_t R = 1; R <= weight_kernels::max_rows; ++R) {
          CAPTURE(R);
          const std::size_t ldx = cols + 3, ldy = rows + 2;
          const auto x = random_values(R * ldx, ++seed);
          for (const float beta : {0.f, 1.f, 0.5f}) {
            CAPTURE(beta);
            auto y0 = random_values(R * ldy, ++seed);
            auto y = y0;
            if (beta == 0.f)  // beta 0 writes without reading: NaN there must not come through
              for (std::size_t r = 0; r < R; ++r)
                for (std::size_t o = 0; o < rows; ++o) y[r * ldy + o] = std::numeric_limits<float>::quiet_NaN();
            weight_kernels::gemv(isa, m.view(), R, x.data(), ldx, beta, y.data(), ldy, 0, rows);
            worst = std::max(worst, check_product(w, m, R, x, ldx, beta, y0, y, ldy));
          }
        }
      }
    }
    MESSAGE(name(isa) << ": largest |GEMV − exact| over all cases " << worst);
  }
}

// The int8-input GEMV (model/kernels/q8_gemv.hpp): against the exact product of the quantised input and the stored
// weights (the group sums are exact, so only fp32 additions differ: γ bound), and against the fp32 input within the
// documented bound s_o·Σ_b (t_b/2)·Σ_(i∈b) |q_oi|; every level, VNNI and not, odd sizes and every tail.
TEST_CASE("int8-input GEMV: every level, 1-4 rows, odd sizes, vs the exact product and the documented bound") {
  std::uint64_t seed = 900;
  for (const cpu_isa isa : available_cpu_isas())
    for (const bool vnni : {true, false}) {
      CAPTURE(name(isa));
      CAPTURE(vnni);
      double worst_rel = 0;
      for (const auto& [rows, cols] : shapes) {
        CAPTURE(rows);
        CAPTURE(cols);
        const auto w = random_values(rows * cols, ++seed, 0.2f);
        const auto m = host_matrix::from_f32(w, rows, cols, weight_format::int8);
        const weight_view v = m.view();
        const auto* qw = static_cast<const std::int8_t*>(v.data);
        for (std::size_t R = 1; R <= q8_gemv::max_rows; ++R) {
          CAPTURE(R);
          const std::size_t ldx = cols + 3, ldy = rows + 2;
          auto x = random_values(R * ldx, ++seed);
          if (cols > 40) x[3] = 40.f;  // an outlier: its block's step is coarse, the others' are not
          q8_gemv::quantized_input q;
          q8_gemv::quantize(x.data(), ldx, R, cols, q);
          for (const float beta : {0.f, 1.f}) {
            const auto y0 = random_values(R * ldy, ++seed);
            auto y = y0;
            q8_gemv::gemv(isa, v, q, beta, y.data(), ldy, 0, rows, vnni);
            for (std::size_t r = 0; r < R; ++r)
              for (std::size_t o = 0; o < rows; ++o) {
                double exact_q = 0, magnitude = 0, exact_x = 0, step = 0;
                for (std::size_t i = 0; i < cols; ++i) {
                  const double t = q.scale_row(r)[i / 4], wi = double(v.scale[o]) * qw[o * cols + i];
                  REQUIRE(std::fabs(double(x[r * ldx + i]) - t * q.p_row(r)[i]) <= t / 2 * (1 + 1e-6) + 1e-30);
                  exact_q += t * q.p_row(r)[i] * wi;
                  magnitude += std::fabs(t * q.p_row(r)[i] * wi);
                  exact_x += double(x[r * ldx + i]) * wi;
                  step += t / 2 * std::fabs(wi);
                }
                const double prior = beta == 0.f ? 0.0 : double(y0[r * ldy + o]);
                const double got = y[r * ldy + o];
                const double bound = accumulation_bound(cols / 4 + 2, magnitude + std::fabs(prior));
                if (!(std::fabs(got - exact_q - prior) <= bound) ||
                    !(std::fabs(got - exact_x - prior) <= step * (1 + 1e-6) + bound)) {
                  CAPTURE(o);
                  CAPTURE(r);
                  CHECK(std::fabs(got - exact_q - prior) <= bound);
                  CHECK(std::fabs(got - exact_x - prior) <= step * (1 + 1e-6) + bound);
                  return;
                }
                if (step > 0) worst_rel = std::max(worst_rel, std::fabs(got - exact_x - prior) / step);
              }
            for (std::size_t r = 0; r < R; ++r)  // padding past the rows is never written
              for (std::size_t c = rows; c < ldy; ++c) REQUIRE(y[r * ldy + c] == y0[r * ldy + c]);
          }
        }
      }
      MESSAGE(name(isa) << std::string(vnni ? " (vnni where present)" : " (no vnni)")
                        << ": largest |GEMV − fp32-input product| / the input-step bound " << worst_rel);
    }
}

TEST_CASE("fused GEMV: a sub-range of output rows touches only those rows") {
  const std::size_t rows = 23, cols = 45, o0 = 5, o1 = 18;
  const auto w = random_values(rows * cols, 7);
  const auto x = random_values(2 * cols, 8);
  for (const cpu_isa isa : available_cpu_isas())
    for (const weight_format f : all_formats) {
      CAPTURE(name(isa));
      CAPTURE(name(f));
      const auto m = host_matrix::from_f32(w, rows, cols, f);
      std::vector<float> part(2 * rows, -1.f), full(2 * rows, 0.f);
      weight_kernels::gemv(isa, m.view(), 2, x.data(), cols, 0.f, part.data(), rows, o0, o1);
      weight_kernels::gemv(isa, m.view(), 2, x.data(), cols, 0.f, full.data(), rows, 0, rows);
      for (std::size_t r = 0; r < 2; ++r)
        for (std::size_t o = 0; o < rows; ++o)
          CHECK(part[r * rows + o] == (o >= o0 && o < o1 ? full[r * rows + o] : -1.f));
    }
  const auto m = host_matrix::from_f32(w, rows, cols, weight_format::f16);
  std::vector<float> y(5 * rows);
  CHECK_THROWS_AS(weight_kernels::gemv(cpu_isa::generic, m.view(), 5, x.data(), cols, 0.f, y.data(), rows, 0, rows),
                  value_error);
}

TEST_CASE("widen_rows: every format and dispatch path gives exactly the stored values") {
  for (const cpu_isa isa : available_cpu_isas())
    for (const weight_format f : all_formats)
      for (const auto& [rows, cols] : shapes) {
        CAPTURE(name(isa));
        CAPTURE(name(f));
        CAPTURE(rows);
        CAPTURE(cols);
        const auto m = host_matrix::from_f32(random_values(rows * cols, rows * 1000 + cols), rows, cols, f);
        const auto stored = m.to_f32();
        const std::size_t o0 = rows / 3, o1 = rows;
        std::vector<float> panel((o1 - o0) * cols + 1, 42.f);
        weight_kernels::widen_rows(isa, m.view(), o0, o1, panel.data());
        CHECK(std::equal(panel.begin(), panel.end() - 1, stored.begin() + static_cast<std::ptrdiff_t>(o0 * cols)));
        CHECK(panel.back() == 42.f);  // nothing written past the panel
      }
}

TEST_CASE("weight_product: BLAS for f32, fused GEMV for <= 4 rows, widened panels + sgemm beyond") {
  const backend::blas<backend::omp> blas;
  std::uint64_t seed = 5000;
  for (const cpu_isa isa : available_cpu_isas())
    for (const weight_format f : all_formats)
      for (const auto& [rows, cols] : {product_case{130, 257}, product_case{67, 768}, product_case{3, 5}}) {
        CAPTURE(name(isa));
        CAPTURE(name(f));
        CAPTURE(rows);
        CAPTURE(cols);
        const auto w = random_values(rows * cols, ++seed, 0.2f);
        const auto m = host_matrix::from_f32(w, rows, cols, f);
        // panels: the default (one panel here), 1000 values (several + a short last one), 1 (a row each)
        for (const std::size_t panel : {weight_product<backend::omp>::default_panel_elements, std::size_t{1000},
                                        std::size_t{1}}) {
          weight_product<backend::omp> product;
          product.use_cpu_isa(isa);
          product.set_panel_elements(panel);
          product.use_int8_activations(false);  // the default, exact on the stored weights (int8 inputs: own test)
          for (const std::size_t R : {1, 2, 4, 5, 9, 33}) {
            CAPTURE(panel);
            CAPTURE(R);
            const std::size_t ldx = cols + 1, ldy = rows + 3;
            const auto x = random_values(R * ldx, ++seed);
            for (const float beta : {0.f, 1.f}) {
              const auto y0 = random_values(R * ldy, ++seed);
              auto y = y0;
              product(blas, m, R, x.data(), ldx, beta, y.data(), ldy);
              check_product(w, m, R, x, ldx, beta, y0, y, ldy);
            }
          }
        }
      }
}

TEST_CASE("bytes per decode token: int8 reads at most 0.3 of f32's weight bytes") {
  const auto cfg = load_model_config(tiny_model_dir() / "config.json");
  REQUIRE(cfg.decoder);
  std::size_t f32_bytes = 0;
  for (const weight_format f : all_formats) {
    CAPTURE(name(f));
    const auto d = gpt2_decoder<>::load(tiny_model_dir(), load_options{f});
    CHECK(d.weights_format() == f);
    CHECK(d.weight_bytes_per_token() == gpt2_decoder<>::decode_weight_bytes(*cfg.decoder, f));
    if (f == weight_format::f32) f32_bytes = d.weight_bytes_per_token();
    MESSAGE("larimar-tiny " << name(f) << ": " << d.weight_bytes_per_token() << " weight bytes per token ("
                            << double(d.weight_bytes_per_token()) / double(f32_bytes) << " of f32)");
  }
  // larimar-tiny: 2,636,800 (f32), 1,325,824 (f16, bf16), 687,748 (int8): 0.261; GPT-2-small shapes: 0.252
  const double tiny = double(gpt2_decoder<>::decode_weight_bytes(*cfg.decoder, weight_format::int8)) / double(f32_bytes);
  CHECK(tiny <= 0.3);
  decoder_config small = *cfg.decoder;
  small.n_embd = 768;
  small.n_layer = 12;
  small.n_head = 12;
  small.vocab_size = 50257;
  const double gpt2_small = double(gpt2_decoder<>::decode_weight_bytes(small, weight_format::int8)) /
                            double(gpt2_decoder<>::decode_weight_bytes(small, weight_format::f32));
  MESSAGE("GPT-2-small shapes: int8 / f32 = " << gpt2_small << "; f16 / f32 = "
                                             << double(gpt2_decoder<>::decode_weight_bytes(small, weight_format::f16)) /
                                                    double(gpt2_decoder<>::decode_weight_bytes(small, weight_format::f32)));
  CHECK(gpt2_small <= 0.3);
}

// The shipped larimar-tiny (an f16 file) with its weights kept in each format vs the same weights widened to f32
// (the reference), 40 held-out segments: latents from the f32 encoder, logits at every position of BOS + the
// segment's tokens both at once (R > 4: widened panels + sgemm) and one token at a time (R = 1: the fused GEMV vs
// sgemv), and greedy reconstructions of up to 40 tokens. Measured (AVX-512 and the forced plain path alike; the
// largest |logit| is 58.3):
//   f16 kept: max |logit diff| 0 at once (the panels widen to the same f32 values), 5.3e-5 (AVX-512) / 6.9e-5
//             (plain) one at a time (summation order only); greedy identical 40/40;
//   bf16:     0.257 (weights rounded to 8 bits, u = 2⁻⁸); greedy identical 40/40;
//   int8:     0.893 (per-row scales, |ŵ − w| ≤ max|w_row|/254); greedy identical 38/40.
// The checks leave room: f16 ≤ 1e-3 and all identical; bf16 ≤ 0.5, int8 ≤ 1.5, and at least 36 / 34 of 40 identical.
TEST_CASE("larimar-tiny with weights kept in f16, bf16, int8 vs widened to f32: logits and greedy outputs") {
  const auto& segments = tiny_segments();
#if defined(LARIMAR_SANITIZED)
  const std::size_t n = 10;  // under ASan at -O0 the 40 segments of the release run take minutes
#else
  const std::size_t n = 40;
#endif
  REQUIRE(segments.size() >= n);
  const auto encoder = bert_encoder<>::load(tiny_model_dir(), load_options{weight_format::f32});
  const auto reference = gpt2_decoder<>::load(tiny_model_dir(), load_options{weight_format::f32});
  CHECK(reference.weights_format() == weight_format::f32);
  generation_options greedy;
  greedy.max_new_tokens = 40;
  const std::vector<token_id> bos = {0};
  std::vector<std::vector<float>> latents;
  std::vector<std::vector<token_id>> prompts, expected;
  for (std::size_t i = 0; i < n; ++i) {
    const auto ids = fx::ids(segments[i]["encoder_ids"]);
    const std::vector<std::vector<token_id>> batch = {ids};
    const auto encoding = encoder.encode(batch);
    const auto z = encoding.latent_mean(0);
    latents.emplace_back(z.begin(), z.end());
    std::vector<token_id> p = {0};  // BOS + the segment's tokens (no CLS/SEP), cut to the context
    p.insert(p.end(), ids.begin() + 1, ids.end() - 1);
    p.resize(std::min<std::size_t>(p.size(), reference.config().n_positions - 1));
    prompts.push_back(p);
    expected.push_back(reference.generate(bos, latents.back(), greedy).tokens);
  }
  struct expectation {
    std::optional<weight_format> format;  // nullopt: the default, the file's (f16)
    cpu_isa isa;
    float logit_bound;
    std::size_t min_identical;
  };
  const std::vector<expectation> cases = {{std::nullopt, cpu_isa_in_use(), 1e-3f, n},
                                          {std::nullopt, cpu_isa::generic, 1e-3f, n},
                                          {weight_format::bf16, cpu_isa_in_use(), 0.5f, n - 4},
                                          {weight_format::int8, cpu_isa_in_use(), 1.5f, n - 6},
                                          {weight_format::int8, cpu_isa::generic, 1.5f, n - 6}};
  for (const auto& c : cases) {
    auto d = gpt2_decoder<>::load(tiny_model_dir(), load_options{c.format});
    d.use_cpu_isa(c.isa);
    const weight_format f = d.weights_format();
    CAPTURE(name(f));
    CAPTURE(name(c.isa));
    if (!c.format) CHECK(f == weight_format::f16);  // the file's format by default
    float worst_full = 0, worst_stepped = 0, largest = 0;
    std::size_t identical = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto want = reference.logits(prompts[i], latents[i]);
      for (const float v : want) largest = std::max(largest, std::fabs(v));
      worst_full = std::max(worst_full, fx::max_abs_diff(d.logits(prompts[i], latents[i]), want));
      worst_stepped = std::max(worst_stepped, fx::max_abs_diff(stepped_logits(d, prompts[i], latents[i]),
                                                               stepped_logits(reference, prompts[i], latents[i])));
      identical += d.generate(bos, latents[i], greedy).tokens == expected[i];
    }
    MESSAGE(name(f) << " (" << name(c.isa) << ") vs f32: max |logit diff| " << worst_full << " (all positions at once), "
                    << worst_stepped << " (one token at a time); largest |logit| " << largest << "; greedy identical "
                    << identical << "/" << n);
    CHECK(worst_full <= c.logit_bound);
    CHECK(worst_stepped <= c.logit_bound);
    CHECK(identical >= c.min_identical);
  }
}

TEST_CASE("larimar-tiny: prefill (panel GEMM) + steps (fused GEMV) = the full forward in every format") {
  const auto& s = tiny_segments()[3];
  const auto ids = fx::ids(s["encoder_ids"]);
  std::vector<token_id> p = {0};
  p.insert(p.end(), ids.begin() + 1, ids.end() - 1);
  REQUIRE(p.size() >= 8);
  const std::vector<float> z = random_values(256, 77, 0.5f);
  for (const weight_format f : all_formats) {
    CAPTURE(name(f));
    auto d = gpt2_decoder<>::load(tiny_model_dir(), load_options{f});
    d.use_int8_activations(false);  // the default: the steps' inputs stay fp32, as the prefill's: the same products
    const std::size_t V = d.vocab_size();
    const auto full = d.logits(p, z);  // every position at once: R = |p| > 4, the panel path
    auto cache = d.new_cache(1);
    const std::vector<std::vector<token_id>> head{{p.begin(), p.begin() + 6}};
    const auto first = d.prefill(cache, head, z);
    CHECK(fx::max_abs_diff(first, std::span<const float>(full).subspan(5 * V, V)) < 1e-4f);
    for (std::size_t t = 6; t < p.size(); ++t) {  // one row: the fused GEMV
      CAPTURE(t);
      const std::vector<token_id> next{p[t]};
      CHECK(fx::max_abs_diff(d.step(cache, next), std::span<const float>(full).subspan(t * V, V)) < 1e-4f);
    }
    if (f == weight_format::int8) {  // with int8 inputs the steps differ by the input rounding only
      d.use_int8_activations(true);
      auto c2 = d.new_cache(1);
      d.prefill(c2, head, z);
      float worst = 0;
      for (std::size_t t = 6; t < p.size(); ++t) {
        const std::vector<token_id> next{p[t]};
        worst = std::max(worst, fx::max_abs_diff(d.step(c2, next), std::span<const float>(full).subspan(t * V, V)));
      }
      MESSAGE("int8 steps with int8 inputs vs the full forward: max |logit diff| " << worst);
      CHECK(worst < 1.f);  // measured 0.66 (largest |logit| 58)
    }
  }
}

// Encoder latents (mean and log-variance) of 20 segments in one batch (the panel path), weights kept vs widened:
// f16 (the file's values) within 1e-4 (measured 2.7e-7), int8 within 0.1 (measured 0.045).
TEST_CASE("larimar-tiny encoder with weights kept in f16 / int8 vs widened to f32") {
  const auto& segments = tiny_segments();
  std::vector<std::vector<token_id>> batch;
  for (std::size_t i = 0; i < 20; ++i) batch.push_back(fx::ids(segments[i]["encoder_ids"]));
  const auto reference = bert_encoder<>::load(tiny_model_dir(), load_options{weight_format::f32}).encode(batch);
  for (const auto& [format, bound] :
       {std::pair{std::optional<weight_format>{}, 1e-4f}, std::pair{std::optional{weight_format::int8}, 0.1f}}) {
    const auto e = bert_encoder<>::load(tiny_model_dir(), load_options{format});
    CAPTURE(name(e.weights_format()));
    if (!format) CHECK(e.weights_format() == weight_format::f16);
    const float diff = fx::max_abs_diff(e.encode(batch).latent, reference.latent);
    MESSAGE("encoder " << name(e.weights_format()) << " vs f32: max |latent diff| " << diff);
    CHECK(diff <= bound);
  }
}
