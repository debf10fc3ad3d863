#include "tmdflow/analysis/landscape/campaign_figures.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "tmdflow/core/numeric.hpp"
#include "tmdflow/io/plot.hpp"
#include "tmdflow/io/plot_contours.hpp"
#include "tmdflow/io/plot_panels.hpp"

namespace tmdflow::analysis {

namespace {

namespace plot = io::plot;
const io::Rgb kContour{255, 255, 255}, kBorder{0, 230, 255}, kPoint{120, 255, 120}, kOutside{150, 150, 150};

/// Canonical Cartesian slip (Angstrom) -> fractions of a1, a2.
std::array<double, 2> fractions_of(const CampaignFigureInput& in, double x, double y) {
  const auto& a1 = in.a1_A;
  const auto& a2 = in.a2_A;
  const double det = a1[0] * a2[1] - a1[1] * a2[0];
  return {(x * a2[1] - y * a2[0]) / det, (a1[0] * y - a1[1] * x) / det};
}

plot::Mark dot(double x, double y, double radius) {
  plot::Mark m;
  m.kind = plot::Mark::Kind::circle;
  m.x0 = x, m.y0 = y, m.radius = radius, m.colour = kPoint, m.filled = true, m.line_width = 0;
  return m;
}

/// Paints the pixels of no data (NaN) grey rather than the ramp's black, which means "lowest" here.
void grey_outside(plot::Panel& p, const std::vector<float>& values) {
  for (std::size_t k = 0; k < values.size(); ++k)
    if (!std::isfinite(values[k]))
      for (int c = 0; c < 3; ++c) p.image.rgb[3 * k + std::size_t(c)] = kOutside[std::size_t(c)];
}

void add(std::vector<plot::Mark>& to, const std::vector<plot::Mark>& marks) { to.insert(to.end(), marks.begin(), marks.end()); }

/// The TED-Gen plane's raster: a pixel every `step` Angstrom over the histogram's box.
struct TedgenRaster {
  std::int64_t height = 0, width = 0;
  double x0 = 0, y0 = 0, step = 0.05;  // centre of pixel (0, 0): Da = x0, Db = y0
  std::vector<std::array<double, 2>> fractions;  // per pixel: the slip's fractions, NaN outside their cell
};

TedgenRaster tedgen_raster(const CampaignFigureInput& in, const analysis::SlipHistogram& h) {
  TedgenRaster r;
  r.width = std::int64_t(std::ceil(h.nx * h.dx / r.step)), r.height = std::int64_t(std::ceil(h.ny * h.dy / r.step));
  r.x0 = h.x0 + r.step / 2, r.y0 = h.y0 + r.step / 2;
  r.fractions.assign(std::size_t(r.width * r.height), {kNaN, kNaN});
  for (std::int64_t i = 0; i < r.height; ++i)
    for (std::int64_t j = 0; j < r.width; ++j) {
      const double da = r.x0 + j * r.step, db = r.y0 + i * r.step;
      if (!analysis::in_tedgen_cell(da, db)) continue;
      const auto xy = analysis::tedgen_xy(da, db);  // minus the canonical slip: the same class
      r.fractions[std::size_t(i * r.width + j)] = fractions_of(in, -xy[0], -xy[1]);
    }
  return r;
}

std::string basin_summary(const CampaignFigureInput& in) {
  std::ostringstream s;
  const auto& basins = in.tally->folded();
  for (int b = 0; b < basins.count(); ++b) {
    const auto& m = basins.minimum[std::size_t(b)];
    s << (b ? "; " : "") << "basin " << b << " (minimum " << std::round(m.energy_meV * 10) / 10 << " meV at " << std::round(m.slip_a * 1000) / 1000
      << ", " << std::round(m.slip_b * 1000) / 1000 << "): " << std::round(in.basin_fraction[std::size_t(b)] * 1000) / 10 << " %";
  }
  return s.str();
}

plot::Panel landscape_in_fractions(const CampaignFigureInput& in, const io::ColourScale& heat) {
  const analysis::EnergyGrid& e = *in.folded;
  const auto& basins = in.tally->folded();
  std::vector<float> v(e.energy_meV.begin(), e.energy_meV.end());
  plot::Axes axes;
  axes.x = {"slip_a", "fraction of a1", 0.0, 1.0 / e.na};
  axes.y = {"slip_b", "fraction of a2", 0.0, 1.0 / e.nb};
  plot::Panel p = plot::intensity_panel("windows over the folded landscape (both members of each class)", v, e.nb, e.na, axes, "meV per cell", heat);
  p.colour_bar.reset();
  p.scale_bar = false;
  add(p.marks, plot::contour_marks(v, e.nb, e.na, plot::even_levels(heat.lo, heat.hi, 9), kContour, 0.6, true));
  add(p.marks, plot::region_border_marks(basins.label, e.nb, e.na, kBorder, 1.6));
  for (const auto& f : in.points_fraction)
    for (std::size_t g = 0; g < in.symmetry->maps.size(); ++g) {
      const auto s = analysis::equivalent_slip(*in.symmetry, g, f[0], f[1]);
      // Wrapped so that the point lands on the pixel nearest it (pixel k holds slip k / n).
      double x = s[0] * e.na, y = s[1] * e.nb;
      x -= e.na * std::floor((x + 0.5) / e.na), y -= e.nb * std::floor((y + 0.5) / e.nb);
      p.marks.push_back(dot(x, y, 0.7));
    }
  for (const auto& m : basins.minimum)
    for (std::size_t g = 0; g < in.symmetry->maps.size(); ++g) {
      const auto s = analysis::equivalent_slip(*in.symmetry, g, m.slip_a, m.slip_b);
      double x = s[0] * e.na, y = s[1] * e.nb;
      x -= e.na * std::floor((x + 0.5) / e.na), y -= e.nb * std::floor((y + 0.5) / e.nb);
      plot::Mark c = dot(x, y, 2.2);
      c.filled = false, c.colour = kBorder, c.line_width = 2;
      p.marks.push_back(c);
    }
  return p;
}

plot::Panel landscape_in_tedgen(const CampaignFigureInput& in, const io::ColourScale& heat) {
  const analysis::SlipHistogram& h = *in.tally->tedgen();
  const TedgenRaster r = tedgen_raster(in, h);
  const auto& basins = in.tally->folded();
  std::vector<float> v(std::size_t(r.width * r.height), float(kNaN));
  std::vector<std::int32_t> label(v.size(), -1);
  for (std::size_t k = 0; k < v.size(); ++k) {
    const auto& f = r.fractions[k];
    if (!std::isfinite(f[0])) continue;
    v[k] = float(in.folded->interpolate(f[0], f[1]));
    label[k] = basins.at(f[0], f[1]);
  }
  plot::Axes axes;
  axes.x = {"Da", "A", r.x0, r.step};
  axes.y = {"Db", "A", r.y0, r.step};
  plot::Panel p = plot::intensity_panel("TED-Gen's (Da, Db): windows over the folded landscape", v, r.height, r.width, axes, "meV per cell", heat);
  p.colour_bar.reset();
  p.scale_bar = false;
  grey_outside(p, v);
  add(p.marks, plot::contour_marks(v, r.height, r.width, plot::even_levels(heat.lo, heat.hi, 9), kContour, 0.6));
  add(p.marks, plot::region_border_marks(label, r.height, r.width, kBorder, 1.6));
  for (const auto& t : in.points_tedgen)
    if (std::isfinite(t[0]) && std::isfinite(t[1])) p.marks.push_back(dot((t[0] - r.x0) / r.step, (t[1] - r.y0) / r.step, 0.9));
  return p;
}

/// `inside` (when not empty): the bins of the plane's own cell; the others are painted grey.
plot::Panel density_panel(const std::string& title, const analysis::SlipHistogram& h, const std::vector<double>& density,
                          const std::vector<std::int32_t>& labels, const plot::Axes& axes, const std::vector<bool>& inside = {}) {
  std::vector<float> v(density.begin(), density.end());
  for (std::size_t k = 0; k < inside.size(); ++k)
    if (!inside[k]) v[k] = float(kNaN);
  const double top = std::max(1e-12, *std::max_element(density.begin(), density.end()));
  const io::ColourScale scale{0.0, top, false, io::Ramp::heat};
  plot::Panel p = plot::intensity_panel(title, v, h.ny, h.nx, axes, "windows per A^2 (density)", scale);
  p.scale_bar = false;
  grey_outside(p, v);
  add(p.marks, plot::region_border_marks(labels, h.ny, h.nx, kBorder, 1.4));
  return p;
}

}  // namespace

void write_campaign_figures(const std::string& dir, const std::string& stem, const CampaignFigureInput& in) {
  namespace fs = std::filesystem;
  const fs::path folder(dir);
  const double top = std::max(1e-9, in.folded->max());
  const io::ColourScale heat{0.0, top, false, io::Ramp::heat};

  plot::Figure fig;
  fig.title = "Stacking of " + in.material + " windows on the sliding-energy landscape";
  fig.columns = in.tally->tedgen() ? 2 : 1;
  fig.panels.push_back(landscape_in_fractions(in, heat));
  if (in.tally->tedgen()) fig.panels.push_back(landscape_in_tedgen(in, heat));
  fig.shared_colour_bar = plot::ColourBar{"energy (meV per cell), lower of the equivalent slips", heat};
  const std::string summary = basin_summary(in);
  plot::write_figure((folder / (stem + "_campaign_landscape.png")).string(), fig,
                     "Window slips of " + in.title_source + " (green dots; in fractions of a1, a2 both members of each window's class, which the "
                     "image cannot tell apart) over the folded sliding-energy landscape (the lower energy of the equivalent slips, meV per cell, "
                     "white contours), the basins of its minima outlined in cyan (minima circled)" +
                         std::string(in.tally->tedgen() ? "; right, the same in TED-Gen's (Da, Db) over their fundamental cell (grey: outside)" : "") +
                         ". " + summary + ".");

  // Densities.
  const auto& basins = in.tally->folded();
  plot::Figure dens;
  dens.title = "Kernel density of " + in.material + " window slips";
  dens.columns = in.tally->tedgen() ? 2 : 1;
  const analysis::SlipHistogram& fh = in.tally->fractions();
  std::vector<std::int32_t> flabels(fh.counts.size());
  for (int i = 0; i < fh.ny; ++i)
    for (int j = 0; j < fh.nx; ++j) flabels[std::size_t(i) * fh.nx + j] = basins.at((j + 0.5) * fh.dx, (i + 0.5) * fh.dy);
  plot::Axes fa;
  fa.x = {"slip_a", "fraction of a1", 0.5 * fh.dx, fh.dx};
  fa.y = {"slip_b", "fraction of a2", 0.5 * fh.dy, fh.dy};
  dens.panels.push_back(density_panel("in fractions of the cell (basins outlined)", fh, in.fraction_density, flabels, fa));
  if (in.tally->tedgen()) {
    const analysis::SlipHistogram& th = *in.tally->tedgen();
    std::vector<std::int32_t> tlabels(th.counts.size(), -1);
    std::vector<bool> inside(th.counts.size(), false);
    for (int i = 0; i < th.ny; ++i)
      for (int j = 0; j < th.nx; ++j) {
        const double da = th.x0 + (j + 0.5) * th.dx, db = th.y0 + (i + 0.5) * th.dy;
        if (!analysis::in_tedgen_cell(da, db)) continue;
        inside[std::size_t(i) * th.nx + j] = true;
        const auto xy = analysis::tedgen_xy(da, db);
        const auto f = fractions_of(in, -xy[0], -xy[1]);
        tlabels[std::size_t(i) * th.nx + j] = basins.at(f[0], f[1]);
      }
    plot::Axes ta;
    ta.x = {"Da", "A", th.x0 + 0.5 * th.dx, th.dx};
    ta.y = {"Db", "A", th.y0 + 0.5 * th.dy, th.dy};
    dens.panels.push_back(density_panel("in TED-Gen's (Da, Db)", th, in.tedgen_density, tlabels, ta, inside));
  }
  plot::write_figure((folder / (stem + "_campaign_density.png")).string(), dens,
                     "Gaussian kernel density of the kept window slips (per A^2 of slip; binned), in fractions of the cell (each window shared "
                     "between the members of its class)" +
                         std::string(in.tally->tedgen() ? " and in TED-Gen's (Da, Db)" : "") + "; the basins of the folded landscape outlined in cyan. " +
                         summary + ".");
}

}  // namespace tmdflow::analysis
