// safetensors reading (files from Hugging Face's library), writing (round trip) and rejecting bad files.
#include <larimar/io/safetensors.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace larimar::io;
using larimar::bf16_to_f32;
using larimar::f16_to_f32;
using larimar::f32_to_bf16;
using larimar::f32_to_f16;
using larimar::format_error;
using larimar::io_error;
using larimar::shape_error;
using larimar::value_error;

namespace {

const fs::path fixtures = fs::path(LARIMAR_FIXTURE_DIR) / "io";

// A fresh directory per test, removed afterwards.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("larimar-io-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::vector<std::byte> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

void write_bytes(const fs::path& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A file image: little-endian length (the header's own unless overridden), the header text, then `data`.
std::vector<std::byte> image(const std::string& header, const std::vector<std::byte>& data = {},
                             std::optional<std::uint64_t> claimed_length = std::nullopt) {
  const std::uint64_t length = claimed_length.value_or(header.size());
  std::vector<std::byte> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((length >> (8 * i)) & 0xffu));
  for (const char c : header) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<std::byte> zeros(std::size_t n) { return std::vector<std::byte>(n, std::byte{0}); }

template <class T>
std::span<const std::byte> as_bytes(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

std::string error_of(const std::vector<std::byte>& bytes) {
  try {
    (void)safetensors_file::from_bytes(bytes);
  } catch (const format_error& e) {
    return e.what();
  }
  return "(no format_error)";
}

}  // namespace

TEST_CASE("a file written by the Python safetensors library reads back exactly") {
  const fs::path path = fixtures / "python_mixed.safetensors";
  const auto file = safetensors_file::open(path);
  std::ifstream ref_in(fixtures / "python_mixed.json");
  const auto ref = nlohmann::json::parse(ref_in);

  CHECK(file.path() == path);
  std::vector<std::string> expected_names;
  for (const auto& [name, _] : ref["tensors"].items()) expected_names.push_back(name);
  CHECK(file.names() == expected_names);
  CHECK(file.size() == expected_names.size());
  CHECK(file.metadata() == ref["metadata"].get<std::map<std::string, std::string>>());

  for (const auto& item : ref["tensors"].items()) {
    const std::string name = item.key();  // not a structured binding: clang 14 cannot capture those in CAPTURE
    const auto& entry = item.value();
    CAPTURE(name);
    REQUIRE(file.contains(name));
    const tensor_view& view = file.at(name);
    CHECK(view.name == name);
    CHECK(dtype_name(view.type) == entry["dtype"].get<std::string>());
    CHECK(view.shape == entry["shape"].get<std::vector<std::size_t>>());
    CHECK(view.size_bytes == view.numel() * dtype_size(view.type));
    const std::vector<float> values = to_f32(view);
    const auto expected_bits = entry["f32_bits"].get<std::vector<std::uint32_t>>();
    REQUIRE(values.size() == expected_bits.size());
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(std::bit_cast<std::uint32_t>(values[i]) == expected_bits[i]);
  }
  // spot checks of values the script chose, so a broken reference cannot pass silently
  CHECK(to_f32(file.at("layer.weight", {2, 3}))[2] == 3.25f);
  CHECK(to_f32(file.at("scalar", {}))[0] == 42.5f);
  CHECK(file.at("empty", {0, 3}).numel() == 0);
  const auto bias = to_f32(file.at("layer.bias", {9}));
  CHECK(bias[0] == std::ldexp(1.0f, -24));  // smallest f16 subnormal
  CHECK(bias[3] == 65504.0f);
  CHECK(std::isinf(bias[4]));
  CHECK(std::isnan(bias[6]));
  CHECK(std::signbit(bias[7]));
}

TEST_CASE("from_bytes validates and reads like open, and views survive moves") {
  const fs::path path = fixtures / "python_mixed.safetensors";
  auto from_memory = safetensors_file::from_bytes(read_bytes(path));
  CHECK(from_memory.path().empty());
  const auto from_disk = safetensors_file::open(path);
  CHECK(from_memory.names() == from_disk.names());
  const auto expected = to_f32(from_disk.at("random.matrix", {5, 7}));
  safetensors_file moved = std::move(from_memory);
  CHECK(to_f32(moved.at("random.matrix", {5, 7})) == expected);
  auto reopened = safetensors_file::open(path);
  reopened = std::move(moved);
  CHECK(to_f32(reopened.at("random.matrix")) == expected);
}

TEST_CASE("lookup errors name the tensor, the file and the shapes") {
  const fs::path path = fixtures / "python_mixed.safetensors";
  const auto file = safetensors_file::open(path);
  CHECK_FALSE(file.contains("missing.weight"));
  CHECK_THROWS_WITH_AS(file.at("missing.weight"),
                       doctest::Contains(("tensor 'missing.weight' not found in '" + path.string() + "'").c_str()),
                       format_error);
  CHECK_THROWS_WITH_AS(file.at("layer.weight", {3, 2}),
                       doctest::Contains(("tensor 'layer.weight' in '" + path.string() +
                                          "' has shape [2, 3], expected [3, 2]").c_str()),
                       shape_error);
  CHECK_THROWS_AS(file.at("layer.weight", {2, 3, 1}), shape_error);
  CHECK_THROWS_AS(file.at("scalar", {1}), shape_error);
  CHECK_NOTHROW(file.at("scalar", {}));
  std::vector<float> small(5);
  CHECK_THROWS_WITH_AS(to_f32(file.at("layer.weight"), small),
                       doctest::Contains("tensor 'layer.weight' has 6 elements, the output 5"), shape_error);
  const auto bytes_file = safetensors_file::from_bytes(read_bytes(path));
  CHECK_THROWS_WITH_AS(bytes_file.at("nope"), doctest::Contains("not found in the in-memory file"), format_error);
}

TEST_CASE("save_safetensors round trip: values, metadata, alignment, header padding") {
  temp_dir dir;
  const fs::path path = dir.path / "round.safetensors";
  const std::vector<float> weights{1.5f, -2.0f, 0.1f, 1e-40f /* subnormal */, INFINITY, -0.0f};
  const std::vector<float> bias_f32{0.5f, -1.25f, 1e-7f, 70000.0f, 3.0f};
  std::vector<std::uint16_t> bias_f16, table_bf16;
  for (const float v : bias_f32) bias_f16.push_back(f32_to_f16(v));
  const std::vector<float> table_f32{1.0f, 2.0f, 3.0f, -1e30f, 0.3f, 7.0f, 8.0f};
  for (const float v : table_f32) table_bf16.push_back(f32_to_bf16(v));
  const std::vector<float> scalar{6.25f};
  const std::vector<tensor_to_save> tensors{
      {"z.bias", dtype::f16, {5}, as_bytes(bias_f16)},  // odd f16 count: would misalign a following f32
      {"a.weight", dtype::f32, {2, 3}, as_bytes(weights)},
      {"table", dtype::bf16, {7, 1}, as_bytes(table_bf16)},
      {"scalar", dtype::f32, {}, as_bytes(scalar)},
      {"nothing", dtype::f32, {0, 4}, {}},
  };
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "h\xc3\xa9llo"}};
  save_safetensors(path, tensors, metadata);

  const auto raw = read_bytes(path);
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, raw.data(), 8);
  CHECK(header_length % 8 == 0);

