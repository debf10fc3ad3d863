#pragma once
// Drawing primitives of plot.cpp on a cairo context (internal to io): text with alignment and
// rotation, a raster image at an integer zoom, and the three keys (colour bar, colour wheel,
// legend), each with a size function so that the layout is known before anything is drawn.
#include <cairo.h>

#include <string>

#include "tmdflow/io/plot.hpp"

namespace tmdflow::io::plot::draw {

struct Font {
  double size = 11;
  bool bold = false;
};
constexpr Font figure_title_font{16, true}, title_font{14, true}, label_font{12.5, false}, tick_font{11, false},
    key_title_font{12, true};
/// Space around panels and the length of axis ticks, in pixels (every figure alike).
constexpr int pad = 12, tick_len = 4;

enum class HAlign { left, centre, right };
enum class VAlign { top, middle, bottom };

/// Registers (once) the release of cairo's and fontconfig's font caches at exit: call before drawing text.
void release_font_caches_at_exit();

double text_width(cairo_t* cr, const Font& font, const std::string& s);
/// Ascent + descent of the font (one line).
double line_height(cairo_t* cr, const Font& font);
/// Draws `s` anchored at (x, y); `vertical`: turned 90 degrees counter-clockwise (reads bottom to
/// top), the anchor then refers to the turned text's box.
void text(cairo_t* cr, const Font& font, const std::string& s, double x, double y, HAlign h, VAlign v, bool vertical = false);

/// Paints `img` with its top-left corner at integer (x, y), each pixel as a zoom x zoom block.
void image(cairo_t* cr, const RgbImage& img, int x, int y, int zoom);

struct Size {
  double w = 0, h = 0;
};
/// A vertical colour bar whose ramp is `ramp_h` high: ramp, ticks, tick labels, turned label.
Size colour_bar_size(cairo_t* cr, const ColourBar& bar, double ramp_h);
/// Draws it with the ramp's top-left corner at (x, y); returns the ramp's box.
Box colour_bar(cairo_t* cr, const ColourBar& bar, int x, int y, int ramp_h);

Size wheel_size(cairo_t* cr, const ColourWheel& wheel);
/// Draws the wheel's title lines, then the wheel below them, inside the box at (x, y); returns the
/// wheel's square.
Box wheel(cairo_t* cr, const ColourWheel& wheel, int x, int y);

Size legend_size(cairo_t* cr, const Legend& legend);
Box legend(cairo_t* cr, const Legend& legend, int x, int y);

}  // namespace tmdflow::io::plot::draw
