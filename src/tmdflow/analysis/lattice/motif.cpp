#include "tmdflow/analysis/lattice/motif.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>

#include "tmdflow/analysis/lattice/reciprocal.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::analysis::lattice {
namespace {

double angle_between(const double a[2], const double b[2]) {  // from a to b, (-pi, pi]
  return std::atan2(a[0] * b[1] - a[1] * b[0], a[0] * b[0] + a[1] * b[1]);
}

/// Structure factor of the projected cell at canonical indices (h, k): point atoms of strength Z^1.7
/// (an incoherent HAADF column's contrast; the exact detector cross-section changes the weights of
/// metal and chalcogen a little, not which assignment wins) under a Gaussian blur.
std::complex<double> motif_coefficient(const sim::LayerCell& cell, int h, int k, double blur_A) {
  double a1[2] = {cell.a1[0], cell.a1[1]}, a2[2] = {cell.a2[0], cell.a2[1]};
  const Reciprocal r = Reciprocal::dual_of(a1, a2);
  double g[2];
  r.point(h, k, g);
  const double envelope = std::exp(-2 * units::pi * units::pi * blur_A * blur_A * (g[0] * g[0] + g[1] * g[1]));
  std::complex<double> f = 0;
  for (const auto& b : cell.basis) f += std::pow(double(b.Z), 1.7) * std::polar(1.0, -2 * units::pi * (h * b.u + k * b.v));
  return f * envelope;
}

/// Fraction of the power of the image's lattice coefficients that `copies` translated copies of the
/// motif explain (the incoherent image of a stack of layers of one orientation), each copy placed
/// where the correlation with what the earlier copies leave is largest, their weights refitted
/// together by least squares.
double explained_fraction(const std::vector<int>& hs, const std::vector<int>& ks, const std::vector<std::complex<double>>& image,
                          const std::vector<std::complex<double>>& motif, int copies) {
  const std::size_t n = image.size();
  double image_power = 0, motif_power = 0;
  for (std::size_t p = 0; p < n; ++p) image_power += std::norm(image[p]), motif_power += std::norm(motif[p]);
  if (!(image_power > 0) || !(motif_power > 0)) return 0;
  std::vector<std::complex<double>> residual = image;
  std::vector<std::vector<std::complex<double>>> placed;  // F_j e^{-2 pi i g_j . t} per copy
  auto correlation = [&](double t1, double t2) {
    double c = 0;
    for (std::size_t p = 0; p < n; ++p) {
      const std::complex<double> v = residual[p] * std::conj(motif[p]);
      const double phase = 2 * units::pi * (hs[p] * t1 + ks[p] * t2);
      c += v.real() * std::cos(phase) - v.imag() * std::sin(phase);
    }
    return c;
  };
  // The coarse grid's phases e^{2 pi i m / steps}, looked up by (h i + k j) mod steps.
  constexpr int steps = 32;
  std::array<std::complex<double>, steps> unit;
  for (int m = 0; m < steps; ++m) unit[std::size_t(m)] = std::polar(1.0, 2 * units::pi * m / steps);
  std::vector<std::complex<double>> v(n);
  for (int copy = 0; copy < copies; ++copy) {
    // Coarse grid over the cell, then two finer grids about the best point (a copy misplaced by
    // 1/32 cell would lose much of its high-order coefficients' power).
    for (std::size_t p = 0; p < n; ++p) v[p] = residual[p] * std::conj(motif[p]);
    double best = -1e300, t1 = 0, t2 = 0;
    for (int i = 0; i < steps; ++i)
      for (int j = 0; j < steps; ++j) {
        double c = 0;
        for (std::size_t p = 0; p < n; ++p) {
          const std::complex<double> e = unit[std::size_t(((hs[p] * i + ks[p] * j) % steps + steps) % steps)];
          c += v[p].real() * e.real() - v[p].imag() * e.imag();
        }
        if (c > best) best = c, t1 = double(i) / steps, t2 = double(j) / steps;
      }
    for (double step : {1.0 / 128, 1.0 / 512}) {
      const double c1 = t1, c2 = t2;
      for (int i = -4; i <= 4; ++i)
        for (int j = -4; j <= 4; ++j) {
          const double c = correlation(c1 + i * step, c2 + j * step);
          if (c > best) best = c, t1 = c1 + i * step, t2 = c2 + j * step;
        }
    }
    std::vector<std::complex<double>> b(n);
    for (std::size_t p = 0; p < n; ++p) b[p] = motif[p] * std::polar(1.0, -2 * units::pi * (hs[p] * t1 + ks[p] * t2));
    placed.push_back(b);
    // Weights of all copies so far: real least squares (normal equations, Gaussian elimination).
    const std::size_t m = placed.size();
    std::vector<double> gram(m * m), rhs(m), w(m);
    for (std::size_t a = 0; a < m; ++a) {
      for (std::size_t c = 0; c < m; ++c) {
        double v = 0;
        for (std::size_t p = 0; p < n; ++p) v += (placed[a][p] * std::conj(placed[c][p])).real();
        gram[a * m + c] = v;
      }
      double v = 0;
      for (std::size_t p = 0; p < n; ++p) v += (image[p] * std::conj(placed[a][p])).real();
      rhs[a] = v;
    }
    for (std::size_t col = 0; col < m; ++col) {
      std::size_t pivot = col;
      for (std::size_t r = col + 1; r < m; ++r)
        if (std::abs(gram[r * m + col]) > std::abs(gram[pivot * m + col])) pivot = r;
      if (std::abs(gram[pivot * m + col]) < 1e-300) continue;
      for (std::size_t c = 0; c < m; ++c) std::swap(gram[col * m + c], gram[pivot * m + c]);
      std::swap(rhs[col], rhs[pivot]);
      for (std::size_t r = 0; r < m; ++r) {
        if (r == col) continue;
        const double f = gram[r * m + col] / gram[col * m + col];
        for (std::size_t c = 0; c < m; ++c) gram[r * m + c] -= f * gram[col * m + c];
        rhs[r] -= f * rhs[col];
      }
    }
    for (std::size_t a = 0; a < m; ++a) w[a] = std::abs(gram[a * m + a]) > 1e-300 ? std::max(0.0, rhs[a] / gram[a * m + a]) : 0.0;
    residual = image;
    for (std::size_t a = 0; a < m; ++a)
      for (std::size_t p = 0; p < n; ++p) residual[p] -= w[a] * placed[a][p];
  }
  double left = 0;
  for (const auto& r : residual) left += std::norm(r);
  return 1 - left / image_power;
}

double assignment_score(const Spectrum& spectrum, const double a1[2], const double a2[2], const sim::LayerCell& cell,
                        double max_radius, int copies) {
  const Reciprocal r = Reciprocal::dual_of(a1, a2);
  const double shortest = std::min(std::hypot(r.b1[0], r.b1[1]), std::hypot(r.b2[0], r.b2[1]));
  const int n = int(std::ceil(2 * max_radius / shortest)) + 1;
  std::vector<int> hs, ks;
  std::vector<std::complex<double>> image;
  for (int h = 0; h <= n; ++h)
    for (int k = -n; k <= n; ++k) {
      if (h == 0 && k <= 0) continue;
      double g[2];
      r.point(h, k, g);
      if (std::hypot(g[0], g[1]) > max_radius) continue;
      if (spectrum.radius_bins(g[0], g[1]) < spectrum.min_radius_bins()) continue;
      hs.push_back(h), ks.push_back(k), image.push_back(spectrum.spot_at(g[0], g[1]).amplitude);
    }
  if (image.empty()) return 0;
  // The image's envelope (probe, vibrations, focus) is unknown: the best of a few motif blurs.
  double best = -1e300;
  for (double blur_A : {0.3, 0.45, 0.6, 0.8}) {
    std::vector<std::complex<double>> motif(image.size());
    for (std::size_t p = 0; p < image.size(); ++p) motif[p] = motif_coefficient(cell, hs[p], ks[p], blur_A);
    best = std::max(best, explained_fraction(hs, ks, image, motif, copies));
  }
  return best;
}

}  // namespace