  const auto file = safetensors_file::open(path);
  CHECK(file.names() == std::vector<std::string>{"a.weight", "nothing", "scalar", "table", "z.bias"});
  CHECK(file.metadata() == metadata);
  const auto w = to_f32(file.at("a.weight", {2, 3}));
  for (std::size_t i = 0; i < weights.size(); ++i)
    CHECK(std::bit_cast<std::uint32_t>(w[i]) == std::bit_cast<std::uint32_t>(weights[i]));
  const auto b = to_f32(file.at("z.bias", {5}));
  for (std::size_t i = 0; i < b.size(); ++i) CHECK(b[i] == f16_to_f32(bias_f16[i]));
  CHECK(b[0] == 0.5f);
  CHECK(std::isinf(b[3]));  // 70000 overflows f16
  const auto t = to_f32(file.at("table", {7, 1}));
  CHECK(t[0] == 1.0f);
  CHECK(t[3] == bf16_to_f32(f32_to_bf16(-1e30f)));
  CHECK(std::fabs(t[3] / -1e30f - 1.0f) < 1.0f / 128);
  CHECK(to_f32(file.at("scalar", {}))[0] == 6.25f);
  CHECK(file.at("nothing", {0, 4}).size_bytes == 0);
  // every tensor is aligned to its element size within the file (f32 first, then the 2-byte types)
  const std::byte* base = raw.data();
  const auto reread = safetensors_file::from_bytes(raw);
  for (const auto& name : reread.names()) {
    const auto& view = reread.at(name);
    CHECK((view.data - base) % static_cast<std::ptrdiff_t>(dtype_size(view.type)) == 0);
  }
  // nothing but the file is left in the directory (the temporary was renamed)
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("save_safetensors rejects bad input and leaves an existing file untouched") {
  temp_dir dir;
  const fs::path path = dir.path / "keep.safetensors";
  const std::vector<float> values{1.0f, 2.0f, 3.0f, 4.0f};
  save_safetensors(path, std::vector<tensor_to_save>{{"w", dtype::f32, {4}, as_bytes(values)}});
  const auto before = read_bytes(path);

  const std::vector<float> other{9.0f, 9.0f};
  CHECK_THROWS_WITH_AS(save_safetensors(path, std::vector<tensor_to_save>{{"w", dtype::f32, {3}, as_bytes(other)}}),
                       doctest::Contains("tensor 'w' has 8 bytes, its F32 shape [3] needs 12"), shape_error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, std::vector<tensor_to_save>{{"w", dtype::f32, {2}, as_bytes(other)},
                                                                           {"w", dtype::f32, {2}, as_bytes(other)}}),
                       doctest::Contains("'w' appears twice"), value_error);
  CHECK_THROWS_AS(save_safetensors(path, std::vector<tensor_to_save>{{"__metadata__", dtype::f32, {2}, as_bytes(other)}}),
                  value_error);
  CHECK_THROWS_AS(save_safetensors(path, std::vector<tensor_to_save>{{"", dtype::f32, {2}, as_bytes(other)}}),
                  value_error);
  CHECK_THROWS_AS(save_safetensors(path, std::vector<tensor_to_save>{{"bad\xff", dtype::f32, {2}, as_bytes(other)}}),
                  value_error);
  CHECK_THROWS_AS(save_safetensors(path, std::vector<tensor_to_save>{{"huge", dtype::f32, {1ull << 62, 8}, {}}}),
                  shape_error);
  CHECK(read_bytes(path) == before);
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  CHECK_THROWS_WITH_AS(save_safetensors(dir.path / "no" / "such" / "dir.safetensors", std::vector<tensor_to_save>{}),
                       doctest::Contains("no/such/dir.safetensors"), io_error);

