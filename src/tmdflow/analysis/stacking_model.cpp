#include "tmdflow/analysis/stacking_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/grid.hpp"

namespace tmdflow::analysis {
namespace {

using str::number;

/// Gaussian spots are cut at this many standard deviations (the tail beyond holds 0.03 % of the peak).
constexpr double kTruncationSigmas = 4.0;

struct Mat2 {
  double a = 1, b = 0, c = 0, d = 1;  // [[a, b], [c, d]]
  void apply(double x, double y, double& ox, double& oy) const { ox = a * x + b * y, oy = c * x + d * y; }
  Mat2 inverse() const {
    const double det = a * d - b * c;
    return {d / det, -b / det, -c / det, a / det};
  }
};
Mat2 rotation(double deg) {
  const double t = units::deg_to_rad(deg), c = std::cos(t), s = std::sin(t);
  return {c, -s, s, c};
}

bool is_mx2(const sim::LayerCell& cell) { return !cell.triclinic; }

/// One layer's sum of Gaussian spots and, optionally, their derivatives, on a square canvas.
class Splatter {
 public:
  Splatter(int size, double centre_px, double pixel_A, double sigma_A, bool derivatives)
      : size_(size), centre_(centre_px), pixel_(pixel_A), sigma_(sigma_A), derivatives_(derivatives) {
    radius_px_ = int(std::ceil(kTruncationSigmas * sigma_A / pixel_A));
    // Each 1-D factor is lowered by its value at the cut (4 sigma), so a spot ends at zero: the image
    // is then continuous in the atoms' positions and in sigma (no jump as a pixel enters a spot).
    cut_ = std::exp(-0.5 * kTruncationSigmas * kTruncationSigmas);
    const std::size_t w = std::size_t(2 * radius_px_ + 1);
    gx_.resize(w), gxd_.resize(w), gxq_.resize(w);
  }

  /// Adds the spot of weight w at X (window coordinates) whose ideal position is p.
  void add(double Xx, double Xy, double w, double px, double py, StackingRenderer::LayerImages& L) {
    const double xc = Xx / pixel_ + centre_, yc = Xy / pixel_ + centre_;
    const int j0 = std::max(0, int(std::ceil(xc - radius_px_))), j1 = std::min(size_ - 1, int(std::floor(xc + radius_px_)));
    const int i0 = std::max(0, int(std::ceil(yc - radius_px_))), i1 = std::min(size_ - 1, int(std::floor(yc + radius_px_)));
    if (j0 > j1 || i0 > i1) return;
    const double s2 = sigma_ * sigma_, inv2s2 = 0.5 / s2;
    const int nj = j1 - j0 + 1;
    for (int j = j0; j <= j1; ++j) {
      const double dx = (j - xc) * pixel_, e = std::exp(-dx * dx * inv2s2), inside = e > cut_ ? 1.0 : 0.0;
      gx_[j - j0] = float(inside * (e - cut_));
      if (derivatives_) gxd_[j - j0] = float(inside * e * dx / s2), gxq_[j - j0] = float(inside * e * dx * dx / (s2 * sigma_));
    }
    const double norm = w / (2 * units::pi * s2);
    const float* gx = gx_.data();
    const float* gxd = gxd_.data();
    const float* gxq = gxq_.data();
    for (int i = i0; i <= i1; ++i) {
      const double dy = (i - yc) * pixel_, e = std::exp(-dy * dy * inv2s2);
      if (e <= cut_) continue;
      const double gy = norm * (e - cut_);
      const std::size_t row = std::size_t(i) * size_ + j0;
      const float cm = float(gy);
      float* im = L.image.data() + row;
      for (int j = 0; j < nj; ++j) im[j] += cm * gx[j];
      if (!derivatives_) continue;
      const float cd = float(norm * e * dy / s2), cq = float(norm * e * dy * dy / (s2 * sigma_));
      float* gxi = L.grad_x.data() + row;
      float* gyi = L.grad_y.data() + row;
      float* m0 = L.moment[0].data() + row;
      float* m1 = L.moment[1].data() + row;
      float* m2 = L.moment[2].data() + row;
      float* m3 = L.moment[3].data() + row;
      float* bl = L.blur.data() + row;
      const float cmx = float(gy * px), cmy = float(gy * py), cdx = cd * float(px), cdy = cd * float(py);
      for (int j = 0; j < nj; ++j) {
        gxi[j] += cm * gxd[j];
        gyi[j] += cd * gx[j];
        m0[j] += cmx * gxd[j];
        m1[j] += cmy * gxd[j];
        m2[j] += cdx * gx[j];
        m3[j] += cdy * gx[j];
        bl[j] += cm * gxq[j] + cq * gx[j];
      }
    }
  }

