// larimar-recall's report helpers (report.hpp).
#include "report.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "larimar/core/error.hpp"
#include "options.hpp"

namespace recall_tool {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}
namespace {
std::string clock_text(double s) {
  const long t = std::lround(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}
}  // namespace

std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += "\"\"";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out + "\"";
}

std::ofstream open_output(const std::filesystem::path& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  std::ofstream f(dir / name);
  if (!f) throw larimar::io_error("cannot write '" + (dir / name).string() + "'");
  return f;
}

std::optional<std::ofstream> open_csv(const std::optional<std::filesystem::path>& dir, const std::string& name,
                                      const std::string& header) {
  if (!dir) return std::nullopt;
  auto f = open_output(*dir, name);
  f << header << '\n';
  return f;
}

std::string formatted(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

progress_bar::progress_bar(std::size_t total, bool on) : total_(total), on_(on), tty_(isatty(2) != 0) {}

void progress_bar::update(std::size_t done) {
  if (!on_) return;
  const double el = seconds_since(t0_);
  const double left = done ? el / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
  const int width = 30, fill = static_cast<int>(width * done / std::max<std::size_t>(total_, 1));
  if (!tty_ && done != total_ && done * 10 / total_ == last_ * 10 / total_) return;
  last_ = done;
  std::fprintf(stderr, "%s[%s%s] %zu/%zu  elapsed %s  remaining %s%s", tty_ ? "\r" : "",
               std::string(static_cast<std::size_t>(fill), '#').c_str(),
               std::string(static_cast<std::size_t>(width - fill), '.').c_str(), done, total_,
               clock_text(el).c_str(), clock_text(left).c_str(), tty_ && done != total_ ? "" : "\n");
  std::fflush(stderr);
}

void heatmap(const std::filesystem::path& path, const std::string& title, const std::vector<std::size_t>& lengths,
             const std::vector<double>& depths, const std::map<std::pair<std::size_t, double>, double>& value) {
  const int cw = 80, ch = 40, left = 90, top = 50, bottom = 60;
  canvas c(left + cw * static_cast<int>(lengths.size()) + 20, top + ch * static_cast<int>(depths.size()) + bottom);
  c.text(10, 12, title, black, 2);
  for (std::size_t j = 0; j < depths.size(); ++j) {
    const int y = top + ch * static_cast<int>(j);
    const std::string lab = formatted("%g%%", depths[j]);
    c.text(left - 10 - canvas::text_width(lab), y + ch / 2 - 5, lab, black);
    for (std::size_t i = 0; i < lengths.size(); ++i) {
      const int x = left + cw * static_cast<int>(i);
      const auto it = value.find({lengths[i], depths[j]});
      if (it == value.end()) continue;
      c.rect(x, y, cw - 2, ch - 2, heat(it->second));
      const std::string v = formatted("%.2f", it->second);
      c.text(x + (cw - canvas::text_width(v)) / 2, y + ch / 2 - 5, v, black);
    }
  }
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    const auto lab = length_label(lengths[i]);
    c.text(left + cw * static_cast<int>(i) + (cw - canvas::text_width(lab)) / 2, top + ch * static_cast<int>(depths.size()) + 8,
           lab, black);
  }
  c.text(left, top + ch * static_cast<int>(depths.size()) + 34, "CONTEXT TOKENS", dark);
  c.text(10, top - 18, "DEPTH", dark);
  c.save_png(path);
}

void save_line_chart(const std::filesystem::path& path, const std::string& title, const std::string& xlabel,
                     const std::vector<double>& xs, const std::vector<std::string>& xlabels, double top,
                     const char* yfmt, const std::vector<chart_series>& series, bool legend_top) {
  const int W = 640, H = 400, L = 80, R = 30, T = 50, B = 60;
  canvas c(W, H);
  c.text(10, 12, title, black);
  const double x0 = std::log2(xs.front()), x1 = std::log2(xs.back());
  const auto px = [&](double x) { return L + static_cast<int>((std::log2(x) - x0) / std::max(x1 - x0, 1e-9) * (W - L - R)); };
  const auto py = [&](double v) { return T + static_cast<int>((1 - v / top) * (H - T - B)); };
  for (int k = 0; k <= 4; ++k) {
    const double v = top * k / 4;
    c.line(L, py(v), W - R, py(v), grey);
    const std::string lab = formatted(yfmt, v);
    c.text(L - 8 - canvas::text_width(lab), py(v) - 5, lab, black);
  }
  for (std::size_t i = 0; i < xs.size(); ++i) {
    c.line(px(xs[i]), T, px(xs[i]), H - B, grey);
    c.text(px(xs[i]) - canvas::text_width(xlabels[i]) / 2, H - B + 8, xlabels[i], black);
  }
  c.line(L, H - B, W - R, H - B, black, 2);
  c.line(L, T, L, H - B, black, 2);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    for (std::size_t i = 0; i < xs.size(); ++i) {
      c.rect(px(xs[i]) - 4, py(s.y[i]) - 4, 9, 9, s.color);
      if (i) c.line(px(xs[i - 1]), py(s.y[i - 1]), px(xs[i]), py(s.y[i]), s.color, 3);
    }
    const int row = static_cast<int>(k) * 18;
    c.text(L + 20, legend_top ? T + 10 + row : H - B - 44 + row, s.name, s.color);
  }
  c.text(L, H - 24, xlabel, dark);
  c.save_png(path);
}

}  // namespace recall_tool
