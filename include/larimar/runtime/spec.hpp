#pragma once
// larimar::runtime — the spec string that names a memory type and its number formats at run time
// (docs/runtime.md), e.g. "sharded,prefix_encoding,pinv,device,fp16":
//
//   spec      := "" | token ("," token)*          tokens in any order, each category at most once
//   token     := layout | keys ["/" lookup] | solver | storage | precision
//   layout    := plain | sharded                   larimar::memory, larimar::sharded_memory
//   keys      := fixed_nearest | prefix_encoding | content | content_ridge    keys::*
//   lookup    := prefix | full | tokens            a pipeline's lookup vectors (pipeline_options::lookup)
//   solver    := pinv | iter3 | iter15_safe        solver::pseudoinverse, solver::iterative<3>, <15, init::safe>
//   storage   := host | device                     storage::host, storage::device
//   precision := fp32 | fp16 | bf16                both lookup_precision and memory_precision
//              | lookup=(fp32|fp16|bf16|int8)      int8: quantized_lookup
//              | memory=(fp32|fp16|bf16)
//
// Unnamed categories take their defaults: sharded (plain with content keys, which a sharded memory cannot hold),
// fixed_nearest, pinv, host; unnamed precisions (and an unnamed lookup) stay as the config has them. The layout,
// key, solver and storage tables below are the whole vocabulary: a new policy is one entry there (the factory
// instantiates what they list). This header only names the policy types, so it stays cheap to include.
#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "larimar/core/config.hpp"
#include "larimar/core/error.hpp"
#include "larimar/core/precision.hpp"
#include "larimar/pipeline/lookup_kind.hpp"

namespace larimar {
namespace keys {
struct fixed_nearest;
struct prefix_encoding;
namespace address {
struct pseudoinverse;
struct ridge;
}  // namespace address
template <class Address>
struct basic_content;
using content = basic_content<address::pseudoinverse>;
using content_ridge = basic_content<address::ridge>;
}  // namespace keys
namespace solver {
struct pseudoinverse;
namespace init {
struct reference;
struct safe;
}  // namespace init
template <int MaxSteps, class Init>
struct iterative;
}  // namespace solver
namespace storage {
struct host;
struct device;
}  // namespace storage
}  // namespace larimar

namespace larimar::runtime {

// The two memory templates, as tags: one block of K slots, or as many blocks as the context needs.
struct plain_layout {};
struct sharded_layout {};

// A string literal as a template argument: the word of a table entry.
template <std::size_t N>
struct token_text {
  char text[N]{};
  constexpr token_text(const char (&s)[N]) { std::copy_n(s, N, text); }  // NOLINT: a literal converts
};

// One word of the vocabulary and the type it names; plain_only: only larimar::memory can hold it.
template <token_text Name, class Type, bool PlainOnly = false>
struct choice {
  static constexpr std::string_view name{Name.text, sizeof(Name.text) - 1};
  static constexpr bool plain_only = PlainOnly;
  using type = Type;
};

template <class... C>
struct choices {
  static constexpr std::size_t size = sizeof...(C);
  static constexpr std::array<std::string_view, size> names{C::name...};
  static constexpr std::array<bool, size> plain_only{C::plain_only...};
  template <std::size_t I>
  using type_at = typename std::tuple_element_t<I, std::tuple<std::type_identity<typename C::type>...>>::type;