  // an empty file (no tensors) is valid and reads back empty
  save_safetensors(dir.path / "empty.safetensors", std::vector<tensor_to_save>{});
  const auto empty = safetensors_file::open(dir.path / "empty.safetensors");
  CHECK(empty.names().empty());
  CHECK(empty.metadata().empty());
}

TEST_CASE("mapped_file: empty files, missing files, directories") {
  temp_dir dir;
  write_bytes(dir.path / "empty", {});
  mapped_file empty(dir.path / "empty");
  CHECK(empty.size() == 0);
  CHECK(empty.bytes().empty());
  CHECK_THROWS_WITH_AS(mapped_file(dir.path / "missing"),
                       doctest::Contains(((dir.path / "missing").string() + "': No such file").c_str()), io_error);
  CHECK_THROWS_WITH_AS(mapped_file(dir.path), doctest::Contains("is a directory, not a regular file"), io_error);
  write_bytes(dir.path / "five", {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}});
  mapped_file five(dir.path / "five");
  REQUIRE(five.size() == 5);
  CHECK(five.data()[4] == std::byte{5});
  mapped_file moved = std::move(five);
  CHECK(moved.data()[0] == std::byte{1});
  CHECK(five.size() == 0);  // NOLINT(bugprone-use-after-move): a moved-from mapping is empty by contract
  // open() of an empty file is a format_error (shorter than the length field), naming the file
  CHECK_THROWS_WITH_AS(safetensors_file::open(dir.path / "empty"),
                       doctest::Contains(((dir.path / "empty").string() + "': the file is 0 bytes").c_str()), format_error);
  CHECK_THROWS_AS(safetensors_file::open(dir.path / "missing"), io_error);
}

