#include "tmdflow/io/plot_draw.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/plot_ticks.hpp"

namespace tmdflow::io::plot::draw {
namespace {

constexpr double pi = 3.14159265358979323846;
constexpr int ramp_w = 16;
constexpr int wheel_d = 130, wheel_margin_x = 36, wheel_margin_y = 24;
constexpr double wheel_inner = 0.3;  // inner radius of an angle key's sector, relative
constexpr int swatch = 14;
constexpr Font legend_font{11.5, false};

void set_font(cairo_t* cr, const Font& f) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, f.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, f.size);
}

struct Tick {
  double t;  // position on the ramp, 0 bottom, 1 top
  std::string label;
};

std::vector<Tick> bar_ticks(const ColourScale& s) {
  std::vector<Tick> out;
  if (s.log10) {
    for (const auto& t : log_ticks(s.lo, s.hi)) out.push_back({s.position(t.value), t.label});
  } else {
    const double step = nice_step(s.lo, s.hi, 5);
    for (double v : nice_ticks(s.lo, s.hi, 5)) out.push_back({s.position(v), tick_label(v, step)});
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& s) { return s.empty() ? std::vector<std::string>{} : str::split(s, '\n'); }

/// An angle of period <= 180 degrees is keyed by a sector below the wheel's centre, not a disc.
bool is_sector(const ColourWheel& w) { return !w.magnitude && w.period_deg <= 180.0; }

void set_rgb(cairo_t* cr, Rgb c) { cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0); }

}  // namespace

double text_width(cairo_t* cr, const Font& font, const std::string& s) {
  set_font(cr, font);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  return e.x_advance;
}

double line_height(cairo_t* cr, const Font& font) {
  set_font(cr, font);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  return fe.ascent + fe.descent;
}

void text(cairo_t* cr, const Font& font, const std::string& s, double x, double y, HAlign h, VAlign v, bool vertical) {
  set_font(cr, font);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  const double w = e.x_advance, asc = fe.ascent, desc = fe.descent;
  cairo_save(cr);
  if (!vertical) {
    const double x0 = x - (h == HAlign::centre ? w / 2 : h == HAlign::right ? w : 0.0);
    const double base = v == VAlign::top ? y + asc : v == VAlign::middle ? y + (asc - desc) / 2 : y - desc;
    cairo_move_to(cr, x0, base);
  } else {
    // Turned 90 degrees counter-clockwise: local x runs up the screen, local y to the right.
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -pi / 2);
    const double b = h == HAlign::left ? asc : h == HAlign::centre ? (asc - desc) / 2 : -desc;
    const double a = v == VAlign::top ? -w : v == VAlign::middle ? -w / 2 : 0.0;
    cairo_move_to(cr, a, b);
  }
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

void image(cairo_t* cr, const RgbImage& img, int x, int y, int zoom) {
  if (img.width <= 0 || img.height <= 0) return;
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, int(img.width), int(img.height));
  cairo_surface_flush(s);
  unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (std::int64_t r = 0; r < img.height; ++r) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + r * stride);
    for (std::int64_t c = 0; c < img.width; ++c) {
      const Rgb p = img.at(r, c);
      row[c] = (std::uint32_t(p[0]) << 16) | (std::uint32_t(p[1]) << 8) | std::uint32_t(p[2]);
    }
  }
  cairo_surface_mark_dirty(s);
  cairo_save(cr);
  cairo_rectangle(cr, x, y, double(img.width * zoom), double(img.height * zoom));
  cairo_clip(cr);
  cairo_translate(cr, x, y);
  cairo_scale(cr, zoom, zoom);
  cairo_set_source_surface(cr, s, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(s);
}

Size colour_bar_size(cairo_t* cr, const ColourBar& bar, double ramp_h) {
  double label_w = 0;
  for (const auto& t : bar_ticks(bar.scale)) label_w = std::max(label_w, text_width(cr, tick_font, t.label));
  return {ramp_w + tick_len + 3 + label_w + 8 + line_height(cr, label_font), ramp_h};
}

