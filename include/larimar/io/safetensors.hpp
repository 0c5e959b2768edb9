#pragma once
// Reading and writing safetensors files (Hugging Face's weight format; the rules are in docs/formats.md).
// A file is an 8-byte little-endian header length N, N bytes of JSON describing every tensor, then the data
// buffer. open() maps the file and validates everything up front, so that every tensor_view it hands out points
// at bytes that exist: a corrupt or malicious file is a format_error naming the file and the problem, never a crash
// or an out-of-bounds read. Every safetensors dtype is read; to_f32 converts the float ones (F32, F16, BF16).
#include <larimar/core/checked_size.hpp>
#include <larimar/core/error.hpp>
#include <larimar/core/quote.hpp>
#include <larimar/io/atomic_file.hpp>
#include <larimar/core/half.hpp>
#include <larimar/io/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace larimar::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so must the host be");

// Every dtype of the safetensors format is read (a real checkpoint may carry integer buffers such as BERT's
// embeddings.position_ids next to its weights); only f32, f16 and bf16 convert to f32 for computing (to_f32).
enum class dtype { f32, f16, bf16, f64, i64, i32, i16, i8, u64, u32, u16, u8, boolean, f8_e4m3, f8_e5m2 };

namespace detail {
struct dtype_info {
  dtype type;
  std::string_view name;
  std::size_t size;
};
inline constexpr dtype_info dtype_table[] = {
    {dtype::f32, "F32", 4},  {dtype::f16, "F16", 2},     {dtype::bf16, "BF16", 2},        {dtype::f64, "F64", 8},
    {dtype::i64, "I64", 8},  {dtype::i32, "I32", 4},     {dtype::i16, "I16", 2},          {dtype::i8, "I8", 1},
    {dtype::u64, "U64", 8},  {dtype::u32, "U32", 4},     {dtype::u16, "U16", 2},          {dtype::u8, "U8", 1},
    {dtype::boolean, "BOOL", 1}, {dtype::f8_e4m3, "F8_E4M3", 1}, {dtype::f8_e5m2, "F8_E5M2", 1}};
inline const dtype_info& info(dtype type) {
  for (const auto& d : dtype_table)
    if (d.type == type) return d;
  throw value_error("dtype: invalid dtype value " + std::to_string(static_cast<int>(type)));
}
}  // namespace detail

inline std::size_t dtype_size(dtype type) { return detail::info(type).size; }

// The safetensors spelling: "F32", "F16", "BF16", "I64", ...
inline std::string_view dtype_name(dtype type) { return detail::info(type).name; }

// The dtypes to_f32 converts: what the runtime computes with.
inline bool is_float_compute_type(dtype type) {
  return type == dtype::f32 || type == dtype::f16 || type == dtype::bf16;
}

// Inverse of dtype_name; nullopt for a spelling the safetensors format does not define.
inline std::optional<dtype> dtype_from_name(std::string_view name) {
  for (const auto& d : detail::dtype_table)
    if (d.name == name) return d.type;
  return std::nullopt;
}

// One tensor of a file: where its bytes are and how to read them. Row-major, little-endian, possibly unaligned.
struct tensor_view {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::size_t> shape;  // empty shape = a scalar (one element)
  const std::byte* data = nullptr;  // points into the mapping / owned buffer of the safetensors_file
  std::size_t size_bytes = 0;

  std::size_t numel() const {
    std::size_t n = 1;
    for (const std::size_t d : shape) n *= d;
    return n;
  }
  std::span<const std::byte> bytes() const noexcept { return {data, size_bytes}; }
};