TEST_CASE("valid edge cases: unaligned tensors, padding, zero-size tensors, unknown entry fields") {
  // header of odd length, so the F32 tensor after a 3-element F16 tensor sits at an odd address
  std::string header =
      R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"w":{"dtype":"F32","shape":[2],"data_offsets":[6,14]}})";
  if (header.size() % 2 == 0) header += ' ';
  REQUIRE(header.size() % 2 == 1);
  std::vector<std::byte> data;
  const std::uint16_t h[3] = {0x3c00, 0xc000, 0x0001};  // 1, -2, 2^-24
  const float w[2] = {3.5f, -0.25f};
  data.resize(14);
  std::memcpy(data.data(), h, 6);
  std::memcpy(data.data() + 6, w, 8);
  const auto file = safetensors_file::from_bytes(image(header, data));
  CHECK(reinterpret_cast<std::uintptr_t>(file.at("w").data) % 4 != 0);
  CHECK(to_f32(file.at("w", {2})) == std::vector<float>{3.5f, -0.25f});
  CHECK(to_f32(file.at("h", {3})) == std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)});

  // trailing spaces pad the header; an empty header object with no data is a valid, empty file
  CHECK(safetensors_file::from_bytes(image("{}      ")).names().empty());
  // zero-size tensors take no bytes, and a huge dimension next to a zero one is not an overflow
  const auto zero = safetensors_file::from_bytes(image(
      R"({"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]},)"
      R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"c":{"dtype":"F16","shape":[2,0],"data_offsets":[2,2]}})",
      zeros(2)));
  CHECK(zero.at("a").numel() == 0);
  CHECK(to_f32(zero.at("a")).empty());
  CHECK(to_f32(zero.at("b")) == std::vector<float>{0.0f});
  // fields other than dtype/shape/data_offsets are ignored, like the reference implementation does
  CHECK(safetensors_file::from_bytes(image(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":[1]}})",
                                           zeros(4)))
            .contains("x"));
}

