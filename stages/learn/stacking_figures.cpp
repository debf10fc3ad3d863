#include "stacking_figures.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_panels.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::stages {
namespace {

namespace plot = io::plot;

/// The image binned by an integer factor so that its longer side is at most `most` pixels.
std::vector<float> binned(const std::vector<float>& img, std::int64_t h, std::int64_t w, std::int64_t f, std::int64_t& bh, std::int64_t& bw) {
  bh = h / f, bw = w / f;
  std::vector<float> out(static_cast<std::size_t>(bh * bw), 0.0f);
  for (std::int64_t i = 0; i < bh * f; ++i)
    for (std::int64_t j = 0; j < bw * f; ++j) out[std::size_t((i / f) * bw + j / f)] += img[std::size_t(i * w + j)] / float(f * f);
  return out;
}

plot::Axes map_axes(const learn::WindowCentres& g, double pixel_A) {
  plot::Axes a;
  a.x = {"x", "A", g.col_px.front() * pixel_A, (g.cols > 1 ? g.col_px[1] - g.col_px[0] : 1.0) * pixel_A};
  a.y = {"y", "A", g.row_px.front() * pixel_A, (g.rows > 1 ? g.row_px[1] - g.row_px[0] : 1.0) * pixel_A};
  return a;
}

std::string number(double v, int digits = 2) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

void write_stacking_figures(const std::string& dir, const std::string& stem, const StackingFigureInput& in) {
  namespace fs = std::filesystem;
  const auto& g = *in.grid;
  const bool slip = in.task == "slip";
  const std::int64_t f = std::max<std::int64_t>(1, (std::max(in.height, in.width) + 511) / 512);
  std::int64_t bh = 0, bw = 0;
  const std::vector<float> small = binned(*in.image, in.height, in.width, f, bh, bw);
  const plot::Axes image_axes = plot::scan_axes(in.pixel_A * double(f), "A");

  // 1. The image with the window grid: every window centre, one window outlined, boundary windows in red.
  plot::Figure fig;
  fig.title = in.material + " " + std::to_string(in.layers) + "-layer " + in.task + ": " + in.where;
  plot::Panel image = plot::intensity_panel("image and windows", small, bh, bw, image_axes, "ADF intensity", io::robust_scale(small));
  const double half = in.window_px / 2 / double(f);
  auto outline = [&](double r, double c, io::Rgb colour, double width) {
    const double x0 = c / double(f) - half, x1 = c / double(f) + half, y0 = r / double(f) - half, y1 = r / double(f) + half;
    for (const auto& [a, b, c2, d] : {std::array<double, 4>{x0, y0, x1, y0}, {x1, y0, x1, y1}, {x1, y1, x0, y1}, {x0, y1, x0, y0}})
      image.marks.push_back({plot::Mark::Kind::line, a, b, c2, d, 0, colour, width, false});
  };
  for (std::int64_t i = 0; i < g.rows; ++i)
    for (std::int64_t j = 0; j < g.cols; ++j) {
      const std::int64_t k = i * g.cols + j;
      const double r = g.row_px[std::size_t(i)], c = g.col_px[std::size_t(j)];
      if (in.boundary[std::size_t(k)]) outline(r, c, {230, 40, 40}, 1.0);
      image.marks.push_back({plot::Mark::Kind::circle, c / double(f), r / double(f), 0, 0, 0.9, {60, 200, 255}, 0, true});
    }
  outline(g.row_px.front(), g.col_px.front(), {255, 220, 0}, 2.0);
  fig.panels.push_back(image);

  const plot::Axes axes = map_axes(g, in.pixel_A);
  const std::int64_t cells = g.rows * g.cols;
  auto map_panel = [&](const std::string& title, std::size_t component, const std::string& bar) {
    std::vector<float> v(static_cast<std::size_t>(cells));
    for (std::int64_t k = 0; k < cells; ++k) v[std::size_t(k)] = float(in.window_values[std::size_t(k)][component]);
    fig.panels.push_back(plot::intensity_panel(title, v, g.rows, g.cols, axes, bar, io::robust_scale(v, 0.01, 0.99, io::Ramp::heat)));
  };
  if (slip) {
    for (int i = 0; i < in.layers - 1; ++i) {
      const std::string which = in.layers > 2 ? " (interface " + std::to_string(i) + ")" : "";
      map_panel("slip x" + which, std::size_t(2 * i), "slip x (A)");
      map_panel("slip y" + which, std::size_t(2 * i + 1), "slip y (A)");
    }
  } else {
    map_panel("twist", 0, "twist (degrees)");
  }
  std::vector<float> conf(in.confidence.begin(), in.confidence.end());
  io::ColourScale unit{0, 1, false, io::Ramp::heat};
  fig.panels.push_back(plot::intensity_panel("confidence", conf, g.rows, g.cols, axes, "confidence", unit));
  fig.columns = int(std::min<std::size_t>(fig.panels.size(), 3));
  std::string estimate;
  if (slip) {
    for (std::size_t i = 0; i < in.estimate_xy_A.size(); ++i)
      estimate += (i ? "; " : "") + std::string("(") + number(in.estimate_xy_A[i][0]) + ", " + number(in.estimate_xy_A[i][1]) + ") A";
  } else {
    estimate = number(in.estimate_twist) + " degrees";
  }
  plot::write_figure((fs::path(dir) / (stem + "_stacking_maps.png")).string(), fig,
                     "Stacking of " + in.where + " (first image): the windows (blue centres; one window outlined in yellow; windows on a "
                     "boundary in red) and the " + in.task + " of each window" + (slip ? " in Angstrom, image frame (x right, y down)" : "") +
                     ", with its confidence. Whole-image estimate: " + estimate + ".");

  // 2. The atomic model of the found stacking over a crop around a refined window.
  if (!in.model_origin || in.model_label.empty()) return;
  const auto& o = *in.model_origin;
  const auto& M = in.frame;  // canonical Angstrom -> input pixels, row-major
  const double crop_A = std::min(16.0, std::min(in.height, in.width) * in.pixel_A);
  const std::int64_t side = std::int64_t(crop_A / in.pixel_A);
  const std::int64_t r0 = std::clamp<std::int64_t>(std::int64_t(o[0]) - side / 2, 0, in.height - side);
  const std::int64_t c0 = std::clamp<std::int64_t>(std::int64_t(o[1]) - side / 2, 0, in.width - side);
  std::vector<float> crop(static_cast<std::size_t>(side * side));
  for (std::int64_t i = 0; i < side; ++i)
    for (std::int64_t j = 0; j < side; ++j) crop[std::size_t(i * side + j)] = (*in.image)[std::size_t((r0 + i) * in.width + c0 + j)];
  plot::Panel panel = plot::intensity_panel("atomic model of the found stacking", crop, side, side, plot::scan_axes(in.pixel_A, "A"),
                                            "ADF intensity", io::robust_scale(crop));
  // The stack in the canonical frame (layer 0's metal at the field centre), cumulative layer slips.
  sim::StackSpec spec;
  spec.material = in.material;
  spec.layers = in.layers;
  spec.stacking = in.stacking;
  spec.phi_deg = 30 + in.model_bottom_rotation_deg;
  const double field = 2.5 * crop_A;
  spec.extent_x = spec.extent_y = field;
  if (slip) {
    double sa = 0, sb = 0;
    for (int i = 0; i < in.layers - 1; ++i) {
      sa += in.model_label[std::size_t(2 * i)], sb += in.model_label[std::size_t(2 * i + 1)];
      spec.slip_a.push_back(sa), spec.slip_b.push_back(sb);
    }
  } else {
    spec.twist_deg.push_back(in.model_label[0]);
  }
  sim::Structure s;
  try {
    s = sim::build_stack(spec);
  } catch (const std::exception&) {
    return;  // a stacking the builder does not make: no model figure
  }
  const io::Rgb colours[3] = {{0, 170, 255}, {255, 120, 0}, {120, 230, 80}};
  for (const auto& a : s.atoms) {
    if (a.layer < 0) continue;
    const double qx = a.x - field / 2 + o[2], qy = a.y - field / 2 + o[3];
    const double px = o[1] + M[0] * qx + M[1] * qy - double(c0), py = o[0] + M[2] * qx + M[3] * qy - double(r0);
    if (px < -2 || py < -2 || px > double(side + 1) || py > double(side + 1)) continue;
    const double radius = (a.sublattice == sim::Sublattice::metal ? 0.4 : 0.25) / in.pixel_A;
    panel.marks.push_back({plot::Mark::Kind::circle, px, py, 0, 0, radius, colours[std::min<int>(a.layer, 2)], 0.0, false});
    panel.marks.back().line_width = 1.5;
  }
  plot::Legend legend;
  legend.title = "layers";
  for (int l = 0; l < in.layers; ++l) legend.entries.push_back({colours[l], "layer " + std::to_string(l) + (l == 0 ? " (bottom)" : "")});
  panel.colour_bar.reset();
  panel.legend = legend;
  plot::write_figure((fs::path(dir) / (stem + "_stacking_model.png")).string(), panel,
                     "A " + number(crop_A, 0) + " A crop of " + in.where + " with the atoms of the found stacking drawn over it (circles: metals "
                     "larger, one colour per layer), placed by the physics refinement of the window nearest the image centre.");
}

}  // namespace tmdflow::stages