std::vector<MotifAssignment> rank_motif_assignments(const Spectrum& spectrum, const double shortest[3][2],
                                                    const sim::LayerCell& cell, double max_radius, int copies) {
  const double gamma = angle_between(cell.a1, cell.a2);  // the cell's angle from a1 to a2
  std::vector<MotifAssignment> out;
  for (int i = 0; i < 3; ++i) {
    double a1[2] = {shortest[i][0], shortest[i][1]};
    const double angle = std::atan2(a1[1], a1[0]);
    if (angle < -units::pi / 2 || angle >= units::pi / 2) a1[0] = -a1[0], a1[1] = -a1[1];
    for (int hand = 0; hand < 2; ++hand) {
      const double want = hand == 0 ? gamma : -gamma;
      double a2[2] = {0, 0}, miss = 1e300;
      for (int j = 0; j < 3; ++j) {
        if (j == i) continue;
        for (int sign = -1; sign <= 1; sign += 2) {
          const double v[2] = {sign * shortest[j][0], sign * shortest[j][1]};
          const double d = std::abs(angle_between(a1, v) - want);
          if (d < miss) miss = d, a2[0] = v[0], a2[1] = v[1];
        }
      }
      MotifAssignment m;
      m.a1[0] = a1[0], m.a1[1] = a1[1], m.a2[0] = a2[0], m.a2[1] = a2[1];
      m.mirrored = hand == 1;
      m.score = assignment_score(spectrum, m.a1, m.a2, cell, max_radius, copies);
      out.push_back(m);
    }
  }
  std::sort(out.begin(), out.end(), [](const MotifAssignment& a, const MotifAssignment& b) { return a.score > b.score; });
  return out;
}

}  // namespace tmdflow::analysis::lattice
