#pragma once
// A block under trial: what a key policy that fills blocks while their write stays exact (keys::exact_filling)
// may do with a block the memory offers it rows for. The memory provides the real one; the archetype here only
// lets the concept check the policy's signature.
#include <concepts>
#include <cstddef>

namespace larimar::keys {

template <class B, class T>
concept block_trial = requires(B& b, const B& cb, std::size_t n) {
  { cb.size() } -> std::convertible_to<std::size_t>;    // rows held: the earlier ones and the offered ones taken
  { cb.addresses() } -> std::convertible_to<const T*>;  // size()×K, in the storage's space
  { cb.latents() } -> std::convertible_to<const T*>;    // size()×C
  { cb.mean() } -> std::convertible_to<const T*>;       // K×C, as the last solve() left it
  b.take(n);                                            // hold the earlier rows and the first n offered
  b.solve();                                            // the least-squares write over the rows held
};

template <class T>
struct block_trial_archetype {
  std::size_t size() const { return 0; }
  const T* addresses() const { return nullptr; }
  const T* latents() const { return nullptr; }
  const T* mean() const { return nullptr; }
  void take(std::size_t) {}
  void solve() {}
};

}  // namespace larimar::keys