Box colour_bar(cairo_t* cr, const ColourBar& bar, int x, int y, int ramp_h) {
  RgbImage ramp{ramp_h, ramp_w, std::vector<std::uint8_t>(std::size_t(3 * ramp_h * ramp_w))};
  for (int r = 0; r < ramp_h; ++r) {
    const Rgb c = ramp_colour(bar.scale.ramp, 1.0 - (r + 0.5) / ramp_h);
    for (int k = 0; k < ramp_w; ++k) std::memcpy(&ramp.rgb[std::size_t(3 * (r * ramp_w + k))], c.data(), 3);
  }
  image(cr, ramp, x, y, 1);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, x - 0.5, y - 0.5, ramp_w + 1, ramp_h + 1);
  cairo_stroke(cr);
  double label_w = 0;
  for (const auto& t : bar_ticks(bar.scale)) {
    const double ty = std::round(y + (1.0 - t.t) * ramp_h) + 0.5;
    cairo_move_to(cr, x + ramp_w, ty);
    cairo_line_to(cr, x + ramp_w + tick_len, ty);
    cairo_stroke(cr);
    text(cr, tick_font, t.label, x + ramp_w + tick_len + 3, ty, HAlign::left, VAlign::middle);
    label_w = std::max(label_w, text_width(cr, tick_font, t.label));
  }
  text(cr, label_font, bar.label, x + ramp_w + tick_len + 3 + label_w + 8, y + ramp_h / 2.0, HAlign::left, VAlign::middle, true);
  return {x, y, ramp_w, ramp_h};
}

Size wheel_size(cairo_t* cr, const ColourWheel& wheel) {
  double w = wheel_d + 2 * wheel_margin_x, h = (is_sector(wheel) ? wheel_d / 2.0 : wheel_d) + 2 * wheel_margin_y;
  const auto lines = lines_of(wheel.label);
  for (const auto& l : lines) w = std::max(w, text_width(cr, key_title_font, l));
  if (!lines.empty()) h += double(lines.size()) * line_height(cr, key_title_font) + 4;
  return {w, h};
}

