#pragma once
// Line charts for figures: training curves (loss and metrics per epoch), profiles. Each chart is a
// framed plot area with ticked axes (linear, or logarithmic in y for losses), axis labels with
// units, and a legend; charts sit side by side in one PNG. Drawn with cairo like the map figures
// (io/plot.hpp), with the same fonts, PNG text chunks and captions.txt.
#include <limits>
#include <string>
#include <vector>

#include "tmdflow/io/plot.hpp"

namespace tmdflow::io::plot {

struct Series {
  std::string label;
  std::vector<double> x, y;  // same length; non-finite y values leave a gap
  Rgb colour{0, 0, 0};
  bool dashed = false;
  bool markers = false;      // a dot at every point (few points)
};

struct Chart {
  std::string title;
  std::string x_label, y_label;  // with units, e.g. "epoch", "loss (MSE)"
  bool log_y = false;            // non-positive values are left out
  bool integer_x = false;        // x ticks at whole numbers only (epochs)
  std::vector<Series> series;
  /// A vertical marker (e.g. the best epoch); NaN: none.
  double marker_x = std::numeric_limits<double>::quiet_NaN();
  std::string marker_label;
};

/// Pixel box of each chart's plot area in the rendered image (for tests).
struct ChartLayout {
  Box area;
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;  // data range of the area (log10 when log_y)
};

struct RenderedCharts {
  RgbImage image;
  std::vector<ChartLayout> charts;
};

/// Renders charts side by side (each about width x height pixels); IoError for no chart or a
/// chart without any finite point.
RenderedCharts render_charts(const std::vector<Chart>& charts, const std::string& title = "", int width = 420, int height = 320);

/// Renders and writes the charts as a PNG (atomically) and records the caption in captions.txt.
void write_charts(const std::string& path, const std::vector<Chart>& charts, const std::string& title, const std::string& caption);

/// Distinct colours for series k = 0, 1, ... (colour-blind-safe first six).
Rgb series_colour(int k);

}  // namespace tmdflow::io::plot
