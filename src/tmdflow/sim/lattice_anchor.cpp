#include "tmdflow/sim/lattice_anchor.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <vector>

namespace tmdflow::sim {
namespace {

constexpr double kTwoPi = 6.28318530717958647692;
constexpr int kOrder = 2;  // harmonics |h|, |k| <= 2
constexpr int kGrid = 24;  // search grid over the cell, per axis

struct Harmonic {
  int h, k;                   // g = h b1 + k b2, so g . (u a1 + v a2) = h u + k v
  double gx, gy;              // cycles per Angstrom
  std::complex<double> coefficient;
};

}  // namespace

std::array<double, 2> lattice_anchor(const float* window, int n, double pixel_A, const std::array<double, 2>& a1,
                                     const std::array<double, 2>& a2) {
  const double det = a1[0] * a2[1] - a1[1] * a2[0];
  if (n < 4 || !(pixel_A > 0) || !(std::abs(det) > 0)) throw std::invalid_argument("lattice_anchor: empty window or degenerate lattice");
  // Reciprocal vectors: a_i . b_j = delta_ij.
  const double b1x = a2[1] / det, b1y = -a2[0] / det, b2x = -a1[1] / det, b2y = a1[0] / det;

  // Hann taper and mean: the window's edges would otherwise leak into every harmonic. The tapered,
  // mean-free window is kept in float: each harmonic is then two float dot products per row.
  std::vector<double> taper(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) taper[std::size_t(i)] = 0.5 - 0.5 * std::cos(kTwoPi * (i + 0.5) / n);
  double sum = 0, weight = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double w = taper[std::size_t(i)] * taper[std::size_t(j)];
      sum += w * window[std::size_t(i) * n + j], weight += w;
    }
  const double mean = sum / weight;
  std::vector<float> tapered(static_cast<std::size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      tapered[std::size_t(i) * n + j] = float((window[std::size_t(i) * n + j] - mean) * taper[std::size_t(i)] * taper[std::size_t(j)]);

  // One harmonic of each +-g pair (the image is real): the upper half-plane of (h, k).
  std::vector<Harmonic> harmonics;
  std::vector<float> col_re(static_cast<std::size_t>(n)), col_im(static_cast<std::size_t>(n));
  const double centre = 0.5 * (n - 1);
  constexpr int kLanes = 8;  // independent partial sums: the dot products vectorise
  for (int h = 0; h <= kOrder; ++h)
    for (int k = -kOrder; k <= kOrder; ++k) {
      if (h == 0 && k <= 0) continue;
      Harmonic g{h, k, h * b1x + k * b2x, h * b1y + k * b2y, 0.0};
      // F_g = sum w (I - mean) exp(-2 pi i g.r), separable in x (columns) and y (rows).
      for (int j = 0; j < n; ++j) {
        const double phase = -kTwoPi * g.gx * (j - centre) * pixel_A;
        col_re[std::size_t(j)] = float(std::cos(phase)), col_im[std::size_t(j)] = float(std::sin(phase));
      }
      std::complex<double> f = 0;
      for (int i = 0; i < n; ++i) {
        const float* r = tapered.data() + std::size_t(i) * n;
        float re[kLanes] = {}, im[kLanes] = {};
        int j = 0;
        for (; j + kLanes <= n; j += kLanes)
          for (int l = 0; l < kLanes; ++l) re[l] += r[j + l] * col_re[std::size_t(j + l)], im[l] += r[j + l] * col_im[std::size_t(j + l)];
        double sr = 0, si = 0;
        for (int l = 0; l < kLanes; ++l) sr += re[l], si += im[l];
        for (; j < n; ++j) sr += double(r[j]) * col_re[std::size_t(j)], si += double(r[j]) * col_im[std::size_t(j)];
        f += std::complex<double>(sr, si) * std::polar(1.0, -kTwoPi * g.gy * (i - centre) * pixel_A);
      }
      g.coefficient = f;
      harmonics.push_back(g);
    }

  // The periodic image P(r) = sum Re(F_g exp(2 pi i g.r)) at r = u a1 + v a2: the grid's best point,
  // then parabolas per axis through its neighbours at shrinking steps.
  auto periodic = [&](double u, double v) {
    double p = 0;
    for (const Harmonic& g : harmonics) {
      const double phase = kTwoPi * (g.h * u + g.k * v);
      p += g.coefficient.real() * std::cos(phase) - g.coefficient.imag() * std::sin(phase);
    }
    return p;
  };
  // The grid from phasor tables: exp(2 pi i h u) and exp(2 pi i k v) at the grid's u, v.
  std::vector<std::complex<double>> eu(static_cast<std::size_t>(kGrid * (kOrder + 1))), ev(static_cast<std::size_t>(kGrid * (2 * kOrder + 1)));
  for (int i = 0; i < kGrid; ++i) {
    const double t = -0.5 + double(i) / kGrid;
    for (int h = 0; h <= kOrder; ++h) eu[std::size_t(i * (kOrder + 1) + h)] = std::polar(1.0, kTwoPi * h * t);
    for (int k = -kOrder; k <= kOrder; ++k) ev[std::size_t(i * (2 * kOrder + 1) + k + kOrder)] = std::polar(1.0, kTwoPi * k * t);
  }
  double best_u = 0, best_v = 0, best = -1e300;
  for (int iu = 0; iu < kGrid; ++iu)
    for (int iv = 0; iv < kGrid; ++iv) {
      double p = 0;
      for (const Harmonic& g : harmonics)
        p += (g.coefficient * eu[std::size_t(iu * (kOrder + 1) + g.h)] * ev[std::size_t(iv * (2 * kOrder + 1) + g.k + kOrder)]).real();
      if (p > best) best = p, best_u = -0.5 + double(iu) / kGrid, best_v = -0.5 + double(iv) / kGrid;
    }
  double step = 1.0 / kGrid;
  for (int round = 0; round < 4; ++round, step *= 0.35) {
    for (int axis = 0; axis < 2; ++axis) {
      const double du = axis == 0 ? step : 0, dv = axis == 1 ? step : 0;
      const double m = periodic(best_u - du, best_v - dv), c = periodic(best_u, best_v), p = periodic(best_u + du, best_v + dv);
      const double curvature = m - 2 * c + p;
      if (curvature < 0) {
        const double t = std::max(-1.0, std::min(1.0, 0.5 * (m - p) / curvature));
        best_u += t * du, best_v += t * dv;
      }
    }
  }
  best_u -= std::floor(best_u + 0.5), best_v -= std::floor(best_v + 0.5);  // into [-1/2, 1/2)
  return {best_u * a1[0] + best_v * a2[0], best_u * a1[1] + best_v * a2[1]};
}

}  // namespace tmdflow::sim