namespace detail {

using ::larimar::detail::escape;
using ::larimar::detail::quote;

// "[3, 4]" for messages.
inline std::string shape_string(std::span<const std::size_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

using ::larimar::detail::checked_numel;

inline std::optional<std::size_t> checked_byte_size(std::span<const std::size_t> shape, dtype type) {
  const auto n = checked_numel(shape);
  const std::size_t element = dtype_size(type);
  if (!n || *n > std::numeric_limits<std::size_t>::max() / element) return std::nullopt;
  return *n * element;
}

// The header is limited like the reference implementation's (100 MB): parsing a bigger JSON is a denial of service.
inline constexpr std::size_t max_header_bytes = 100'000'000;
// A valid header nests 3 levels (object > entry > shape array); anything far deeper is an attack on the parser.
inline constexpr int max_header_depth = 64;

struct parsed_header {
  std::map<std::string, tensor_view, std::less<>> tensors;
  std::map<std::string, std::string> metadata;
};

using ::larimar::detail::format_failure;

// Parses and validates a whole file image; every problem is a format_error prefixed by `context`.
inline parsed_header parse_safetensors(std::span<const std::byte> file, const std::string& context) {
  const format_failure fail{context};
  using json = nlohmann::json;
  if (file.size() < 8)
    fail("the file is " + std::to_string(file.size()) + " bytes, shorter than the 8-byte header length field");
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | std::to_integer<std::uint64_t>(file[i]);
  if (header_length > max_header_bytes)
    fail("header length " + std::to_string(header_length) + " exceeds the limit of " +
         std::to_string(max_header_bytes) + " bytes");
  const std::size_t after_length = file.size() - 8;
  if (header_length > after_length)
    fail("header length " + std::to_string(header_length) + " runs past the end of the file (only " +
         std::to_string(after_length) + " bytes follow the length field)");
  const auto header_size = static_cast<std::size_t>(header_length);
  const auto* header_begin = reinterpret_cast<const char*>(file.data() + 8);
  if (header_size == 0 || header_begin[0] != '{') fail("the header does not start with '{'");
  // nlohmann's lexer stops at a NUL byte as if the text ended there, which would accept "{}\0<anything>";
  // valid JSON never contains a raw NUL, so reject it here (the format pads with spaces only).
  if (std::memchr(header_begin, 0, header_size) != nullptr)
    fail("the header contains a NUL byte (padding must be spaces)");

  // nlohmann keeps the last of duplicate keys silently; the format forbids duplicates, so watch every object.
  std::vector<std::set<std::string, std::less<>>> open_objects;
  std::optional<std::string> duplicate;
  const json::parser_callback_t watch_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_header_depth)  // stop now: a 100 MB "[[[[..." would otherwise build 100M nested values
      fail("the header nests deeper than " + std::to_string(max_header_depth) + " levels");
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty() && !duplicate) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_size, watch_keys);
  } catch (const json::exception& e) {
    fail("the header is not valid JSON (" + detail::escape(e.what(), 1024) + ")");
  }
  if (duplicate) fail("the header has the key " + detail::quote(*duplicate) + " more than once");
  if (!header.is_object()) fail("the header is not a JSON object");

  const std::size_t data_size = after_length - header_size;
  const std::byte* data = file.data() + 8 + header_size;
  parsed_header result;
  struct extent {
    std::size_t begin, end;
    const std::string* name;
  };
  std::vector<extent> extents;
  extents.reserve(header.size());

  const auto read_index = [&](const json& value, const std::string& what) -> std::size_t {
    // Only non-negative integers; nlohmann turns integers beyond 2^64 into floats, which this rejects too.
    if (!value.is_number_unsigned()) fail(what + " is not a non-negative integer");
    const auto v = value.get<std::uint64_t>();
    if (v > std::numeric_limits<std::size_t>::max()) fail(what + " does not fit in size_t");
    return static_cast<std::size_t>(v);
  };

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail("'__metadata__' is not an object of strings");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) fail("'__metadata__' entry " + detail::quote(key) + " is not a string");
        result.metadata.emplace(key, value.get<std::string>());
      }
      continue;
    }
    const std::string tensor = "tensor " + detail::quote(name);
    if (!entry.is_object()) fail(tensor + ": the entry is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(field)) fail(tensor + ": the entry has no '" + field + "'");
    const json& type_json = entry["dtype"];
    if (!type_json.is_string()) fail(tensor + ": 'dtype' is not a string");
    const auto& type_name = type_json.get_ref<const std::string&>();
    const auto type = dtype_from_name(type_name);
    if (!type)
      fail("unsupported dtype " + detail::quote(type_name) + " for " + tensor +
           " (safetensors dtypes: F32, F16, BF16, F64, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)");

    const json& shape_json = entry["shape"];
    if (!shape_json.is_array()) fail(tensor + ": 'shape' is not an array");
    std::vector<std::size_t> shape;
    shape.reserve(shape_json.size());
    for (std::size_t i = 0; i < shape_json.size(); ++i)
      shape.push_back(read_index(shape_json[i], tensor + ": shape[" + std::to_string(i) + "]"));

    const json& offsets_json = entry["data_offsets"];
    if (!offsets_json.is_array() || offsets_json.size() != 2)
      fail(tensor + ": 'data_offsets' is not an array of two integers");
    const std::size_t begin = read_index(offsets_json[0], tensor + ": data_offsets[0]");
    const std::size_t end = read_index(offsets_json[1], tensor + ": data_offsets[1]");
    const std::string range = "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
    if (begin > end) fail(tensor + ": data_offsets " + range + " begin after they end");
    if (end > data_size)
      fail(tensor + ": data_offsets " + range + " run past the " + std::to_string(data_size) +
           "-byte data buffer");
    const auto expected = checked_byte_size(shape, *type);
    if (!expected) fail(tensor + ": the byte size of shape " + shape_string(shape) + " overflows");
    if (*expected != end - begin)
      fail(tensor + ": " + std::string(dtype_name(*type)) + " shape " + shape_string(shape) + " needs " +
           std::to_string(*expected) + " bytes but data_offsets " + range + " hold " + std::to_string(end - begin));

    tensor_view view{name, *type, std::move(shape), data + begin, end - begin};
    const auto [it, inserted] = result.tensors.emplace(name, std::move(view));
    if (!inserted) fail("the header has the key " + detail::quote(name) + " more than once");
    extents.push_back({begin, end, &it->first});
  }

  // The format requires the tensors to tile the data buffer exactly: no overlap (two names, one storage), no hole
  // and nothing after the last tensor (no hidden payload: a file is exactly what its header says).
  std::sort(extents.begin(), extents.end(), [](const extent& a, const extent& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::size_t covered = 0;
  const std::string* previous = nullptr;
  for (const extent& e : extents) {
    if (e.begin < covered)
      fail("tensors " + quote(*previous) + " and " + quote(*e.name) + " overlap (the second begins at byte " +
           std::to_string(e.begin) + " of the data buffer, the first ends at " + std::to_string(covered) + ")");
    if (e.begin > covered)
      fail("bytes [" + std::to_string(covered) + ", " + std::to_string(e.begin) +
           ") of the data buffer belong to no tensor");
    covered = e.end;
    previous = e.name;
  }
  if (covered != data_size)
    fail("bytes [" + std::to_string(covered) + ", " + std::to_string(data_size) +
         ") at the end of the data buffer belong to no tensor");
  return result;
}

}  // namespace detail

