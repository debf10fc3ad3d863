#pragma once
// Figures a microscopist can put in a paper, drawn with cairo (text with the system's DejaVu Sans
// through cairo's text API): each panel is a raster map (one pixel per scan position or detector
// pixel, enlarged by an integer zoom so pixels stay sharp) with a title, axes ticked in physical
// units, a scale bar in the image, and a key: a colour bar with units for continuous values, a
// colour wheel for angles and vector directions, or a legend for classes. A figure is a grid of
// panels with an optional title and an optional colour bar shared by all panels.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tmdflow/io/figure.hpp"

namespace tmdflow::io::plot {

/// A physical image axis: pixel k's centre lies at origin + k * step (units).
struct Axis {
  std::string label;            // "x", "Qy"
  std::string units = "pixels"; // as stored ("nm", "A^-1", "pixels"); printed with pretty_units
  double origin = 0, step = 1;
};

struct ColourBar {
  std::string label;            // "ADF intensity (counts)"
  ColourScale scale;
};

/// A colour wheel: the colour at screen direction theta (atan2(dy, dx), y down as in the image) is
/// angle_colour(theta, period_deg); with `magnitude`, a disc whose brightness grows with the radius
/// (vector_colour), the rim at full_magnitude.
struct ColourWheel {
  std::string label;            // lines separated by '\n'
  double period_deg = 360;
  bool magnitude = false;
};

struct Legend {
  std::string title;
  std::vector<std::pair<Rgb, std::string>> entries;
};

/// A vector mark drawn over a panel's image (sharp at any zoom): a line from (x0, y0) to (x1, y1), or
/// a circle of `radius` centred at (x0, y0); coordinates in data pixels (pixel k's centre at k), the
/// radius in data pixels, the line width in figure pixels. `filled` circles are filled, with an
/// outline of `line_width` in black when it is > 0.
struct Mark {
  enum class Kind { line, circle } kind = Kind::line;
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0, radius = 0;
  Rgb colour{255, 255, 255};
  double line_width = 1;
  bool filled = false;
};

struct Panel {
  std::string title;
  RgbImage image;               // one pixel per data pixel
  std::vector<Mark> marks;      // drawn over the image, clipped to it
  Axis x, y;                    // x: columns (left to right), y: rows (top to bottom)
  bool scale_bar = true;
  std::optional<ColourBar> colour_bar;
  std::optional<ColourWheel> wheel;
  std::optional<Legend> legend;
};

struct Figure {
  std::string title;            // above the panels (empty: none)
  std::vector<Panel> panels;
  int columns = 1;
  int image_px = 320;           // the longer image side is enlarged to about this (integer zoom >= 1)
  std::optional<ColourBar> shared_colour_bar;  // one bar right of the grid for every panel
};

/// Pixel rectangles of the rendered figure (for tests and the PNG's layout text).
struct Box {
  int x = 0, y = 0, w = 0, h = 0;
};
struct PanelLayout {
  Box title, image, key;        // key: the colour bar's ramp, the wheel's square, or the legend
  int zoom = 1;
  double scale_bar_length = 0;  // in the x axis' units (0: none)
  Box scale_bar;                // the bar itself (white)
};
struct Rendered {
  RgbImage image;
  std::vector<PanelLayout> panels;
  Box shared_key;
};

Rendered render(const Figure& figure);

/// Renders and writes `figure` as a PNG (atomically) with text chunks Title, Description
/// (`caption`), Software and tmdflow:layout (one line per panel: "image X Y W H zoom Z"), and
/// records "NAME.png: caption" in captions.txt beside it (one line per figure, sorted; a figure
/// written again replaces its line).
void write_figure(const std::string& path, const Figure& figure, const std::string& caption);
/// A figure of one panel.
void write_figure(const std::string& path, Panel panel, const std::string& caption);
/// The captions.txt update of write_figure.
void record_caption(const std::string& png_path, const std::string& caption);

}  // namespace tmdflow::io::plot
