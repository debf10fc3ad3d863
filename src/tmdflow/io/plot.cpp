#include "tmdflow/io/plot.hpp"

#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/plot_draw.hpp"
#include "tmdflow/io/plot_ticks.hpp"

namespace tmdflow::io::plot {
namespace {

using draw::HAlign;
using draw::VAlign;
using draw::pad;
using draw::tick_len;
constexpr int key_gap = 16;

using Context = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;
using Surface = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;

// An axis without label and units (a diagram, not a map) is left unnamed.
std::string axis_text(const Axis& a) { return a.label.empty() && a.units.empty() ? std::string() : a.label + " (" + pretty_units(a.units) + ")"; }

int zoom_of(const Panel& p, int image_px) {
  const std::int64_t longer = std::max<std::int64_t>(1, std::max(p.image.width, p.image.height));
  return int(std::max<std::int64_t>(1, std::llround(double(image_px) / double(longer))));
}

/// Ticks of an axis: values inside the image's physical extent and their pixel offsets from its edge.
struct AxisTick {
  double offset_px;
  std::string label;
};
std::vector<AxisTick> axis_ticks(const Axis& a, std::int64_t pixels, int zoom) {
  const double e0 = a.origin - 0.5 * a.step, e1 = a.origin + (double(pixels) - 0.5) * a.step;
  const double step = nice_step(e0, e1, 5);
  std::vector<AxisTick> out;
  for (double v : nice_ticks(e0, e1, 5)) out.push_back({((v - a.origin) / a.step + 0.5) * zoom, tick_label(v, step)});
  return out;
}

/// Sizes of one panel (everything but the image is measured text or a key).
struct Geometry {
  int zoom = 1, img_w = 0, img_h = 0;
  int left = 0, top = 0, width = 0, height = 0;
  draw::Size key;
};

Geometry measure(cairo_t* cr, const Panel& p, int image_px, bool shared_key) {
  Geometry g;
  g.zoom = zoom_of(p, image_px);
  g.img_w = int(p.image.width) * g.zoom;
  g.img_h = int(p.image.height) * g.zoom;
  double ytick_w = 0;
  for (const auto& t : axis_ticks(p.y, p.image.height, g.zoom)) ytick_w = std::max(ytick_w, draw::text_width(cr, draw::tick_font, t.label));
  const double label_h = draw::line_height(cr, draw::label_font), tick_h = draw::line_height(cr, draw::tick_font);
  g.left = int(std::ceil(pad + label_h + 6 + ytick_w + tick_len + 3));
  g.top = pad + (p.title.empty() ? 0 : int(std::ceil(draw::line_height(cr, draw::title_font))) + 8);
  const int bottom = int(std::ceil(tick_len + 3 + tick_h + 5 + label_h + pad));
  if (!shared_key) {
    if (p.colour_bar) g.key = draw::colour_bar_size(cr, *p.colour_bar, g.img_h);
    else if (p.wheel) g.key = draw::wheel_size(cr, *p.wheel);
    else if (p.legend) g.key = draw::legend_size(cr, *p.legend);
  }
  const int right = g.key.w > 0 ? key_gap + int(std::ceil(g.key.w)) + pad : pad;
  g.width = std::max(g.left + g.img_w + right, int(std::ceil(draw::text_width(cr, draw::title_font, p.title))) + 2 * pad);
  g.height = std::max(g.top + g.img_h + bottom, g.top + int(std::ceil(g.key.h)) + pad);
  return g;
}

void draw_axes(cairo_t* cr, const Panel& p, const Geometry& g, int ox, int oy) {
  const int ix = ox + g.left, iy = oy + g.top;
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, ix - 0.5, iy - 0.5, g.img_w + 1, g.img_h + 1);
  cairo_stroke(cr);
  const double tick_h = draw::line_height(cr, draw::tick_font);
  for (const auto& t : axis_ticks(p.x, p.image.width, g.zoom)) {
    const double x = std::round(ix + t.offset_px) + 0.5;
    cairo_move_to(cr, x, iy + g.img_h);
    cairo_line_to(cr, x, iy + g.img_h + tick_len);
    cairo_stroke(cr);
    draw::text(cr, draw::tick_font, t.label, x, iy + g.img_h + tick_len + 3, HAlign::centre, VAlign::top);
  }
  draw::text(cr, draw::label_font, axis_text(p.x), ix + g.img_w / 2.0, iy + g.img_h + tick_len + 3 + tick_h + 5, HAlign::centre, VAlign::top);
  double ytick_w = 0;
  for (const auto& t : axis_ticks(p.y, p.image.height, g.zoom)) {
    const double y = std::round(iy + t.offset_px) + 0.5;
    cairo_move_to(cr, ix, y);
    cairo_line_to(cr, ix - tick_len, y);
    cairo_stroke(cr);
    draw::text(cr, draw::tick_font, t.label, ix - tick_len - 3, y, HAlign::right, VAlign::middle);
    ytick_w = std::max(ytick_w, draw::text_width(cr, draw::tick_font, t.label));
  }
  draw::text(cr, draw::label_font, axis_text(p.y), ix - tick_len - 3 - ytick_w - 6, iy + g.img_h / 2.0, HAlign::right, VAlign::middle, true);
}

/// A scale bar in the lower left of the image: a white bar on a translucent dark box, its length
/// above it. Skipped when the image is too small to hold it.
void draw_scale_bar(cairo_t* cr, const Panel& p, const Geometry& g, int ox, int oy, PanelLayout& out) {
  const double width = double(p.image.width) * std::fabs(p.x.step);
  const double length = scale_bar_length(width, 0.3);
  const double bar_px = length / std::fabs(p.x.step) * g.zoom;
  if (!(length > 0) || bar_px < 8 || g.img_h < 48 || g.img_w < 64) return;
  const std::string label = tick_label(length, length) + " " + pretty_units(p.x.units);
  const draw::Font font{12, true};
  const double th = draw::line_height(cr, font), tw = draw::text_width(cr, font, label);
  const int inset = 8, box_pad = 5, bar_h = 5;
  const double box_w = std::max(bar_px, tw) + 2 * box_pad, box_h = th + 3 + bar_h + 2 * box_pad;
  const double bx = ox + g.left + inset, by = oy + g.top + g.img_h - inset - box_h;
  cairo_set_source_rgba(cr, 0, 0, 0, 0.55);
  cairo_rectangle(cr, bx, by, box_w, box_h);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  const int bar_x = int(std::round(bx + box_pad)), bar_y = int(std::round(by + box_pad + th + 3));
  const int bar_w = int(std::lround(bar_px));
  cairo_rectangle(cr, bar_x, bar_y, bar_w, bar_h);
  cairo_fill(cr);
  draw::text(cr, font, label, bar_x + bar_w / 2.0, by + box_pad, HAlign::centre, VAlign::top);
  out.scale_bar_length = length;
  out.scale_bar = {bar_x, bar_y, bar_w, bar_h};
}

void draw_marks(cairo_t* cr, const Panel& p, const Box& image, int zoom) {
  if (p.marks.empty()) return;
  cairo_save(cr);
  cairo_rectangle(cr, image.x, image.y, image.w, image.h);
  cairo_clip(cr);
  auto at = [&](double v, int origin) { return origin + (v + 0.5) * zoom; };
  for (const auto& m : p.marks) {
    cairo_new_path(cr);
    if (m.kind == Mark::Kind::line) {
      cairo_move_to(cr, at(m.x0, image.x), at(m.y0, image.y));
      cairo_line_to(cr, at(m.x1, image.x), at(m.y1, image.y));
    } else {
      cairo_arc(cr, at(m.x0, image.x), at(m.y0, image.y), std::max(0.5, m.radius * zoom), 0, 2 * 3.14159265358979323846);
    }
    cairo_set_source_rgb(cr, m.colour[0] / 255.0, m.colour[1] / 255.0, m.colour[2] / 255.0);
    if (m.filled) {
      cairo_fill_preserve(cr);
      if (m.line_width > 0) cairo_set_source_rgb(cr, 0, 0, 0);
    }
    cairo_set_line_width(cr, std::max(0.0, m.line_width));
    if (m.line_width > 0) cairo_stroke(cr);
    else cairo_new_path(cr);
  }
  cairo_restore(cr);
}

PanelLayout draw_panel(cairo_t* cr, const Panel& p, const Geometry& g, int ox, int oy, bool shared_key) {
  PanelLayout out;
  out.zoom = g.zoom;
  out.image = {ox + g.left, oy + g.top, g.img_w, g.img_h};
  if (!p.title.empty()) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    const double w = draw::text_width(cr, draw::title_font, p.title);
    // Centred over the image when it fits there, else over the panel.
    double cx = ox + g.left + g.img_w / 2.0;
    cx = std::clamp(cx, ox + pad + w / 2, ox + g.width - pad - w / 2);
    draw::text(cr, draw::title_font, p.title, cx, oy + pad, HAlign::centre, VAlign::top);
    out.title = {int(cx - w / 2), oy + pad, int(std::ceil(w)), int(std::ceil(draw::line_height(cr, draw::title_font)))};
  }
  draw::image(cr, p.image, out.image.x, out.image.y, g.zoom);
  draw_marks(cr, p, out.image, g.zoom);
  draw_axes(cr, p, g, ox, oy);
  if (p.scale_bar) draw_scale_bar(cr, p, g, ox, oy, out);
  cairo_set_source_rgb(cr, 0, 0, 0);
  const int kx = ox + g.left + g.img_w + key_gap, ky = oy + g.top;
  if (!shared_key) {
    if (p.colour_bar) out.key = draw::colour_bar(cr, *p.colour_bar, kx, ky, g.img_h);
    else if (p.wheel) out.key = draw::wheel(cr, *p.wheel, kx, ky);
    else if (p.legend) out.key = draw::legend(cr, *p.legend, kx, ky);
  }
  return out;
}

}  // namespace

