#pragma once
// --needles: a file of needles, one JSON object per line, {"name", "needle", "query"[, "answer"]}; each becomes a
// needle task of its own (its row in the tables, its contexts, its prefix length).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace recall_tool {

struct needle_def {
  std::string name, needle, query;
  std::optional<std::string> answer;  // nullopt: the needle after the query
};

// The file's needles in order. Blank lines are skipped; a line that is not such an object, a missing or empty
// field, a name other than letters, digits, '-' and '_' (names become file names), a repeated name, an unreadable
// or needle-less file: std::runtime_error naming the file and the line.
std::vector<needle_def> read_needle_set(const std::filesystem::path& file);

}  // namespace recall_tool