Box wheel(cairo_t* cr, const ColourWheel& wh, int x, int y) {
  const Size size = wheel_size(cr, wh);
  const auto lines = lines_of(wh.label);
  const double lh = line_height(cr, key_title_font);
  for (std::size_t k = 0; k < lines.size(); ++k)
    text(cr, key_title_font, lines[k], x + size.w / 2, y + double(k) * lh, HAlign::centre, VAlign::top);
  const double title_h = lines.empty() ? 0.0 : double(lines.size()) * lh + 4;
  const bool sector = is_sector(wh);
  const double R = wheel_d / 2.0;
  const int left = int(std::round(x + size.w / 2 - R));
  const int top = int(std::round(y + title_h + wheel_margin_y - (sector ? R : 0.0)));  // of the raster
  const double cx = left + R, cy = top + R;

  // An angle of period P is keyed by the sector [0, P) of directions (y down, as in the maps), one
  // turn of the hue wheel; a vector field (P = 360) by the whole disc, brightness growing outwards.
  // Drawn as a raster with antialiased edges (alpha = covered fraction of a pixel, about).
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, wheel_d, wheel_d);
  cairo_surface_flush(s);
  unsigned char* data = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int i = 0; i < wheel_d; ++i) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + i * stride);
    for (int j = 0; j < wheel_d; ++j) {
      const double dx = j + 0.5 - R, dy = i + 0.5 - R, r = std::hypot(dx, dy);
      double angle = std::atan2(dy, dx) * 180.0 / pi;
      if (angle < 0) angle += 360.0;
      double cover = std::clamp(R - r + 0.5, 0.0, 1.0);
      if (!wh.magnitude) cover = std::min(cover, std::clamp(r - wheel_inner * R + 0.5, 0.0, 1.0));
      if (sector) {
        // Signed distance (pixels) inside both straight edges: the ray at 0 (below it dy > 0) and
        // the ray at the period (P < 180 here, so the two rays bound a convex sector).
        const double inside = std::min(dy, r * std::sin((wh.period_deg - angle) * pi / 180.0));
        cover = std::min(cover, std::clamp(inside + 0.5, 0.0, 1.0));
      }
      const Rgb c = wh.magnitude ? vector_colour(dx, dy, r / R) : angle_colour(angle, wh.period_deg);
      const auto a = std::uint32_t(std::lround(cover * 255.0));
      auto pre = [&](std::uint8_t v) { return std::uint32_t(std::lround(v * cover)); };
      row[j] = (a << 24) | (pre(c[0]) << 16) | (pre(c[1]) << 8) | pre(c[2]);
    }
  }
  cairo_surface_mark_dirty(s);
  cairo_set_source_surface(cr, s, left, top);
  cairo_paint(cr);
  cairo_surface_destroy(s);
  cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
  cairo_set_line_width(cr, 1);
  cairo_new_path(cr);
  const double end = sector ? wh.period_deg * pi / 180.0 : 2 * pi;
  if (!wh.magnitude) {
    cairo_arc(cr, cx, cy, R, 0, end);
    cairo_arc_negative(cr, cx, cy, wheel_inner * R, end, 0);
    cairo_close_path(cr);
  } else {
    cairo_arc(cr, cx, cy, R, 0, end);
  }
  cairo_stroke(cr);
  // Direction labels: every quarter turn of a disc, every 30 degrees (15 for a short period) of a sector.
  const double step = sector ? (wh.period_deg > 60.0 ? 30.0 : 15.0) : 90.0;
  const int count = sector ? int(std::floor(wh.period_deg / step + 1e-9)) + 1 : 4;
  cairo_set_source_rgb(cr, 0, 0, 0);
  for (int k = 0; k < count; ++k) {
    const double a = k * step, ar = a * pi / 180.0;
    cairo_move_to(cr, cx + R * std::cos(ar), cy + R * std::sin(ar));
    cairo_line_to(cr, cx + (R + 4) * std::cos(ar), cy + (R + 4) * std::sin(ar));
    cairo_stroke(cr);
    const std::string label = tick_label(a, a == std::round(a) ? 1.0 : 0.1) + "°";
    const double lx = cx + (R + 6) * std::cos(ar), ly = cy + (R + 6) * std::sin(ar);
    const HAlign h = std::cos(ar) > 0.3 ? HAlign::left : std::cos(ar) < -0.3 ? HAlign::right : HAlign::centre;
    const VAlign v = std::sin(ar) > 0.3 ? VAlign::top : std::sin(ar) < -0.3 ? VAlign::bottom : VAlign::middle;
    text(cr, tick_font, label, lx, ly, h, v);
  }
  return {left, top, wheel_d, wheel_d};
}

Size legend_size(cairo_t* cr, const Legend& legend) {
  const double row = std::max(18.0, line_height(cr, legend_font) + 5);
  double w = legend.title.empty() ? 0.0 : text_width(cr, key_title_font, legend.title);
  for (const auto& e : legend.entries) w = std::max(w, swatch + 6 + text_width(cr, legend_font, e.second));
  const double title_h = legend.title.empty() ? 0.0 : line_height(cr, key_title_font) + 6;
  return {w, title_h + row * double(legend.entries.size())};
}

Box legend(cairo_t* cr, const Legend& legend, int x, int y) {
  const Size size = legend_size(cr, legend);
  const double row = std::max(18.0, line_height(cr, legend_font) + 5);
  double top = y;
  if (!legend.title.empty()) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, key_title_font, legend.title, x, y, HAlign::left, VAlign::top);
    top += line_height(cr, key_title_font) + 6;
  }
  for (std::size_t k = 0; k < legend.entries.size(); ++k) {
    const double ry = top + double(k) * row;
    const double sy = std::round(ry + (row - swatch) / 2);
    set_rgb(cr, legend.entries[k].first);
    cairo_rectangle(cr, x, sy, swatch, swatch);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x + 0.5, sy + 0.5, swatch - 1, swatch - 1);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, legend_font, legend.entries[k].second, x + swatch + 6, ry + row / 2, HAlign::left, VAlign::middle);
  }
  return {x, y, int(std::ceil(size.w)), int(std::ceil(size.h))};
}

}  // namespace tmdflow::io::plot::draw
