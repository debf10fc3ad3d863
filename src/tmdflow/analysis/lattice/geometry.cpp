#include "tmdflow/analysis/lattice/geometry.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/units.hpp"

namespace tmdflow::analysis::lattice {
namespace {

double angle_deg(const double v[2]) { return units::rad_to_deg(std::atan2(v[1], v[0])); }

}  // namespace

double singular_value_ratio(const double m[2][2]) {
  const double sum = m[0][0] * m[0][0] + m[0][1] * m[0][1] + m[1][0] * m[1][0] + m[1][1] * m[1][1];
  const double det = std::abs(m[0][0] * m[1][1] - m[0][1] * m[1][0]);
  const double root = std::sqrt(std::max(0.0, sum * sum - 4 * det * det));
  return std::sqrt((sum + root) / std::max(1e-300, sum - root));
}

Reciprocal sixty_form(const Reciprocal& r) {
  double u[2] = {r.b1[0], r.b1[1]}, v[2] = {r.b2[0], r.b2[1]};
  reduce_basis(u, v);
  if (u[0] * v[0] + u[1] * v[1] < 0) v[0] += u[0], v[1] += u[1];
  const bool swap = u[0] * v[1] - u[1] * v[0] < 0;
  Reciprocal out;
  std::copy(swap ? v : u, (swap ? v : u) + 2, out.b1);
  std::copy(swap ? u : v, (swap ? u : v) + 2, out.b2);
  return out;
}

double anisotropy(const Reciprocal& r) {
  // The map M with M [h1 h2] = [b1 b2], h the hexagon on b1: M = B H^-1.
  const Reciprocal h = hexagon(std::hypot(r.b1[0], r.b1[1]), std::atan2(r.b1[1], r.b1[0]));
  const double det = h.b1[0] * h.b2[1] - h.b2[0] * h.b1[1];
  const double inv[2][2] = {{h.b2[1] / det, -h.b2[0] / det}, {-h.b1[1] / det, h.b1[0] / det}};
  double m[2][2];
  for (int row = 0; row < 2; ++row)
    for (int c = 0; c < 2; ++c) m[row][c] = r.b1[row] * inv[0][c] + r.b2[row] * inv[1][c];
  return singular_value_ratio(m);
}

void canonical_hexagon(const double shortest[3][2], double a1[2], double a2[2]) {
  double candidates[6][2];
  for (int i = 0; i < 3; ++i)
    for (int s = 0; s < 2; ++s)
      candidates[2 * i + s][0] = (s ? -1 : 1) * shortest[i][0], candidates[2 * i + s][1] = (s ? -1 : 1) * shortest[i][1];
  int best = 0;
  double best_key = 1e300;
  for (int c = 0; c < 6; ++c) {
    const double a = angle_deg(candidates[c]);
    // In [-30, 30) first; among those (or, for a strongly sheared lattice, among all) the nearest to 0.
    const double key = (a >= -30 && a < 30 ? 0 : 1000) + std::abs(a);
    if (key < best_key) best_key = key, best = c;
  }
  a1[0] = candidates[best][0], a1[1] = candidates[best][1];
  double miss = 1e300;
  for (int c = 0; c < 6; ++c) {
    const double rel = units::rad_to_deg(std::atan2(a1[0] * candidates[c][1] - a1[1] * candidates[c][0],
                                                    a1[0] * candidates[c][0] + a1[1] * candidates[c][1]));
    if (std::abs(rel - 60) < miss) miss = std::abs(rel - 60), a2[0] = candidates[c][0], a2[1] = candidates[c][1];
  }
}

void canonical_hexagon(const Reciprocal& r, double a1[2], double a2[2]) {
  double b1[2], b2[2], shortest[3][2];
  r.real_basis(b1, b2);
  short_vectors(b1, b2, shortest);
  canonical_hexagon(shortest, a1, a2);
}

}  // namespace tmdflow::analysis::lattice
