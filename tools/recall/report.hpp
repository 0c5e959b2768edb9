#pragma once
// What larimar-recall's commands share to report: clocks and peak memory, CSV cells and files, the progress bar on
// stderr, and the PNG charts (heatmaps of the sweep, line charts of the studies).
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "png.hpp"

namespace recall_tool {

double seconds_since(std::chrono::steady_clock::time_point t);
double peak_rss_mb();  // of this process, from the kernel
std::string csv_quote(const std::string& s);
// DIR/name for writing, DIR created; an io_error naming the file when it cannot be written.
std::ofstream open_output(const std::filesystem::path& dir, const std::string& name);
// The same with its header line when there is a DIR (--out), nothing otherwise.
std::optional<std::ofstream> open_csv(const std::optional<std::filesystem::path>& dir, const std::string& name,
                                      const std::string& header);
std::string formatted(const char* format, double value);  // printf's one number, e.g. a chart's tick label

class progress_bar {
 public:
  progress_bar(std::size_t total, bool on);
  void update(std::size_t done);  // a bar with elapsed and remaining time (every tenth when stderr is no terminal)

 private:
  std::size_t total_, last_ = 0;
  bool on_, tty_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// Depth (rows) × length (columns), each cell coloured red (0) to green (1) with its value printed.
void heatmap(const std::filesystem::path& path, const std::string& title, const std::vector<std::size_t>& lengths,
             const std::vector<double>& depths, const std::map<std::pair<std::size_t, double>, double>& value);

struct chart_series {
  std::string name;
  rgb color;
  std::vector<double> y;
};
inline constexpr rgb red_line{210, 40, 40}, blue_line{40, 80, 210};

// x on a log2 axis (one labelled tick per point), y from 0 to `top` (five grid lines labelled with `yfmt`); each
// series a polyline with markers, named in its colour at the top or the bottom left of the plot.
void save_line_chart(const std::filesystem::path& path, const std::string& title, const std::string& xlabel,
                     const std::vector<double>& xs, const std::vector<std::string>& xlabels, double top,
                     const char* yfmt, const std::vector<chart_series>& series, bool legend_top);

}  // namespace recall_tool
