#include "tmdflow/io/plot_curves.hpp"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/plot_draw.hpp"
#include "tmdflow/io/plot_ticks.hpp"

namespace tmdflow::io::plot {
namespace {

using draw::HAlign;
using draw::VAlign;
using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;
using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;
using draw::pad;
using draw::tick_len;

struct Range {
  double lo = 0, hi = 0;
};

/// The finite data range of a chart (y in log10 when log_y); IoError when it has no point.
void data_range(const Chart& c, Range& x, Range& y) {
  bool any = false;
  for (const auto& s : c.series)
    for (std::size_t k = 0; k < std::min(s.x.size(), s.y.size()); ++k) {
      double v = s.y[k];
      if (c.log_y) v = v > 0 ? std::log10(v) : NAN;
      if (!std::isfinite(v) || !std::isfinite(s.x[k])) continue;
      if (!any) x = {s.x[k], s.x[k]}, y = {v, v};
      x.lo = std::min(x.lo, s.x[k]), x.hi = std::max(x.hi, s.x[k]);
      y.lo = std::min(y.lo, v), y.hi = std::max(y.hi, v);
      any = true;
    }
  if (!any) throw IoError("chart '" + c.title + "': expected at least one finite point, found none");
  if (x.hi == x.lo) x.lo -= 0.5, x.hi += 0.5;
  const double xm = 0.03 * (x.hi - x.lo);  // room for the markers of the first and last points
  x.lo -= xm, x.hi += xm;
  if (y.hi == y.lo) y.lo -= c.log_y ? 0.5 : std::max(0.5, std::fabs(y.lo) * 0.1), y.hi += c.log_y ? 0.5 : std::max(0.5, std::fabs(y.hi) * 0.1);
  const double margin = 0.05 * (y.hi - y.lo);
  y.lo -= margin, y.hi += margin;
}

struct Tick {
  double value;  // in plot coordinates (log10 for log axes)
  std::string label;
};

std::vector<Tick> ticks_of(const Range& r, bool log, bool integer = false) {
  std::vector<Tick> out;
  if (integer) {
    const double step = std::max(1.0, nice_step(r.lo, r.hi));
    for (double v = std::ceil(r.lo / step) * step; v <= r.hi + 1e-9; v += step) out.push_back({v, tick_label(v, step)});
    if (!out.empty()) return out;
  }
  if (log) {
    for (const auto& t : log_ticks(std::pow(10.0, r.lo), std::pow(10.0, r.hi))) out.push_back({std::log10(t.value), t.label});
    if (!out.empty()) return out;
  }
  const double step = nice_step(r.lo, r.hi);
  for (double v : nice_ticks(r.lo, r.hi)) out.push_back({v, log ? tick_label(std::pow(10.0, v), std::pow(10.0, v) / 10) : tick_label(v, step)});
  return out;
}

void set(cairo_t* cr, const Rgb& c) { cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0); }

ChartLayout draw_chart(cairo_t* cr, const Chart& c, int ox, int oy, int w, int h) {
  Range xr, yr;
  data_range(c, xr, yr);
  const auto xt = ticks_of(xr, false, c.integer_x), yt = ticks_of(yr, c.log_y);
  double ytw = 0;
  for (const auto& t : yt) ytw = std::max(ytw, draw::text_width(cr, draw::tick_font, t.label));
  const double lh = draw::line_height(cr, draw::label_font), th = draw::line_height(cr, draw::title_font),
               tkh = draw::line_height(cr, draw::tick_font);
  ChartLayout L;
  L.area.x = ox + int(std::ceil(pad + lh + 4 + ytw + tick_len + 4));
  L.area.y = oy + int(std::ceil(pad + th + 6));
  L.area.w = std::max(40, ox + w - pad - L.area.x);
  L.area.h = std::max(40, oy + h - int(std::ceil(pad + lh + 4 + tkh + tick_len + 4)) - L.area.y);
  L.x_min = xr.lo, L.x_max = xr.hi, L.y_min = yr.lo, L.y_max = yr.hi;
  const auto px = [&](double x) { return L.area.x + (x - xr.lo) / (xr.hi - xr.lo) * L.area.w; };
  const auto py = [&](double y) { return L.area.y + L.area.h - (y - yr.lo) / (yr.hi - yr.lo) * L.area.h; };

  cairo_set_source_rgb(cr, 0, 0, 0);
  draw::text(cr, draw::title_font, c.title, L.area.x + L.area.w / 2.0, oy + pad, HAlign::centre, VAlign::top);
  // Grid and ticks.
  cairo_set_line_width(cr, 1);
  for (const auto& t : yt) {
    const double y = std::round(py(t.value)) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, L.area.x, y), cairo_line_to(cr, L.area.x + L.area.w, y), cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, L.area.x - tick_len, y), cairo_line_to(cr, L.area.x, y), cairo_stroke(cr);
    draw::text(cr, draw::tick_font, t.label, L.area.x - tick_len - 3, y, HAlign::right, VAlign::middle);
  }
  for (const auto& t : xt) {
    const double x = std::round(px(t.value)) + 0.5;
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x, L.area.y), cairo_line_to(cr, x, L.area.y + L.area.h), cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, x, L.area.y + L.area.h), cairo_line_to(cr, x, L.area.y + L.area.h + tick_len), cairo_stroke(cr);
    draw::text(cr, draw::tick_font, t.label, x, L.area.y + L.area.h + tick_len + 2, HAlign::centre, VAlign::top);
  }
  draw::text(cr, draw::label_font, c.x_label, L.area.x + L.area.w / 2.0, oy + h - pad, HAlign::centre, VAlign::bottom);
  draw::text(cr, draw::label_font, c.y_label, ox + pad, L.area.y + L.area.h / 2.0, HAlign::centre, VAlign::top, true);

  // Series, clipped to the plot area.
  cairo_save(cr);
  cairo_rectangle(cr, L.area.x, L.area.y, L.area.w, L.area.h);
  cairo_clip(cr);
  if (std::isfinite(c.marker_x)) {
    cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
    const double dash[] = {2.0, 3.0};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, px(c.marker_x), L.area.y), cairo_line_to(cr, px(c.marker_x), L.area.y + L.area.h), cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
  }
  cairo_set_line_width(cr, 2);
  for (const auto& s : c.series) {
    set(cr, s.colour);
    const double dash[] = {6.0, 4.0};
    cairo_set_dash(cr, dash, s.dashed ? 2 : 0, 0);
    bool pen = false;
    for (std::size_t k = 0; k < std::min(s.x.size(), s.y.size()); ++k) {
      double v = c.log_y ? (s.y[k] > 0 ? std::log10(s.y[k]) : NAN) : s.y[k];
      if (!std::isfinite(v) || !std::isfinite(s.x[k])) {
        pen = false;
        continue;
      }
      pen ? cairo_line_to(cr, px(s.x[k]), py(v)) : cairo_move_to(cr, px(s.x[k]), py(v));
      pen = true;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    if (s.markers)
      for (std::size_t k = 0; k < std::min(s.x.size(), s.y.size()); ++k) {
        double v = c.log_y ? (s.y[k] > 0 ? std::log10(s.y[k]) : NAN) : s.y[k];
        if (!std::isfinite(v) || !std::isfinite(s.x[k])) continue;
        cairo_arc(cr, px(s.x[k]), py(v), 2.5, 0, 2 * M_PI);
        cairo_fill(cr);
      }
  }
  cairo_restore(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, L.area.x + 0.5, L.area.y + 0.5, L.area.w - 1, L.area.h - 1);
  cairo_stroke(cr);

  // Legend in the top right corner of the area, on white.
  Legend legend;
  for (const auto& s : c.series)
    if (!s.label.empty()) legend.entries.push_back({s.colour, s.label});
  if (std::isfinite(c.marker_x) && !c.marker_label.empty()) legend.entries.push_back({Rgb{140, 140, 140}, c.marker_label});
  if (!legend.entries.empty()) {
    const draw::Size ls = draw::legend_size(cr, legend);
    const int lx = L.area.x + L.area.w - int(std::ceil(ls.w)) - 8, ly = L.area.y + 6;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, lx - 4, ly - 2, ls.w + 8, ls.h + 4);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    draw::legend(cr, legend, lx, ly);
  }
  return L;
}

}  // namespace

