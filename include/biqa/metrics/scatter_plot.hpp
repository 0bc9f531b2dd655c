#pragma once
/// @file
/// An SVG scatter plot of predictions against subjective scores with the fitted logistic curve,
/// the figure IQA papers show next to SRCC/PLCC. Self-contained SVG 1.1, no scripts or fonts to
/// fetch; the axes carry five "nice" ticks.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/metrics/logistic.hpp"

namespace biqa::metrics {

struct ScatterPlotOptions {
  std::string title;
  std::string x_label = "prediction";
  std::string y_label = "MOS";
  int width = 640, height = 480;
};

namespace detail {

inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string num(double v, int digits = 2) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

inline std::string tick_label(double v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

/// Ticks at multiples of 1, 2 or 5 times a power of ten covering [lo, hi].
inline std::vector<double> nice_ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 4;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) t.push_back(v);
  return t;
}

inline std::pair<double, double> padded_range(std::span<const double> v) {
  auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  double lo = *mn, hi = *mx;
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double pad = 0.04 * (hi - lo);
  return {lo - pad, hi + pad};
}

}  // namespace detail

inline std::string scatter_plot_svg(std::span<const double> pred, std::span<const double> mos,
                                    const std::optional<LogisticFit>& fit, const ScatterPlotOptions& o = {}) {
  BIQA_CHECK(pred.size() == mos.size() && !pred.empty(), ErrorCode::invalid_argument,
             "scatter plot: need equally many predictions and scores, got ", pred.size(), " and ", mos.size());
  const double left = 70, right = 20, top = o.title.empty() ? 20 : 40, bottom = 55;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  const auto [x0, x1] = detail::padded_range(pred);
  const auto [y0, y1] = detail::padded_range(mos);
  auto sx = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto sy = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };
  using detail::num;
  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + std::to_string(o.width) + "\" height=\"" +
       std::to_string(o.height) + "\" viewBox=\"0 0 " + std::to_string(o.width) + " " + std::to_string(o.height) +
       "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(o.width) + "\" height=\"" + std::to_string(o.height) +
       "\" fill=\"white\"/>\n";
  if (!o.title.empty())
    s += "<text x=\"" + num(left + pw / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">" +
         detail::xml_escape(o.title) + "</text>\n";
  // Axes, ticks and grid.
  s += "<g stroke=\"#ddd\" stroke-width=\"1\">\n";
  const auto xt = detail::nice_ticks(x0, x1), yt = detail::nice_ticks(y0, y1);
  for (double v : xt) s += "<line x1=\"" + num(sx(v)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(sx(v)) + "\" y2=\"" + num(top + ph) + "\"/>\n";
  for (double v : yt) s += "<line x1=\"" + num(left) + "\" y1=\"" + num(sy(v)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(sy(v)) + "\"/>\n";
  s += "</g>\n";
  s += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"black\"/>\n";
  s += "<g text-anchor=\"middle\">\n";
  for (double v : xt) s += "<text x=\"" + num(sx(v)) + "\" y=\"" + num(top + ph + 16) + "\">" + detail::tick_label(v) + "</text>\n";
  s += "</g>\n<g text-anchor=\"end\">\n";
  for (double v : yt) s += "<text x=\"" + num(left - 6) + "\" y=\"" + num(sy(v) + 4) + "\">" + detail::tick_label(v) + "</text>\n";
  s += "</g>\n";
  s += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(o.height - 12.0) + "\" text-anchor=\"middle\">" +
       detail::xml_escape(o.x_label) + "</text>\n";
  s += "<text x=\"16\" y=\"" + num(top + ph / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
       num(top + ph / 2) + ")\">" + detail::xml_escape(o.y_label) + "</text>\n";
  // Points.
  s += "<g fill=\"#1f77b4\" fill-opacity=\"0.55\">\n";
  for (std::size_t i = 0; i < pred.size(); ++i)
    s += "<circle cx=\"" + num(sx(pred[i])) + "\" cy=\"" + num(sy(mos[i])) + "\" r=\"2.5\"/>\n";
  s += "</g>\n";
  // The fitted curve, clipped to the plot.
  if (fit) {
    std::string d;
    const int steps = 200;
    for (int k = 0; k <= steps; ++k) {
      const double x = x0 + (x1 - x0) * k / steps;
      const double y = std::clamp((*fit)(x), y0, y1);
      if (!std::isfinite(y)) continue;
      d += (d.empty() ? "M" : " L") + num(sx(x)) + " " + num(sy(y));
    }
    if (!d.empty())
      s += "<path d=\"" + d + "\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n";
    s += "<text x=\"" + num(left + 8) + "\" y=\"" + num(top + 16) + "\" fill=\"#d62728\">" +
         detail::xml_escape(std::string(to_string(fit->form))) + " fit, PLCC " + num(fit->plcc, 4) + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace biqa::metrics
