#pragma once
// larimar-recall's command line: the options, their parsing and checks (bad arguments are usage_errors: exit 2).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "larimar/model/weight_format.hpp"
#include "larimar/pipeline/tasks.hpp"
#include "larimar/runtime/spec.hpp"

namespace recall_tool {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A column of the sweep: its name in the tables and files, and the key token (with its lookup) it adds to --memory.
struct policy {
  std::string name;
  larimar::runtime::memory_spec keys;
};

struct options {
  std::string task = "passkey";
  std::vector<std::size_t> digits = {3};
  std::vector<std::filesystem::path> haystack;
  std::string needle = std::string(larimar::pipeline::sf_needle), query = std::string(larimar::pipeline::sf_query);
  std::optional<std::string> answer;
  std::optional<std::filesystem::path> needles;  // --needles: a set of needles, one context each (needle_set.hpp)
  std::vector<std::size_t> lengths = {4000};
  std::vector<double> depths = {50};
  std::size_t seeds = 1;
  std::uint64_t seed_base = 0;
  std::vector<policy> policies;  // default: prefix
  larimar::runtime::memory_spec memory;  // --memory: every category but the keys
  std::filesystem::path model = "models/larimar-small";
  std::optional<std::uint64_t> random_encoder;
  larimar::model::load_options load;  // --weights
  bool memory_only = false;
  std::optional<std::size_t> prefix_tokens;  // nullopt: auto
  std::optional<std::size_t> top_k;          // RULER: entries read per query; nullopt: the task's values per key
  std::size_t segment_tokens = 0, slots = 512, batch = 256, encoder_cache = std::size_t{1} << 17;
  larimar::pipeline::segment_packing packing = larimar::pipeline::segment_packing::greedy;
  std::optional<std::size_t> continuation_tokens;  // nullopt: the pipeline's default
  std::optional<std::size_t> segment_overlap;      // nullopt: the model directory's
  bool capacity = false, footprint = false;
  std::size_t capacity_slots = 64;
  std::vector<double> ratios = {0.25, 0.5, 1, 2, 4, 8, 16};
  std::optional<std::filesystem::path> out;
  bool progress = true, verbose = false;
};

// Parses and checks the command line (--help prints the help and exits 0).
options parse(int argc, char** argv);

// --memory with the tokens a command sets itself (`fixed`, e.g. a policy's keys, or "fixed_nearest/prefix,device"
// for --footprint), resolved: a category both name differently is a usage_error naming `command`.
larimar::runtime::memory_spec memory_for(const options& o, const larimar::runtime::memory_spec& fixed,
                                         std::string_view command);
larimar::runtime::memory_spec memory_for(const options& o, std::string_view fixed, std::string_view command);

std::string length_label(std::size_t n);
// ", memory SPEC" for the commands' first line when --memory was given, else "" (the output stays as it was).
std::string memory_note(const options& o);

}  // namespace recall_tool
