#include "tmdflow/sim/canonical_frame.hpp"

#include <cmath>

namespace tmdflow::sim {
namespace {
constexpr double kDegree = 3.14159265358979323846 / 180;
double cross(const std::array<double, 2>& a, const std::array<double, 2>& b) { return a[0] * b[1] - a[1] * b[0]; }
}  // namespace

CanonicalBasis canonical_basis(const LayerCell& cell, const std::array<double, 2>& a1, const std::array<double, 2>& a2, double phi_deg) {
  // (a1c a2c) = (a1 a2) N with N = inverse(a1 a2) (a1c a2c); near the canonical frame N is close to
  // an integer matrix, and (a1 a2) round(N) is the patch's own basis that plays a1c, a2c.
  const double det = cross(a1, a2);
  auto coefficients = [&](double x, double y) { return std::array<double, 2>{(x * a2[1] - y * a2[0]) / det, (a1[0] * y - a1[1] * x) / det}; };
  const auto n1 = coefficients(cell.a1[0], cell.a1[1]), n2 = coefficients(cell.a2[0], cell.a2[1]);
  auto combine = [&](const std::array<double, 2>& n) {
    const double i = std::round(n[0]), j = std::round(n[1]);
    return std::array<double, 2>{i * a1[0] + j * a2[0], i * a1[1] + j * a2[1]};
  };
  CanonicalBasis b;
  b.s1 = combine(n1);
  b.s2 = combine(n2);
  b.rotation_deg = std::atan2(b.s1[1], b.s1[0]) / kDegree;
  const double ideal = std::abs(cell.a1[0] * cell.a2[1] - cell.a1[1] * cell.a2[0]);
  b.scale = std::sqrt(std::abs(cross(b.s1, b.s2)) / ideal);
  if (!cell.triclinic) {
    // phi as the canonical frame sees it: 30 or 90 (plus what the rounding left), modulo 120.
    const double seen = std::fmod(std::fmod(phi_deg - b.rotation_deg, 120.0) + 120.0, 120.0);
    b.bottom = seen >= 60 ? 1 : 0;
  }
  return b;
}

std::array<double, 2> lattice_fractions(const CanonicalBasis& b, double x, double y) {
  const double det = cross(b.s1, b.s2);
  return {(x * b.s2[1] - y * b.s2[0]) / det, (b.s1[0] * y - b.s1[1] * x) / det};
}

}  // namespace tmdflow::sim