/// cairo and fontconfig keep font caches for the life of the process; they are released at exit so
/// that a leak checker (the sanitized test run) sees only tmdflow's own memory.
void draw::release_font_caches_at_exit() {
  static const bool registered = std::atexit([] {
    cairo_debug_reset_static_data();
    FcFini();
  }) == 0;
  (void)registered;
}

Rendered render(const Figure& fig) {
  if (fig.panels.empty()) throw IoError("figure '" + fig.title + "': expected at least one panel, found none");
  draw::release_font_caches_at_exit();
  // Measure on a scratch surface, then draw on one of the final size.
  Surface scratch(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1), &cairo_surface_destroy);
  Context m(cairo_create(scratch.get()), &cairo_destroy);
  const bool shared = fig.shared_colour_bar.has_value();
  std::vector<Geometry> geo;
  int cell_w = 0, cell_h = 0;
  for (const auto& p : fig.panels) {
    geo.push_back(measure(m.get(), p, fig.image_px, shared));
    cell_w = std::max(cell_w, geo.back().width);
    cell_h = std::max(cell_h, geo.back().height);
  }
  const int n = int(fig.panels.size()), cols = std::clamp(fig.columns, 1, n), rows = (n + cols - 1) / cols;
  const int title_h = fig.title.empty() ? 0 : int(std::ceil(draw::line_height(m.get(), draw::figure_title_font))) + pad;
  draw::Size shared_size;
  if (shared) shared_size = draw::colour_bar_size(m.get(), *fig.shared_colour_bar, geo[0].img_h);
  int width = cols * cell_w + (shared ? key_gap + int(std::ceil(shared_size.w)) + pad : 0);
  if (!fig.title.empty()) width = std::max(width, int(std::ceil(draw::text_width(m.get(), draw::figure_title_font, fig.title))) + 2 * pad);
  const int height = title_h + rows * cell_h;

  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height), &cairo_surface_destroy);
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw IoError("figure '" + fig.title + "': cairo could not make a " + std::to_string(width) + " x " + std::to_string(height) + " image");
  Context cr(cairo_create(surface.get()), &cairo_destroy);
  cairo_font_options_t* fo = cairo_font_options_create();
  cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
  cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options(cr.get(), fo);
  cairo_font_options_destroy(fo);
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  if (!fig.title.empty()) {
    cairo_set_source_rgb(cr.get(), 0, 0, 0);
    draw::text(cr.get(), draw::figure_title_font, fig.title, width / 2.0, pad, HAlign::centre, VAlign::top);
  }
  Rendered out;
  for (int k = 0; k < n; ++k) {
    const int ox = (k % cols) * cell_w, oy = title_h + (k / cols) * cell_h;
    out.panels.push_back(draw_panel(cr.get(), fig.panels[std::size_t(k)], geo[std::size_t(k)], ox, oy, shared));
  }
  if (shared) {
    cairo_set_source_rgb(cr.get(), 0, 0, 0);
    out.shared_key = draw::colour_bar(cr.get(), *fig.shared_colour_bar, cols * cell_w + key_gap, title_h + geo[0].top, geo[0].img_h);
  }
  cairo_surface_flush(surface.get());
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
    throw IoError("figure '" + fig.title + "': cairo failed: " + cairo_status_to_string(cairo_status(cr.get())));

  out.image = RgbImage{height, width, std::vector<std::uint8_t>(std::size_t(3) * std::size_t(width) * std::size_t(height))};
  const unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  for (int y = 0; y < height; ++y) {
    const auto* row = reinterpret_cast<const std::uint32_t*>(data + y * stride);
    for (int x = 0; x < width; ++x) {
      std::uint8_t* px = &out.image.rgb[std::size_t(3) * (std::size_t(y) * std::size_t(width) + std::size_t(x))];
      px[0] = std::uint8_t(row[x] >> 16);
      px[1] = std::uint8_t(row[x] >> 8);
      px[2] = std::uint8_t(row[x]);
    }
  }
  return out;
}

