#pragma once
// Token strings ↔ dense ids 0..size-1: what every tokenizer's vocabulary file comes down to. Lookups by string
// view need no allocation (transparent hash); an id out of range is a value_error naming the operation.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "larimar/core/error.hpp"
#include "larimar/tokenizer/read_file.hpp"
#include "larimar/tokenizer/string_hash.hpp"

namespace larimar::tokenizer::detail {

class vocabulary {
 public:
  std::size_t size() const { return tokens_.size(); }
  bool empty() const { return tokens_.empty(); }

  std::optional<token_id> find(std::string_view token) const {
    const auto it = ids_.find(token);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  bool contains(std::string_view token) const { return ids_.contains(token); }

  void check(token_id id, std::string_view operation) const {
    if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size())
      throw value_error(std::string(operation) + ": token id " + std::to_string(id) + " is out of range [0, " +
                        std::to_string(tokens_.size()) + ")");
  }
  const std::string& token(token_id id, std::string_view operation) const {
    check(id, operation);
    return tokens_[static_cast<std::size_t>(id)];
  }
  // Unchecked, for loops over 0..size-1.
  const std::string& operator[](std::size_t id) const { return tokens_[id]; }

  // Files that list tokens in id order (vocab.txt): the next id. Returns the earlier id of an equal token instead
  // of adding it.
  std::optional<token_id> append(std::string token) {
    const auto id = static_cast<token_id>(tokens_.size());
    const auto [it, inserted] = ids_.emplace(token, id);
    if (!inserted) return it->second;
    tokens_.push_back(std::move(token));
    return std::nullopt;
  }
  // Files that give each token its id (vocab.json): reserve(n) first, then assign every id in 0..n-1 once.
  // Returns false if the token is already present (its id unchanged).
  void reserve(std::size_t n) {
    tokens_.assign(n, {});
    ids_.reserve(n);
  }
  bool assign(token_id id, std::string token) {
    if (!ids_.emplace(token, id).second) return false;
    tokens_[static_cast<std::size_t>(id)] = std::move(token);
    return true;
  }

 private:
  std::unordered_map<std::string, token_id, string_hash, std::equal_to<>> ids_;
  std::vector<std::string> tokens_;
};

}  // namespace larimar::tokenizer::detail
