#pragma once
// A non-owning view of a row-major matrix in backend B's memory (B a thrust backend: backend::omp, backend::cuda,
// or one of a user's): how a batch of latents goes from the encoder to the memory to the decoder without a stop on
// the host. matrix_ref (core/matrix_ref.hpp) is its host twin. Where a latent batch crosses between the two, the
// crossing is reported to B (note_latent_crossing), so a backend can count them.
#include <concepts>
#include <cstddef>

namespace larimar::backend {

template <class B, class T>
struct device_ref;
template <class B, class T>
constexpr device_ref<B, T> device_view(T* data, std::size_t rows, std::size_t cols);

template <class B, class T>
struct device_ref {
  T* data;
  std::size_t rows;
  std::size_t cols;

  template <class U>
    requires std::convertible_to<U*, T*>
  constexpr device_ref(device_ref<B, U> o) : data(o.data), rows(o.rows), cols(o.cols) {}  // NOLINT: T → const T

  constexpr std::size_t size() const { return rows * cols; }
  constexpr bool empty() const { return size() == 0; }
  constexpr T* row(std::size_t i) const { return data + i * cols; }

 private:
  // Made only by device_view<B>(pointer, rows, cols): a braced {...} argument stays a host matrix_ref or span.
  struct made_by_device_view {};
  constexpr device_ref(made_by_device_view, T* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c) {}
  friend constexpr device_ref device_view<B, T>(T*, std::size_t, std::size_t);
};

template <class B, class T>
constexpr device_ref<B, T> device_view(T* data, std::size_t rows, std::size_t cols) {
  return device_ref<B, T>(typename device_ref<B, T>::made_by_device_view{}, data, rows, cols);
}

enum class crossing { to_device, to_host };

// A batch of `values` latent values (or the lookup vectors encoded like them) crossed between the host and B:
// B::on_latent_crossing hears of it when B has one (a counting backend in a test); otherwise nothing happens.
template <class B>
void note_latent_crossing(crossing direction, std::size_t values) {
  if constexpr (requires { B::on_latent_crossing(direction, values); }) B::on_latent_crossing(direction, values);
}

}  // namespace larimar::backend