Rgb series_colour(int k) {
  // Okabe-Ito, then the generic label colours.
  static const Rgb okabe_ito[] = {{0, 114, 178}, {213, 94, 0}, {0, 158, 115}, {204, 121, 167}, {230, 159, 0}, {86, 180, 233}};
  return k >= 0 && k < 6 ? okabe_ito[k] : label_colour(k);
}

RenderedCharts render_charts(const std::vector<Chart>& charts, const std::string& title, int width, int height) {
  if (charts.empty()) throw IoError("chart figure '" + title + "': expected at least one chart, found none");
  draw::release_font_caches_at_exit();
  Surface scratch(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1), &cairo_surface_destroy);
  Context m(cairo_create(scratch.get()), &cairo_destroy);
  const int title_h = title.empty() ? 0 : int(std::ceil(draw::line_height(m.get(), draw::figure_title_font))) + pad;
  const int W = width * int(charts.size()), H = height + title_h;
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H), &cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw IoError("chart figure '" + title + "': cairo could not make a " + std::to_string(W) + " x " + std::to_string(H) + " image");
  Context cr(cairo_create(surface.get()), &cairo_destroy);
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  cairo_set_source_rgb(cr.get(), 0, 0, 0);
  if (!title.empty()) draw::text(cr.get(), draw::figure_title_font, title, W / 2.0, pad, HAlign::centre, VAlign::top);
  RenderedCharts out;
  for (std::size_t k = 0; k < charts.size(); ++k) out.charts.push_back(draw_chart(cr.get(), charts[k], int(k) * width, title_h, width, height));
  cairo_surface_flush(surface.get());
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
    throw IoError("chart figure '" + title + "': cairo failed: " + cairo_status_to_string(cairo_status(cr.get())));
  out.image = RgbImage{H, W, std::vector<std::uint8_t>(std::size_t(3) * std::size_t(W) * std::size_t(H))};
  const unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  for (int y = 0; y < H; ++y) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + y * stride);
    for (int x = 0; x < W; ++x) {
      std::uint8_t* p = &out.image.rgb[std::size_t(3) * (std::size_t(y) * std::size_t(W) + std::size_t(x))];
      p[0] = std::uint8_t(row[x] >> 16), p[1] = std::uint8_t(row[x] >> 8), p[2] = std::uint8_t(row[x]);
    }
  }
  return out;
}

void write_charts(const std::string& path, const std::vector<Chart>& charts, const std::string& title, const std::string& caption) {
  const RenderedCharts r = render_charts(charts, title);
  std::string layout;
  for (const auto& c : r.charts)
    layout += "chart " + std::to_string(c.area.x) + " " + std::to_string(c.area.y) + " " + std::to_string(c.area.w) + " " +
              std::to_string(c.area.h) + "\n";
  write_png(path, r.image, {{"Title", title.empty() ? charts.front().title : title}, {"Description", caption}, {"Software", "tmdflow"},
                            {"tmdflow:layout", layout}});
  record_caption(path, caption);
}

}  // namespace tmdflow::io::plot