 private:
  int size_;
  double centre_, pixel_, sigma_;
  bool derivatives_;
  int radius_px_ = 0;
  double cut_ = 0;  // a 1-D factor's value at the cut
  std::vector<float> gx_, gxd_, gxq_;
};

void resize_layer(StackingRenderer::LayerImages& L, std::size_t n, bool derivatives) {
  L.image.assign(n, 0.0f);
  auto reset = [&](std::vector<float>& v) {
    if (derivatives) v.assign(n, 0.0f);
    else v.clear();
  };
  reset(L.grad_x), reset(L.grad_y), reset(L.blur);
  for (auto& m : L.moment) reset(m);
}

}  // namespace

void validate(const StackingModelSpec& spec) {
  const std::string who = "stacking model";
  const sim::LayerCell cell = sim::layer_cell(spec.material);  // ConfigError naming the known materials
  if (spec.layers < 1 || spec.layers > 3)
    throw ConfigError(who + ": layers: expected 2 or 3 (1 for a monolayer), found " + std::to_string(spec.layers));
  if (cell.triclinic) {
    if (spec.stacking != "AA")
      throw ConfigError(who + ": stacking: expected AA for a 1T'' material (" + spec.material + "), found \"" + spec.stacking + "\"");
    if (spec.twist) throw ConfigError(who + ": twist: expected false for a 1T'' material (" + spec.material + "; twisted stacks are MX2 only)");
  } else if (spec.stacking != "2H" && spec.stacking != "3R" && spec.stacking != "AA") {
    throw ConfigError(who + ": stacking: expected 2H, 3R or AA, found \"" + spec.stacking + "\"");
  }
  if (spec.twist && spec.layers != 2)
    throw ConfigError(who + ": twist: expected a bilayer (layers = 2), found layers = " + std::to_string(spec.layers));
  if (!(spec.voltage_kV > 0) || !(spec.convergence_mrad > 0))
    throw ConfigError(who + ": voltage_kV, convergence_mrad: expected positive numbers, found " + number(spec.voltage_kV) + ", " +
                      number(spec.convergence_mrad));
  if (!(spec.inner_mrad >= 0 && spec.outer_mrad > spec.inner_mrad))
    throw ConfigError(who + ": inner_mrad, outer_mrad: expected 0 <= inner < outer, found " + number(spec.inner_mrad) + ", " +
                      number(spec.outer_mrad));
}

void validate(const StackingModelSpec& spec, const StackingParams& p) {
  const std::string who = "stacking params";
  const std::size_t interfaces = std::size_t(spec.layers - 1);
  if (p.slip_x_A.size() != interfaces || p.slip_y_A.size() != interfaces)
    throw ConfigError(who + ": slip_x_A, slip_y_A: expected " + std::to_string(interfaces) + " values each (layers - 1), found " +
                      std::to_string(p.slip_x_A.size()) + ", " + std::to_string(p.slip_y_A.size()));
  if (!p.layer_intensity.empty() && p.layer_intensity.size() != std::size_t(spec.layers))
    throw ConfigError(who + ": layer_intensity: expected none or " + std::to_string(spec.layers) + " values, found " +
                      std::to_string(p.layer_intensity.size()));
  if (!(p.blur_A > 0) || !std::isfinite(p.blur_A)) throw ConfigError(who + ": blur_A: expected a positive sigma, found " + number(p.blur_A));
  const double det = p.affine[0] * p.affine[3] - p.affine[1] * p.affine[2];
  if (!(det > 0.25 && det < 4))
    throw ConfigError(who + ": affine: expected a small distortion (determinant in (0.25, 4)), found determinant " + number(det));
  auto finite = [&](double v, const char* name) {
    if (!std::isfinite(v)) throw ConfigError(who + ": " + name + ": expected a finite number, found " + number(v));
  };
  for (double v : p.slip_x_A) finite(v, "slip_x_A");
  for (double v : p.slip_y_A) finite(v, "slip_y_A");
  for (double v : p.layer_intensity) finite(v, "layer_intensity");
  finite(p.twist_deg, "twist_deg"), finite(p.origin_x_A, "origin_x_A"), finite(p.origin_y_A, "origin_y_A");
  finite(p.background, "background"), finite(p.bottom_rotation_deg, "bottom_rotation_deg");
  if (p.twist_deg != 0 && !spec.twist) throw ConfigError(who + ": twist_deg: expected 0 for a model without twist, found " + number(p.twist_deg));
}

StackingRenderer::StackingRenderer(const StackingModelSpec& spec) : spec_(spec) {
  validate(spec);
  cell_ = sim::layer_cell(spec.material);
  const double lambda = units::electron_wavelength_A(spec.voltage_kV);
  const double q_in = units::mrad_to_invA(spec.inner_mrad, lambda), q_out = units::mrad_to_invA(spec.outer_mrad, lambda);
  // Atoms on one projected site (an MX2 chalcogen pair) are one spot of their summed cross-section.
  for (const auto& b : cell_.basis) {
    const double w = sim::annular_cross_section(b.Z, q_in, q_out, spec.voltage_kV);
    auto same = std::find_if(sites_.begin(), sites_.end(), [&](const Site& s) { return std::abs(s.u - b.u) + std::abs(s.v - b.v) < 1e-9; });
    if (same != sites_.end()) same->weight += w;
    else sites_.push_back({b.u, b.v, w});
  }
}

void StackingRenderer::registry(int k, double& x, double& y, bool& turned) const {
  // structures.md: 2H puts odd layers turned by 60 deg with their metal over the chalcogen below,
  // 3R shifts layer k by k (a1 + a2)/3, AA (and every 1T'' stack) is eclipsed.
  const double tx = (cell_.a1[0] + cell_.a2[0]) / 3, ty = (cell_.a1[1] + cell_.a2[1]) / 3;
  x = y = 0, turned = false;
  if (!is_mx2(cell_)) return;
  if (spec_.stacking == "2H" && k % 2 == 1) x = tx, y = ty, turned = true;
  if (spec_.stacking == "3R") x = k * tx, y = k * ty;
}

void StackingRenderer::render_layers(const StackingParams& params, int size, double centre_px, double pixel_A, bool derivatives,
                                     std::vector<LayerImages>& layers) const {
  validate(spec_, params);
  const int L = spec_.layers;
  layers.resize(std::size_t(L));
  const std::size_t npx = std::size_t(size) * std::size_t(size);
  const Mat2 A{params.affine[0], params.affine[1], params.affine[2], params.affine[3]};
  const Mat2 Rb = rotation(params.bottom_rotation_deg), R60 = rotation(60);
  const Mat2 lattice{cell_.a1[0], cell_.a2[0], cell_.a1[1], cell_.a2[1]};  // columns a1c, a2c
  const double margin = kTruncationSigmas * params.blur_A + pixel_A;
  const double lo = -centre_px * pixel_A - margin, hi = (size - 1 - centre_px) * pixel_A + margin;
  double Sx = 0, Sy = 0;  // cumulative slip of layer k
  for (int k = 0; k < L; ++k) {
    if (k > 0) Sx += params.slip_x_A[std::size_t(k - 1)], Sy += params.slip_y_A[std::size_t(k - 1)];
    LayerImages& images = layers[std::size_t(k)];
    resize_layer(images, npx, derivatives);
    const Mat2 T = (spec_.twist && k == 1) ? rotation(params.twist_deg) : Mat2{};
    double rx, ry;
    bool turned;
    registry(k, rx, ry, turned);
    // Lattice points whose sites can fall on the canvas: the canvas corners taken back to the
    // layer's lattice coordinates, widened by one cell for the basis.
    const Mat2 to_frac = lattice.inverse();
    double min1 = std::numeric_limits<double>::max(), max1 = -min1, min2 = min1, max2 = -min1;
    for (double cx : {lo, hi})
      for (double cy : {lo, hi}) {
        double qx, qy, px, py;
        T.inverse().apply(cx, cy, qx, qy);
        qx -= params.origin_x_A, qy -= params.origin_y_A;
        A.inverse().apply(qx, qy, px, py);
        px -= Sx, py -= Sy;
        Rb.inverse().apply(px, py, qx, qy);
        qx -= rx, qy -= ry;
        double f1, f2;
        to_frac.apply(qx, qy, f1, f2);
        min1 = std::min(min1, f1), max1 = std::max(max1, f1), min2 = std::min(min2, f2), max2 = std::max(max2, f2);
      }
    // The layer's sites in its cell (turned by 60 deg for the odd layers of a 2H stack), registry added.
    std::vector<double> site_x, site_y;
    for (const Site& s : sites_) {
      double bx, by;
      lattice.apply(s.u, s.v, bx, by);
      if (turned) R60.apply(bx, by, bx, by);
      site_x.push_back(bx + rx), site_y.push_back(by + ry);
    }
    Splatter splat(size, centre_px, pixel_A, params.blur_A, derivatives);
    for (long n1 = long(std::floor(min1)) - 1; n1 <= long(std::ceil(max1)) + 1; ++n1)
      for (long n2 = long(std::floor(min2)) - 1; n2 <= long(std::ceil(max2)) + 1; ++n2)
        for (std::size_t b = 0; b < sites_.size(); ++b) {
          const Site& s = sites_[b];
          const double qx = n1 * cell_.a1[0] + n2 * cell_.a2[0] + site_x[b], qy = n1 * cell_.a1[1] + n2 * cell_.a2[1] + site_y[b];
          double px, py;
          Rb.apply(qx, qy, px, py);
          px += Sx, py += Sy;
          double ux, uy, Xx, Xy;
          A.apply(px, py, ux, uy);
          T.apply(ux + params.origin_x_A, uy + params.origin_y_A, Xx, Xy);
          if (Xx < lo || Xx > hi || Xy < lo || Xy > hi) continue;
          splat.add(Xx, Xy, s.weight, px, py, images);
        }
  }
}

void StackingRenderer::render(const StackingParams& params, int size, double centre_px, double pixel_A, float* out) const {
  std::vector<LayerImages> layers;
  render_layers(params, size, centre_px, pixel_A, false, layers);
  const std::size_t npx = std::size_t(size) * std::size_t(size);
  std::fill(out, out + npx, float(params.background));
  for (int k = 0; k < spec_.layers; ++k) {
    const float I = params.layer_intensity.empty() ? 1.0f : float(params.layer_intensity[std::size_t(k)]);
    const float* im = layers[std::size_t(k)].image.data();
    for (std::size_t p = 0; p < npx; ++p) out[p] += I * im[p];
  }
}

void render_stacking_window(const StackingModelSpec& spec, const StackingParams& params, int n, double pixel_A, float* out) {
  if (n < 1) throw ConfigError("stacking window: size: expected at least 1 pixel, found " + std::to_string(n));
  if (!(pixel_A > 0)) throw ConfigError("stacking window: pixel_A: expected a positive size, found " + number(pixel_A));
  StackingRenderer(spec).render(params, n, 0.5 * (n - 1), pixel_A, out);
}

double gaussian_probe_sigma_A(const sim::ProbeSpec& probe) {
  // The probe intensity on a grid fine enough for its band limit (twice the aperture), then the
  // sigma whose Gaussian (amplitude free) is nearest to it in least squares, by golden section.
  const double lambda = units::electron_wavelength_A(probe.voltage_kV);
  const double k_max = 2 * units::mrad_to_invA(probe.convergence_mrad, lambda);
  sim::Grid g;
  g.dx = g.dy = std::min(0.05, 0.4 / k_max);
  g.nx = g.ny = sim::fft_friendly_size(int(std::ceil(16.0 / g.dx)));
  const std::vector<double> I = sim::probe_intensity(probe, g);
  auto misfit = [&](double sigma) {
    double gi = 0, gg = 0, ii = 0;
    for (int i = 0; i < g.ny; ++i)
      for (int j = 0; j < g.nx; ++j) {
        const double x = sim::fft_frequency(j, g.nx, 1.0) * g.nx * g.dx, y = sim::fft_frequency(i, g.ny, 1.0) * g.ny * g.dy;
        const double G = std::exp(-(x * x + y * y) / (2 * sigma * sigma));
        const double v = I[std::size_t(i) * g.nx + j];
        gi += G * v, gg += G * G, ii += v * v;
      }
    return ii - gi * gi / gg;
  };
  double a = 0.05, b = 3.0;
  const double phi = 0.5 * (std::sqrt(5.0) - 1);
  double c = b - phi * (b - a), d = a + phi * (b - a), fc = misfit(c), fd = misfit(d);
  for (int it = 0; it < 40; ++it) {
    if (fc < fd) b = d, d = c, fd = fc, c = b - phi * (b - a), fc = misfit(c);
    else a = c, c = d, fc = fd, d = a + phi * (b - a), fd = misfit(d);
  }
  return 0.5 * (a + b);
}

}  // namespace tmdflow::analysis
