#include "tmdflow/io/plot_panels.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/plot_ticks.hpp"

namespace tmdflow::io::plot {

Axes scan_axes(double step, const std::string& units) { return {{"x", units, 0.0, step}, {"y", units, 0.0, step}}; }

Axes detector_axes(double centre_x, double centre_y, double step, const std::string& units) {
  return {{"Qy", units, -centre_x * step, step}, {"Qx", units, -centre_y * step, step}};
}

namespace {
Panel base(const std::string& title, RgbImage image, const Axes& axes) {
  Panel p;
  p.title = title;
  p.image = std::move(image);
  p.x = axes.x;
  p.y = axes.y;
  return p;
}
}  // namespace

Panel intensity_panel(const std::string& title, const std::vector<float>& values, std::int64_t h, std::int64_t w, const Axes& axes,
                      const std::string& bar_label, const ColourScale& scale) {
  Panel p = base(title, scaled_image(values, h, w, scale), axes);
  p.colour_bar = ColourBar{bar_label, scale};
  return p;
}

Panel angle_panel(const std::string& title, const std::vector<float>& angles, std::int64_t h, std::int64_t w, const Axes& axes, double period,
                  const std::string& wheel_label) {
  Panel p = base(title, angle_image(angles, h, w, period), axes);
  p.wheel = ColourWheel{wheel_label, period, false};
  return p;
}

Panel label_panel(const std::string& title, const std::vector<std::int32_t>& labels, std::int64_t h, std::int64_t w, const Axes& axes,
                  const std::vector<std::pair<std::int32_t, std::string>>& entries, const std::string& no_label_text,
                  const std::vector<std::int32_t>& display_id) {
  Panel p = base(title, label_image(labels, h, w, display_id), axes);
  Legend legend;
  for (const auto& [id, text] : entries) legend.entries.emplace_back(label_colour(id), text);
  if (std::any_of(labels.begin(), labels.end(), [](std::int32_t l) { return l < 0; })) legend.entries.emplace_back(no_data_colour, no_label_text);
  p.legend = legend;
  return p;
}

Panel polarity_panel(const std::string& title, const std::vector<std::int8_t>& polarity, std::int64_t h, std::int64_t w, const Axes& axes,
                     const std::string& zero_text) {
  Panel p = base(title, polarity_image(polarity, h, w), axes);
  Legend legend;
  legend.title = "polarity";
  legend.entries = {{polarity_colour(+1), "+1 (φ mod 120° < 60°)"}, {polarity_colour(-1), "−1 (φ mod 120° ≥ 60°)"}};
  if (std::any_of(polarity.begin(), polarity.end(), [](std::int8_t v) { return v == 0; })) legend.entries.emplace_back(no_data_colour, zero_text);
  p.legend = legend;
  return p;
}

Panel vector_panel(const std::string& title, const std::vector<float>& vx, const std::vector<float>& vy, std::int64_t h, std::int64_t w,
                   const Axes& axes, const std::string& what, const std::string& units) {
  std::vector<float> mag;
  mag.reserve(vx.size());
  for (std::size_t i = 0; i < vx.size() && i < vy.size(); ++i) {
    const float m = std::hypot(vx[i], vy[i]);
    if (std::isfinite(m)) mag.push_back(m);
  }
  double full = 0;
  if (!mag.empty()) {
    const std::size_t k = std::size_t(0.99 * double(mag.size() - 1));
    std::nth_element(mag.begin(), mag.begin() + std::ptrdiff_t(k), mag.end());
    full = mag[k];
  }
  Panel p = base(title, vector_image(vx, vy, h, w, full), axes);
  const double step = full > 0 ? std::pow(10.0, std::floor(std::log10(full)) - 1) : 1.0;
  p.wheel = ColourWheel{what + " direction\nrim: |" + what + "| ≥ " + tick_label(full, step) + " " + pretty_units(units), 360.0, true};
  return p;
}

}  // namespace tmdflow::io::plot
