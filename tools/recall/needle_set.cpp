#include "needle_set.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace recall_tool {

std::vector<needle_def> read_needle_set(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("--needles: cannot open '" + file.string() + "'");
  std::vector<needle_def> out;
  std::set<std::string> names;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    const auto where = "--needles: " + file.string() + ":" + std::to_string(n) + ": ";
    if (std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); })) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) throw std::runtime_error(where + "not a JSON object");
    const auto field = [&](const char* key, bool required) -> std::optional<std::string> {
      const auto it = j.find(key);
      if (it == j.end()) {
        if (required) throw std::runtime_error(where + "no \"" + key + "\"");
        return std::nullopt;
      }
      if (!it->is_string() || it->get<std::string>().empty())
        throw std::runtime_error(where + "\"" + key + "\" is not a non-empty string");
      return it->get<std::string>();
    };
    needle_def d{*field("name", true), *field("needle", true), *field("query", true), field("answer", false)};
    for (const auto& [key, value] : j.items())
      if (key != "name" && key != "needle" && key != "query" && key != "answer")
        throw std::runtime_error(where + "unknown field \"" + key + "\" (name, needle, query, answer)");
    if (!std::all_of(d.name.begin(), d.name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; }))
      throw std::runtime_error(where + "name '" + d.name + "' has a character other than letters, digits, - and _");
    if (!names.insert(d.name).second) throw std::runtime_error(where + "name '" + d.name + "' given twice");
    out.push_back(std::move(d));
  }
  if (in.bad()) throw std::runtime_error("--needles: reading '" + file.string() + "' failed");
  if (out.empty()) throw std::runtime_error("--needles: '" + file.string() + "' has no needle");
  return out;
}

}  // namespace recall_tool