class safetensors_file {
 public:
  // Maps the file and validates the header and every tensor's extent. io_error if the file cannot be read,
  // format_error if it is not a valid safetensors file with F32/F16/BF16 tensors only.
  static safetensors_file open(const std::filesystem::path& path) {
    safetensors_file file;
    file.path_ = path;
    file.mapping_ = mapped_file(path);
    file.adopt(file.mapping_.bytes(), "safetensors_file::open: '" + path.string() + "': ");
    return file;
  }

  // The same validation over bytes the object takes ownership of (tests, fuzzing, files fetched elsewhere).
  static safetensors_file from_bytes(std::vector<std::byte> bytes) {
    safetensors_file file;
    file.owned_ = std::move(bytes);  // moved vectors keep their buffer, so views stay valid when `file` moves
    file.adopt(file.owned_, "safetensors_file::from_bytes: ");
    return file;
  }

  safetensors_file(safetensors_file&&) noexcept = default;
  safetensors_file& operator=(safetensors_file&&) noexcept = default;
  safetensors_file(const safetensors_file&) = delete;  // views point into this object's bytes
  safetensors_file& operator=(const safetensors_file&) = delete;
  ~safetensors_file() = default;

  bool contains(std::string_view name) const { return tensors_.find(name) != tensors_.end(); }

  const tensor_view& at(std::string_view name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end())
      throw format_error("safetensors_file::at: tensor " + detail::quote(name) + " not found in " + describe());
    return it->second;
  }

  // As at(name), and the tensor must have exactly `shape` (shape_error otherwise).
  const tensor_view& at(std::string_view name, std::initializer_list<std::size_t> shape) const {
    return at(name, std::span<const std::size_t>(shape.begin(), shape.size()));
  }
  const tensor_view& at(std::string_view name, std::span<const std::size_t> shape) const {
    const tensor_view& view = at(name);
    if (!std::equal(view.shape.begin(), view.shape.end(), shape.begin(), shape.end()))
      throw shape_error("safetensors_file::at: tensor " + detail::quote(view.name) + " in " + describe() + " has shape " +
                        detail::shape_string(view.shape) + ", expected " + detail::shape_string(shape));
    return view;
  }

  std::vector<std::string> names() const {  // sorted
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& entry : tensors_) out.push_back(entry.first);
    return out;
  }
  std::size_t size() const noexcept { return tensors_.size(); }  // number of tensors

  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }  // "__metadata__"
  const std::filesystem::path& path() const noexcept { return path_; }                      // empty for from_bytes

 private:
  safetensors_file() = default;

  void adopt(std::span<const std::byte> bytes, const std::string& context) {
    auto parsed = detail::parse_safetensors(bytes, context);
    tensors_ = std::move(parsed.tensors);
    metadata_ = std::move(parsed.metadata);
  }

  std::string describe() const {
    if (path_.empty()) return "the in-memory file";
    std::string quoted = path_.string();  // built in place: GCC 12's -Wrestrict misfires on "'" + string
    quoted.insert(quoted.begin(), '\'');
    quoted.push_back('\'');
    return quoted;
  }

  std::filesystem::path path_;
  mapped_file mapping_;
  std::vector<std::byte> owned_;
  std::map<std::string, tensor_view, std::less<>> tensors_;  // transparent: look up by string_view
  std::map<std::string, std::string> metadata_;
};