  static constexpr std::optional<std::size_t> find(std::string_view word) {
    for (std::size_t i = 0; i < size; ++i)
      if (names[i] == word) return i;
    return std::nullopt;
  }
  template <class T>
  static constexpr std::size_t index_of() {
    constexpr std::array<bool, size> same{std::is_same_v<T, typename C::type>...};
    static_assert(std::find(same.begin(), same.end(), true) != same.end(), "larimar::runtime: a policy no table lists");
    return static_cast<std::size_t>(std::find(same.begin(), same.end(), true) - same.begin());
  }
  static std::string list(std::string_view sep = ", ") {
    std::string out;
    for (const auto n : names) (out.empty() ? out : out.append(sep)).append(n);
    return out;
  }
};

using layout_choices = choices<choice<"plain", plain_layout>, choice<"sharded", sharded_layout>>;
using key_choices = choices<choice<"fixed_nearest", keys::fixed_nearest>,
                            choice<"prefix_encoding", keys::prefix_encoding>,
                            choice<"content", keys::content, true>,
                            choice<"content_ridge", keys::content_ridge, true>>;
using solver_choices = choices<choice<"pinv", solver::pseudoinverse>,
                               choice<"iter3", solver::iterative<3, solver::init::reference>>,  // the reference's
                               choice<"iter15_safe", solver::iterative<15, solver::init::safe>>>;
using storage_choices = choices<choice<"host", storage::host>, choice<"device", storage::device>>;

// Number formats, set on memory_config rather than chosen by type.
struct format_choice {
  std::string_view name;
  precision stored;
  bool quantized;  // lookup only: int8 shortlist + exact rescoring (memory_config::quantized_lookup)
};
inline constexpr std::array<format_choice, 4> format_choices{{{"fp32", precision::full, false},
                                                              {"fp16", precision::fp16, false},
                                                              {"bf16", precision::bf16, false},
                                                              {"int8", precision::full, true}}};
inline constexpr std::array<std::pair<std::string_view, pipeline::lookup_kind>, 3> lookup_choices{
    {{"prefix", pipeline::lookup_kind::prefix},
     {"full", pipeline::lookup_kind::full},
     {"tokens", pipeline::lookup_kind::tokens}}};

// A parsed spec: each category an index into its table, or unnamed.
struct memory_spec {
  std::optional<std::size_t> layout, keys, solver, storage;
  std::optional<pipeline::lookup_kind> lookup;
  std::optional<std::size_t> lookup_format, memory_format;  // into format_choices
  bool operator==(const memory_spec&) const = default;
};

namespace detail {

inline std::string vocabulary() {
  std::string formats, lookups;  // a quantized format is a lookup's only
  for (const auto& f : format_choices) {
    (lookups.empty() ? lookups : lookups.append("|")).append(f.name);
    if (!f.quantized) (formats.empty() ? formats : formats.append("|")).append(f.name);
  }
  return "layout " + layout_choices::list("|") + "; keys " + key_choices::list("|") +
         " (in a pipeline spec with /prefix or /full); solver " + solver_choices::list("|") + "; storage " +
         storage_choices::list("|") + "; precision " + formats + " (lookup and memory), lookup=" + lookups +
         ", memory=" + formats;
}

inline std::string in_quotes(std::string_view s) { return std::string("'").append(s).append("'"); }

inline std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline std::string format_name(std::size_t i) { return std::string(format_choices[i].name); }
inline std::string lookup_name(pipeline::lookup_kind k) {
  for (const auto& [name, kind] : lookup_choices)
    if (kind == k) return std::string(name);
  return "?";
}

// Sets `into` to `from` where only `from` names it; two different values for one category are refused.
template <class V, class Name>
void take(std::optional<V>& into, const std::optional<V>& from, const char* category, const std::string& where,
          Name name) {
  if (!from) return;
  if (into && *into != *from)
    throw value_error(where + ": the " + category + " is given twice, as " + in_quotes(name(*into)) + " and " +
                      in_quotes(name(*from)));
  into = from;
}

}  // namespace detail

// The spec `b` adds to `a`; a category both name differently is a value_error naming both words. `where` starts
// the message.
inline memory_spec merged(memory_spec a, const memory_spec& b, const std::string& where = "memory spec") {
  const auto in = [](const auto& table) { return [&](std::size_t i) { return std::string(table[i]); }; };
  detail::take(a.layout, b.layout, "layout", where, in(layout_choices::names));
  detail::take(a.keys, b.keys, "key policy", where, in(key_choices::names));
  detail::take(a.solver, b.solver, "solver", where, in(solver_choices::names));
  detail::take(a.storage, b.storage, "storage", where, in(storage_choices::names));
  detail::take(a.lookup, b.lookup, "lookup", where, detail::lookup_name);
  detail::take(a.lookup_format, b.lookup_format, "lookup precision", where, detail::format_name);
  detail::take(a.memory_format, b.memory_format, "memory precision", where, detail::format_name);
  return a;
}

// Parses a spec (the grammar above). An unknown word, a word in the wrong place or two values for one category
// is a value_error that names it and lists the vocabulary.
inline memory_spec parse_memory_spec(std::string_view text) {
  const std::string where = "memory spec " + detail::in_quotes(text);
  const auto unknown = [&](std::string_view word, const std::string& what) {
    return value_error(where + ": " + what + " " + detail::in_quotes(word) + " (" + detail::vocabulary() + ")");
  };
  const auto format = [&](std::string_view word, bool lookup) {
    for (std::size_t i = 0; i < format_choices.size(); ++i)
      if (format_choices[i].name == word) {
        if (format_choices[i].quantized && !lookup)
          throw value_error(where + ": " + detail::in_quotes(word) + " is a lookup precision only: write lookup=" +
                            std::string(word));
        return i;
      }
    throw unknown(word, "unknown precision");
  };
  memory_spec out;
  if (detail::trimmed(text).empty()) return out;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string_view token = detail::trimmed(text.substr(start, end - start));
    start = end + 1;
    if (token.empty()) throw value_error(where + ": an empty token (two commas, or one at an end)");
    memory_spec one;
    const std::size_t eq = token.find('='), slash = token.find('/');
    const std::string_view word = token.substr(0, std::min(eq, slash));
    if (eq != std::string_view::npos) {
      const std::string_view value = token.substr(eq + 1);
      if (word == "lookup") one.lookup_format = format(value, true);
      else if (word == "memory") one.memory_format = format(value, false);
      else throw unknown(token, "unknown token");
    } else if (const auto k = key_choices::find(word)) {
      one.keys = k;
      if (slash != std::string_view::npos) {
        const std::string_view suffix = token.substr(slash + 1);
        for (const auto& [name, kind] : lookup_choices)
          if (name == suffix) one.lookup = kind;
        if (!one.lookup) {
          std::string names;
          for (const auto& [name, kind] : lookup_choices) (names.empty() ? names : names.append(", ")).append(name);
          throw value_error(where + ": unknown lookup " + detail::in_quotes(suffix) + " in " +
                            detail::in_quotes(token) + " (" + names + ")");
        }
      }
    } else if (slash != std::string_view::npos) {
      throw unknown(token, "a lookup (/prefix, /full, /tokens) follows a key policy only, not");
    } else if (const auto l = layout_choices::find(word)) {
      one.layout = l;
    } else if (const auto s = solver_choices::find(word)) {
      one.solver = s;
    } else if (const auto s = storage_choices::find(word)) {
      one.storage = s;
    } else {
      bool is_format = false;
      for (const auto& f : format_choices) is_format = is_format || f.name == word;
      if (!is_format) throw unknown(token, "unknown token");
      one.lookup_format = one.memory_format = format(word, false);
    }
    out = merged(out, one, where);
  }
  return out;
}