TEST_CASE("malicious or corrupt files: a format_error naming the problem, never a crash") {
  const auto f32_entry = [](const std::string& name, const std::string& shape, const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
  };
  SUBCASE("shorter than the length field") {
    CHECK(error_of({}).find("the file is 0 bytes, shorter than the 8-byte header length field") != std::string::npos);
    CHECK(error_of(zeros(7)).find("the file is 7 bytes") != std::string::npos);
  }
  SUBCASE("header length beyond the file or absurd") {
    CHECK(error_of(image("{}", {}, 3)).find("header length 3 runs past the end of the file (only 2 bytes") !=
          std::string::npos);
    CHECK(error_of(image("{}", {}, ~0ull)).find("header length 18446744073709551615 exceeds the limit") !=
          std::string::npos);
    CHECK(error_of(image("{}", {}, 100'000'001)).find("exceeds the limit of 100000000 bytes") != std::string::npos);
    CHECK(error_of(image("", {})).find("does not start with '{'") != std::string::npos);
  }
  SUBCASE("header not JSON or not an object") {
    CHECK(error_of(image("[1,2]")).find("does not start with '{'") != std::string::npos);
    CHECK(error_of(image(" {}")).find("does not start with '{'") != std::string::npos);
    CHECK(error_of(image("{\"a\":")).find("the header is not valid JSON") != std::string::npos);
    CHECK(error_of(image("{} x")).find("the header is not valid JSON") != std::string::npos);
    CHECK(error_of(image(std::string("{}\0\0", 4))).find("the header contains a NUL byte") != std::string::npos);
    CHECK(error_of(image("{\"bad\xff\":1}")).find("the header is not valid JSON") != std::string::npos);
    std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK(error_of(image(deep)).find("the header nests deeper than 64 levels") != std::string::npos);
    std::string deep_objects;
    for (int i = 0; i < 100000; ++i) deep_objects += "{\"a\":";
    CHECK(error_of(image(deep_objects)).find("nests deeper than 64 levels") != std::string::npos);
    const std::string nested_ok = "{\"__metadata__\":{},\"a\":" + std::string(62, '[') + std::string(62, ']') + "}";
    CHECK(error_of(image(nested_ok)).find("tensor 'a': the entry is not an object") != std::string::npos);
  }
  SUBCASE("duplicate keys") {
    CHECK(error_of(image("{" + f32_entry("x", "[1]", "[0,4]") + "," + f32_entry("x", "[1]", "[4,8]") + "}",
                         zeros(8)))
              .find("the header has the key 'x' more than once") != std::string::npos);
    CHECK(error_of(image(R"({"x":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})", zeros(4)))
              .find("the key 'dtype' more than once") != std::string::npos);
  }
  SUBCASE("entries without the fields or with wrong JSON types") {
    CHECK(error_of(image(R"({"x":[1]})")).find("tensor 'x': the entry is not an object") != std::string::npos);
    CHECK(error_of(image(R"({"x":{"shape":[1],"data_offsets":[0,4]}})", zeros(4)))
              .find("tensor 'x': the entry has no 'dtype'") != std::string::npos);
    CHECK(error_of(image(R"({"x":{"dtype":"F32","data_offsets":[0,4]}})", zeros(4)))
              .find("tensor 'x': the entry has no 'shape'") != std::string::npos);
    CHECK(error_of(image(R"({"x":{"dtype":"F32","shape":[1]}})", zeros(4)))
              .find("tensor 'x': the entry has no 'data_offsets'") != std::string::npos);
    CHECK(error_of(image(R"({"x":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", zeros(4)))
              .find("tensor 'x': 'dtype' is not a string") != std::string::npos);
    CHECK(error_of(image(R"({"x":{"dtype":"F32","shape":{"0":1},"data_offsets":[0,4]}})", zeros(4)))
              .find("tensor 'x': 'shape' is not an array") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[-1]", "[0,4]") + "}", zeros(4)))
              .find("tensor 'x': shape[0] is not a non-negative integer") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[1,1.0]", "[0,4]") + "}", zeros(4)))
              .find("tensor 'x': shape[1] is not a non-negative integer") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[\"1\"]", "[0,4]") + "}", zeros(4)))
              .find("shape[0] is not a non-negative integer") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[1]", "[0,4,8]") + "}", zeros(8)))
              .find("'data_offsets' is not an array of two integers") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[1]", "4") + "}", zeros(4)))
              .find("'data_offsets' is not an array of two integers") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[1]", "[-4,0]") + "}", zeros(4)))
              .find("data_offsets[0] is not a non-negative integer") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[1]", "[0,1e400]") + "}", zeros(4)))
              .find("not valid JSON") != std::string::npos);  // out-of-range number literal
    CHECK(error_of(image("{" + f32_entry("x", "[1]", "[0,18446744073709551616]") + "}", zeros(4)))
              .find("data_offsets[1] is not a non-negative integer") != std::string::npos);
  }
  SUBCASE("unsupported dtypes") {
    CHECK(error_of(image(R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", zeros(1)))
              .find("unsupported dtype 'Q4' for tensor 'x' (safetensors dtypes: F32,") != std::string::npos);
    CHECK(error_of(image(R"({"x":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", zeros(4)))
              .find("unsupported dtype 'f32'") != std::string::npos);
    // A known non-float dtype is still size-checked: I64 is 8 bytes per element.
    CHECK(error_of(image(R"({"x":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}})", zeros(8))).find("needs 16") !=
          std::string::npos);
  }
  SUBCASE("offsets out of range, reversed, or not matching the shape") {
    CHECK(error_of(image("{" + f32_entry("x", "[2]", "[0,8]") + "}", zeros(4)))
              .find("tensor 'x': data_offsets [0, 8) run past the 4-byte data buffer") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[0]", "[4,0]") + "}", zeros(4)))
              .find("tensor 'x': data_offsets [4, 0) begin after they end") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[3]", "[0,8]") + "}", zeros(8)))
              .find("F32 shape [3] needs 12 bytes but data_offsets [0, 8) hold 8") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[4294967296,4294967296]", "[0,0]") + "}"))
              .find("the byte size of shape [4294967296, 4294967296] overflows") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("x", "[4611686018427387904]", "[0,0]") + "}"))
              .find("overflows") != std::string::npos);  // numel fits, numel * 4 does not
    CHECK(error_of(image("{" + f32_entry("x", "[1]", "[18446744073709551611,18446744073709551615]") + "}", zeros(4)))
              .find("run past the 4-byte data buffer") != std::string::npos);
  }
  SUBCASE("overlapping tensors, holes and uncovered bytes") {
    CHECK(error_of(image("{" + f32_entry("a", "[2]", "[0,8]") + "," + f32_entry("b", "[2]", "[4,12]") + "}",
                         zeros(12)))
              .find("tensors 'a' and 'b' overlap") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("a", "[1]", "[0,4]") + "," + f32_entry("b", "[1]", "[0,4]") + "}",
                         zeros(4)))
              .find("overlap") != std::string::npos);  // two names, one storage
    CHECK(error_of(image("{" + f32_entry("a", "[2]", "[0,8]") + "," + f32_entry("b", "[0]", "[4,4]") + "}",
                         zeros(8)))
              .find("overlap") != std::string::npos);  // a zero-size tensor inside another one
    CHECK(error_of(image("{" + f32_entry("a", "[1]", "[0,4]") + "," + f32_entry("b", "[1]", "[8,12]") + "}",
                         zeros(12)))
              .find("bytes [4, 8) of the data buffer belong to no tensor") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("a", "[1]", "[4,8]") + "}", zeros(8)))
              .find("bytes [0, 4) of the data buffer belong to no tensor") != std::string::npos);
    CHECK(error_of(image("{" + f32_entry("a", "[1]", "[0,4]") + "}", zeros(5)))
              .find("bytes [4, 5) at the end of the data buffer belong to no tensor") != std::string::npos);
    CHECK(error_of(image("{}", zeros(1))).find("bytes [0, 1) at the end") != std::string::npos);
  }
  SUBCASE("__metadata__ must be a map of strings") {
    CHECK(error_of(image(R"({"__metadata__":["a"]})")).find("'__metadata__' is not an object of strings") !=
          std::string::npos);
    CHECK(error_of(image(R"({"__metadata__":{"epoch":3}})")).find("'__metadata__' entry 'epoch' is not a string") !=
          std::string::npos);
  }
}