// Converts any supported dtype to f32 into `out` (which must have numel() elements: shape_error otherwise).
// Reads through memcpy, so the tensor may sit at any alignment in the file.
inline void to_f32(const tensor_view& view, std::span<float> out) {
  const std::size_t n = view.numel();
  if (out.size() != n)
    throw shape_error("to_f32: tensor " + detail::quote(view.name) + " has " + std::to_string(n) + " elements, the output " +
                      std::to_string(out.size()));
  const auto bytes = detail::checked_byte_size(view.shape, view.type);
  if (!bytes || *bytes != view.size_bytes)
    throw shape_error("to_f32: tensor " + detail::quote(view.name) + " holds " + std::to_string(view.size_bytes) +
                      " bytes, which does not match its " + std::string(dtype_name(view.type)) + " shape " +
                      detail::shape_string(view.shape));
  if (!is_float_compute_type(view.type))
    throw value_error("to_f32: tensor " + detail::quote(view.name) + " is " + std::string(dtype_name(view.type)) +
                      "; only F32, F16 and BF16 tensors convert to f32");
  if (n == 0) return;
  switch (view.type) {
    case dtype::f32:
      std::memcpy(out.data(), view.data, n * sizeof(float));
      return;
    case dtype::f16:
    case dtype::bf16: {
      const bool is_f16 = view.type == dtype::f16;
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t bits = 0;
        std::memcpy(&bits, view.data + 2 * i, 2);
        out[i] = is_f16 ? f16_to_f32(bits) : bf16_to_f32(bits);
      }
      return;
    }
    default:
      return;  // unreachable: refused above
  }
}

inline std::vector<float> to_f32(const tensor_view& view) {
  std::vector<float> out(view.numel());
  to_f32(view, out);
  return out;
}

// One tensor for save_safetensors: `bytes` are its little-endian elements, row-major, numel * dtype_size long.
struct tensor_to_save {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::size_t> shape;
  std::span<const std::byte> bytes;
};

// Writes a safetensors file that Hugging Face's library (and safetensors_file::open) reads back. Tensors are laid
// out by decreasing element size, then by name, and the header is padded with spaces to a multiple of 8 bytes, so
// every tensor is aligned to its element size in the file. Atomic and durable (io/atomic_file.hpp): on any failure
// `path` is untouched.
// value_error for an empty, duplicate or reserved name or a name/metadata that is not UTF-8, shape_error if a
// tensor's bytes do not match its shape, io_error if the file system refuses.
inline void save_safetensors(const std::filesystem::path& path, std::span<const tensor_to_save> tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  std::string who = "save_safetensors: '" + path.string() + "'";
  const std::string op = who + ": ";
  std::vector<std::size_t> order(tensors.size());
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const tensor_to_save& t = tensors[i];
    order[i] = i;
    if (t.name.empty()) throw value_error(op + "tensor " + std::to_string(i) + " has an empty name");
    if (t.name == "__metadata__") throw value_error(op + "'__metadata__' is reserved and cannot name a tensor");
    if (!seen.insert(t.name).second) throw value_error(op + "tensor name " + detail::quote(t.name) + " appears twice");
    const auto expected = detail::checked_byte_size(t.shape, t.type);
    if (!expected || *expected != t.bytes.size())
      throw shape_error(op + "tensor " + detail::quote(t.name) + " has " + std::to_string(t.bytes.size()) + " bytes, its " +
                        std::string(dtype_name(t.type)) + " shape " + detail::shape_string(t.shape) + " needs " +
                        (expected ? std::to_string(*expected) : std::string("more than 2^64")));
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::size_t sa = dtype_size(tensors[a].type), sb = dtype_size(tensors[b].type);
    return sa != sb ? sa > sb : tensors[a].name < tensors[b].name;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const std::size_t i : order) {
    const tensor_to_save& t = tensors[i];
    header[t.name] = {{"dtype", dtype_name(t.type)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw value_error(op + "a tensor name or metadata string is not valid UTF-8 (" + detail::escape(e.what(), 1024) +
                      ")");
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::byte length_field[8];
  for (std::size_t i = 0; i < 8; ++i)
    length_field[i] = static_cast<std::byte>((static_cast<std::uint64_t>(header_text.size()) >> (8 * i)) & 0xffu);

  detail::atomic_file out(path, std::move(who));
  out.write(length_field, 8);
  out.write(header_text.data(), header_text.size());
  for (const std::size_t i : order) out.write(tensors[i].bytes.data(), tensors[i].bytes.size());
  out.commit();
}

}  // namespace larimar::io