// The words of a spec in the canonical order: layout, keys[/lookup], solver, storage, precision (one word when
// lookup and memory agree). A resolved spec prints every category, and parses back to itself.
inline std::string to_string(const memory_spec& s) {
  std::string out;
  const auto word = [&](std::string_view w) { (out.empty() ? out : out.append(",")).append(w); };
  if (s.layout) word(layout_choices::names[*s.layout]);
  if (s.keys) {
    std::string keys(key_choices::names[*s.keys]);
    if (s.lookup) keys.append("/").append(detail::lookup_name(*s.lookup));
    word(keys);
  }
  if (s.solver) word(solver_choices::names[*s.solver]);
  if (s.storage) word(storage_choices::names[*s.storage]);
  if (s.lookup_format && s.lookup_format == s.memory_format) {
    word(detail::format_name(*s.lookup_format));
  } else {
    if (s.lookup_format) word(std::string("lookup=").append(format_choices[*s.lookup_format].name));
    if (s.memory_format) word(std::string("memory=").append(format_choices[*s.memory_format].name));
  }
  return out;
}

// The spec with every type category named: the defaults filled in, and the combinations no memory template
// holds refused.
inline memory_spec resolved(memory_spec s) {
  if (!s.keys) s.keys = key_choices::find("fixed_nearest");
  const bool plain_only = key_choices::plain_only[*s.keys];
  if (!s.layout) s.layout = layout_choices::find(plain_only ? "plain" : "sharded");
  if (plain_only && s.layout != layout_choices::find("plain"))
    throw value_error("memory spec " + detail::in_quotes(to_string(s)) + ": " +
                      std::string(key_choices::names[*s.keys]) +
                      " keys need the plain layout (a sharded memory has no block to choose by content)");
  if (!s.solver) s.solver = solver_choices::find("pinv");
  if (!s.storage) s.storage = storage_choices::find("host");
  return s;
}

// The number formats a spec names, set on a config (the others left as they are).
inline void apply(const memory_spec& s, memory_config& cfg) {
  if (s.lookup_format) {
    cfg.lookup_precision = format_choices[*s.lookup_format].stored;
    cfg.quantized_lookup = format_choices[*s.lookup_format].quantized;
  }
  if (s.memory_format) cfg.memory_precision = format_choices[*s.memory_format].stored;
}

// The spec a config's number formats are (both named).
inline memory_spec formats_of(const memory_config& cfg) {
  memory_spec s;
  for (std::size_t i = 0; i < format_choices.size(); ++i) {
    const auto& f = format_choices[i];
    if (f.stored == cfg.lookup_precision && f.quantized == cfg.quantized_lookup) s.lookup_format = i;
    if (f.stored == cfg.memory_precision && !f.quantized) s.memory_format = i;
  }
  return s;
}

// The resolved spec of a compile-time memory type with its config: what runtime::make_memory would need to make
// the same memory. (A type no table lists does not compile.)
template <class Memory>
memory_spec spec_of(const Memory& m) {
  memory_spec s = formats_of(m.config());
  constexpr bool sharded = Memory::max_blocks > 1;
  s.layout = layout_choices::index_of<std::conditional_t<sharded, sharded_layout, plain_layout>>();
  s.keys = key_choices::index_of<typename Memory::keys_type>();
  s.solver = solver_choices::index_of<typename Memory::solver_type>();
  s.storage = storage_choices::index_of<typename Memory::storage_type>();
  return s;
}
template <class Memory>
std::string describe(const Memory& m) {
  return to_string(spec_of(m));
}

}  // namespace larimar::runtime