void record_caption(const std::string& png_path, const std::string& caption) {
  namespace fs = std::filesystem;
  const fs::path png(png_path);
  const fs::path file = png.parent_path() / "captions.txt";
  const std::string name = png.filename().string();
  std::string one_line = caption;
  std::replace(one_line.begin(), one_line.end(), '\n', ' ');
  std::vector<std::string> lines;
  {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line.rfind(name + ": ", 0) != 0) lines.push_back(line);
  }
  lines.push_back(name + ": " + one_line);
  std::sort(lines.begin(), lines.end());
  const std::string tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
    if (!out) throw IoError(file.string() + ": cannot write the figure captions");
  }
  if (std::rename(tmp.c_str(), file.string().c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(file.string() + ": cannot write the figure captions");
  }
}

void write_figure(const std::string& path, const Figure& figure, const std::string& caption) {
  const Rendered r = render(figure);
  std::string layout;
  for (const auto& p : r.panels)
    layout += "image " + std::to_string(p.image.x) + " " + std::to_string(p.image.y) + " " + std::to_string(p.image.w) + " " +
              std::to_string(p.image.h) + " zoom " + std::to_string(p.zoom) + "\n";
  const std::string title = !figure.title.empty() ? figure.title : figure.panels.front().title;
  write_png(path, r.image, {{"Title", title}, {"Description", caption}, {"Software", "tmdflow"}, {"tmdflow:layout", layout}});
  record_caption(path, caption);
}

void write_figure(const std::string& path, Panel panel, const std::string& caption) {
  Figure f;
  f.panels.push_back(std::move(panel));
  write_figure(path, f, caption);
}

}  // namespace tmdflow::io::plot