TEST_CASE("integer tensors (a real checkpoint's position_ids) are read; to_f32 refuses them by name") {
  std::vector<std::byte> data(8 * 3 + 4);
  const std::int64_t ids[3] = {0, 1, 2};
  std::memcpy(data.data(), ids, sizeof ids);
  const float w = 1.5f;
  std::memcpy(data.data() + 24, &w, 4);
  const auto file = safetensors_file::from_bytes(image(
      R"({"position_ids":{"dtype":"I64","shape":[1,3],"data_offsets":[0,24]},"w":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}})",
      data));
  const auto& pid = file.at("position_ids", {1, 3});
  CHECK(pid.type == dtype::i64);
  std::int64_t back[3];
  std::memcpy(back, pid.data, sizeof back);
  CHECK(back[2] == 2);
  CHECK_THROWS_WITH_AS(to_f32(pid), "to_f32: tensor 'position_ids' is I64; only F32, F16 and BF16 tensors convert to f32",
                       value_error);
  CHECK(to_f32(file.at("w"))[0] == 1.5f);
}

TEST_CASE("open() errors name the file") {
  temp_dir dir;
  const fs::path path = dir.path / "bad.safetensors";
  write_bytes(path, image(R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", zeros(1)));
  CHECK_THROWS_WITH_AS(safetensors_file::open(path),
                       ("safetensors_file::open: '" + path.string() +
                        "': unsupported dtype 'Q4' for tensor 'x' (safetensors dtypes: F32, F16, BF16, F64, I64, I32, "
                        "I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)")
                           .c_str(),
                       format_error);
  // every prefix of a valid file is rejected cleanly (truncated downloads)
  const auto good = read_bytes(fixtures / "python_mixed.safetensors");
  int rejected = 0;
  for (std::size_t n = 0; n < good.size(); ++n) {
    try {
      (void)safetensors_file::from_bytes(std::vector<std::byte>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    } catch (const format_error&) {
      ++rejected;
    }
  }
  CHECK(rejected == static_cast<int>(good.size()));
}

TEST_CASE("names and JSON errors with a NUL or invalid UTF-8 are quoted escaped in messages") {
  // A tensor name with an escaped NUL: the message once ended at it ("... for tensor 'a").
  const std::string named = error_of(image(R"({"a\u0000b":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", zeros(1)));
  CHECK(named.find(R"(unsupported dtype 'Q4' for tensor 'a\0b')") != std::string::npos);
  // The JSON parser's own message quotes the bytes it stopped at: raw invalid UTF-8 once.
  const std::string parse = error_of(image("{\"bad\xff\":1}"));
  CHECK(parse.find("the header is not valid JSON") != std::string::npos);
  CHECK(parse.find("\\xff") != std::string::npos);
  bool utf8 = true;
  for (std::size_t pos = 0; pos < parse.size(); pos += larimar::detail::decode_utf8(parse, pos).length)
    utf8 = utf8 && larimar::detail::decode_utf8(parse, pos).valid;
  CHECK(utf8);
}
