#pragma once
// A small RGB raster with a 3×5 pixel font and a PNG writer (zlib for the deflate stream, io::crc32 for the chunks):
// enough for the heatmaps and the capacity plot of larimar-recall without an image library.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

#include "larimar/core/error.hpp"
#include "larimar/io/checksum.hpp"

namespace recall_tool {

struct rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};
inline constexpr rgb white{255, 255, 255}, black{0, 0, 0}, grey{200, 200, 200}, dark{80, 80, 80};

// Red (0) → yellow (0.5) → green (1).
inline rgb heat(double v) {
  v = std::clamp(v, 0.0, 1.0);
  if (v < 0.5) return {230, static_cast<std::uint8_t>(60 + 340 * v), 60};
  return {static_cast<std::uint8_t>(230 - 340 * (v - 0.5)), 200, 60};
}

class canvas {
 public:
  canvas(int w, int h, rgb background = white) : w_(w), h_(h), px_(static_cast<std::size_t>(w * h), background) {}
  int width() const { return w_; }
  int height() const { return h_; }

  void pixel(int x, int y, rgb c) {
    if (x >= 0 && y >= 0 && x < w_ && y < h_) px_[static_cast<std::size_t>(y * w_ + x)] = c;
  }
  void rect(int x, int y, int w, int h, rgb c) {
    for (int j = y; j < y + h; ++j)
      for (int i = x; i < x + w; ++i) pixel(i, j, c);
  }
  void line(int x0, int y0, int x1, int y1, rgb c, int thick = 1) {
    const int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0)) + 1;
    for (int k = 0; k <= n; ++k) {
      const int x = x0 + (x1 - x0) * k / n, y = y0 + (y1 - y0) * k / n;
      rect(x - thick / 2, y - thick / 2, thick, thick, c);
    }
  }
  // Text in the 3×5 font (upper case; lower case is drawn as upper case), each font pixel `scale` pixels.
  void text(int x, int y, std::string_view s, rgb c, int scale = 2) {
    for (const char ch : s) {
      const auto& g = glyph(ch);
      for (int row = 0; row < 5; ++row)
        for (int col = 0; col < 3; ++col)
          if (g[static_cast<std::size_t>(row)] & (4 >> col)) rect(x + col * scale, y + row * scale, scale, scale, c);
      x += 4 * scale;
    }
  }
  static int text_width(std::string_view s, int scale = 2) { return static_cast<int>(s.size()) * 4 * scale - scale; }

  void save_png(const std::filesystem::path& path) const {
    std::vector<std::uint8_t> raw;  // filter byte 0, then RGB, per row
    raw.reserve(static_cast<std::size_t>(h_) * (1 + 3 * static_cast<std::size_t>(w_)));
    for (int y = 0; y < h_; ++y) {
      raw.push_back(0);
      for (int x = 0; x < w_; ++x) {
        const rgb p = px_[static_cast<std::size_t>(y * w_ + x)];
        raw.insert(raw.end(), {p.r, p.g, p.b});
      }
    }
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    std::vector<std::uint8_t> z(size);
    if (compress2(z.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 9) != Z_OK)
      throw larimar::value_error("save_png: zlib could not compress the image");
    z.resize(size);

    std::vector<std::uint8_t> ihdr;
    put32(ihdr, static_cast<std::uint32_t>(w_));
    put32(ihdr, static_cast<std::uint32_t>(h_));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8 bits, RGB, deflate, filter 0, no interlace
    std::vector<std::uint8_t> file = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    chunk(file, "IHDR", ihdr);
    chunk(file, "IDAT", z);
    chunk(file, "IEND", {});
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
    if (!out) throw larimar::io_error("save_png: cannot write '" + path.string() + "'");
  }

 private:
  static void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    v.insert(v.end(), {static_cast<std::uint8_t>(x >> 24), static_cast<std::uint8_t>(x >> 16),
                       static_cast<std::uint8_t>(x >> 8), static_cast<std::uint8_t>(x)});
  }
  static void chunk(std::vector<std::uint8_t>& file, const char* type, const std::vector<std::uint8_t>& data) {
    put32(file, static_cast<std::uint32_t>(data.size()));
    std::vector<std::uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    file.insert(file.end(), body.begin(), body.end());
    put32(file, larimar::io::crc32(body.data(), body.size()));
  }
  static const std::array<std::uint8_t, 5>& glyph(char ch) {
    static const std::string chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.%-/:()=,_| ";
    static const std::array<std::array<std::uint8_t, 5>, 48> g = {{
        {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
        {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},                                   // 0-9
        {2, 5, 7, 5, 5}, {6, 5, 6, 5, 6}, {3, 4, 4, 4, 3}, {6, 5, 5, 5, 6}, {7, 4, 6, 4, 7}, {7, 4, 6, 4, 4},
        {3, 4, 5, 5, 3}, {5, 5, 7, 5, 5}, {7, 2, 2, 2, 7}, {1, 1, 1, 5, 2}, {5, 5, 6, 5, 5}, {4, 4, 4, 4, 7},
        {5, 7, 7, 5, 5}, {6, 5, 5, 5, 5}, {2, 5, 5, 5, 2}, {6, 5, 6, 4, 4}, {2, 5, 5, 6, 3}, {6, 5, 6, 5, 5},
        {3, 4, 2, 1, 6}, {7, 2, 2, 2, 2}, {5, 5, 5, 5, 7}, {5, 5, 5, 5, 2}, {5, 5, 7, 7, 5}, {5, 5, 2, 5, 5},
        {5, 5, 2, 2, 2}, {7, 1, 2, 4, 7},                                                                     // A-Z
        {0, 0, 0, 0, 2}, {5, 1, 2, 4, 5}, {0, 0, 7, 0, 0}, {1, 1, 2, 4, 4}, {0, 2, 0, 2, 0}, {1, 2, 2, 2, 1},
        {4, 2, 2, 2, 4}, {0, 7, 0, 7, 0}, {0, 0, 0, 2, 4}, {0, 0, 0, 0, 7}, {2, 2, 2, 2, 2}, {0, 0, 0, 0, 0}}};
    const char up = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 'a' + 'A') : ch;
    const auto at = chars.find(up);
    return g[at == std::string::npos ? g.size() - 1 : at];
  }

  int w_, h_;
  std::vector<rgb> px_;
};

}  // namespace recall_tool
