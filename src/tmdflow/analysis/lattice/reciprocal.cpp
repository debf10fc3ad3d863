#include "tmdflow/analysis/lattice/reciprocal.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "tmdflow/core/units.hpp"

namespace tmdflow::analysis::lattice {
namespace {

struct Index {
  int h, k;
  double norm;  // |h e1 + k e2| for unit vectors 60 deg apart
};

/// Half-plane indices (h > 0, or h = 0 and k > 0) of a hexagonal lattice with |g| <= max_norm, by |g|.
std::vector<Index> hexagon_indices(double max_norm) {
  std::vector<Index> out;
  const int n = int(std::ceil(2 * max_norm)) + 1;
  for (int h = 0; h <= n; ++h)
    for (int k = -n; k <= n; ++k) {
      if (h == 0 && k <= 0) continue;
      const double norm = std::sqrt(double(h * h + k * k + h * k));
      if (norm <= max_norm) out.push_back({h, k, norm});
    }
  std::sort(out.begin(), out.end(), [](const Index& a, const Index& b) { return a.norm < b.norm; });
  return out;
}

/// Whether a frequency lies within `bins` bins of a point (other than the origin) of one of the lattices.
struct LatticeProximity {
  std::vector<Reciprocal> lattices;
  std::vector<std::array<double, 4>> inverse;
  int height, width;
  LatticeProximity(const std::vector<Reciprocal>& ls, int h, int w) : lattices(ls), height(h), width(w) {
    for (const auto& l : ls) {
      const double det = l.b1[0] * l.b2[1] - l.b2[0] * l.b1[1];
      inverse.push_back({l.b2[1] / det, -l.b2[0] / det, -l.b1[1] / det, l.b1[0] / det});
    }
  }
  bool near(double fx, double fy, double bins) const {
    for (std::size_t i = 0; i < lattices.size(); ++i) {
      const auto& m = inverse[i];
      const double h = std::round(m[0] * fx + m[1] * fy), k = std::round(m[2] * fx + m[3] * fy);
      if (h == 0 && k == 0) continue;
      const double px = h * lattices[i].b1[0] + k * lattices[i].b2[0], py = h * lattices[i].b1[1] + k * lattices[i].b2[1];
      if (std::hypot((fx - px) * width, (fy - py) * height) <= bins) return true;
    }
    return false;
  }
};

}  // namespace

void Reciprocal::real_basis(double a1[2], double a2[2]) const {
  // Rows of the inverse of [b1 b2] (columns).
  const double det = b1[0] * b2[1] - b2[0] * b1[1];
  a1[0] = b2[1] / det, a1[1] = -b2[0] / det;
  a2[0] = -b1[1] / det, a2[1] = b1[0] / det;
}

Reciprocal Reciprocal::dual_of(const double a1[2], const double a2[2]) {
  Reciprocal r;
  const double det = a1[0] * a2[1] - a2[0] * a1[1];
  r.b1[0] = a2[1] / det, r.b1[1] = -a2[0] / det;
  r.b2[0] = -a1[1] / det, r.b2[1] = a1[0] / det;
  return r;
}

double Reciprocal::cell_area_px() const { return 1.0 / std::abs(b1[0] * b2[1] - b2[0] * b1[1]); }

Reciprocal hexagon(double g, double theta) {
  Reciprocal r;
  const double t2 = theta + units::pi / 3;
  r.b1[0] = g * std::cos(theta), r.b1[1] = g * std::sin(theta);
  r.b2[0] = g * std::cos(t2), r.b2[1] = g * std::sin(t2);
  return r;
}

double lattice_evidence(const Spectrum& spectrum, const Reciprocal& lattice, double max_radius, Score score,
                        const std::vector<Reciprocal>& exclude, const std::function<bool(int, int)>& keep) {
  const LatticeProximity ex(exclude, spectrum.height(), spectrum.width());
  // Enough indices for any basis whose shortest vectors are within a factor 4 of each other.
  const double shortest = std::min(std::hypot(lattice.b1[0], lattice.b1[1]), std::hypot(lattice.b2[0], lattice.b2[1]));
  const int n = int(std::ceil(4 * max_radius / shortest)) + 1;
  double total = 0;
  for (int h = 0; h <= n; ++h)
    for (int k = -n; k <= n; ++k) {
      if (h == 0 && k <= 0) continue;
      double g[2];
      lattice.point(h, k, g);
      if (std::hypot(g[0], g[1]) > max_radius) continue;
      if (keep && !keep(h, k)) continue;
      if (!exclude.empty() && ex.near(g[0], g[1], 1.5)) continue;
      if (score == Score::spots) {
        double spot[2];
        const double e = spectrum.spot_evidence_at(g[0], g[1], spot);
        if (e > 0 && (exclude.empty() || !ex.near(spot[0], spot[1], 1.5))) total += e;
        continue;
      }
      total += score == Score::above_chance ? spectrum.evidence_above_chance(g[0], g[1]) : spectrum.evidence_at(g[0], g[1]);
    }
  return total;
}

double explained_power(const Spectrum& spectrum, const std::vector<Reciprocal>& lattices, double max_radius, double near_bins) {
  const int height = spectrum.height(), width = spectrum.width();
  const LatticeProximity near(lattices, height, width);
  const int ry = int(std::ceil(max_radius * height)), rx = int(std::ceil(max_radius * width));
  double total = 0, explained = 0;
  for (int ky = -std::min(ry, height / 2); ky <= std::min(ry, (height - 1) / 2); ++ky)
    for (int kx = 0; kx <= std::min(rx, width / 2); ++kx) {
      if (kx == 0 && ky <= 0) continue;  // the half plane
      const double fx = double(kx) / width, fy = double(ky) / height;
      if (std::hypot(fx, fy) > max_radius || spectrum.radius_bins(fx, fy) < spectrum.min_radius_bins()) continue;
      const double p = spectrum.power(ky, kx), b = spectrum.background(ky, kx);
      if (p < 10 * b) continue;
      total += p - b;
      if (near.near(fx, fy, near_bins)) explained += p - b;
    }
  return total > 0 ? explained / total : 0;
}

HexagonCandidate search_hexagon(const Spectrum& spectrum, const HexagonSearch& search, const std::vector<Reciprocal>& exclude) {
  const double outer_bins = search.max_radius * std::max(spectrum.height(), spectrum.width());
  // A step that moves the outermost scored spot by ~0.7 bin: the 3x3 evidence maximum still sees it.
  const double dtheta = std::clamp(0.7 / outer_bins, units::deg_to_rad(0.1), units::deg_to_rad(1.0));
  const double dlog = std::clamp(0.7 / outer_bins, 0.002, 0.01);
  const int n_theta = int(std::ceil(units::pi / 3 / dtheta));
  const int n_scale = std::max(1, int(std::ceil(std::log(search.scale_hi / search.scale_lo) / dlog)) + 1);
  const auto indices = hexagon_indices(search.max_radius * search.scale_hi / search.g);
  const LatticeProximity ex(exclude, spectrum.height(), spectrum.width());
  HexagonCandidate best;
  best.evidence = -1;
  std::vector<double> ux(indices.size()), uy(indices.size());
  for (int t = 0; t < n_theta; ++t) {
    const double theta = t * (units::pi / 3) / n_theta;
    const double c1 = std::cos(theta), s1 = std::sin(theta), c2 = std::cos(theta + units::pi / 3), s2 = std::sin(theta + units::pi / 3);
    for (std::size_t p = 0; p < indices.size(); ++p) {
      ux[p] = indices[p].h * c1 + indices[p].k * c2;
      uy[p] = indices[p].h * s1 + indices[p].k * s2;
    }
    for (int s = 0; s < n_scale; ++s) {
      const double scale = search.scale_lo * std::exp(s * std::log(search.scale_hi / search.scale_lo) / std::max(1, n_scale - 1));
      const double g = search.g / scale;
      const double max_norm = search.max_radius / g;
      double e = 0;
      for (std::size_t p = 0; p < indices.size() && indices[p].norm <= max_norm; ++p) {
        const double fx = ux[p] * g, fy = uy[p] * g;
        if (!exclude.empty() && ex.near(fx, fy, 1.5)) continue;
        e += spectrum.evidence_above_chance(fx, fy);
      }
      if (e > best.evidence) best = {hexagon(g, theta), theta, scale, e};
    }
  }
  return best;
}

namespace {

/// Weighted least squares of g = h b1 + k b2 per component; false when the indices span one direction.
bool fit_basis(const std::vector<Spot>& spots, const std::vector<int>& h, const std::vector<int>& k,
               const std::vector<double>& w, Reciprocal& out) {
  double shh = 0, shk = 0, skk = 0, shx = 0, skx = 0, shy = 0, sky = 0;
  for (std::size_t i = 0; i < spots.size(); ++i) {
    shh += w[i] * h[i] * h[i], shk += w[i] * h[i] * k[i], skk += w[i] * k[i] * k[i];
    shx += w[i] * h[i] * spots[i].fx, skx += w[i] * k[i] * spots[i].fx;
    shy += w[i] * h[i] * spots[i].fy, sky += w[i] * k[i] * spots[i].fy;
  }
  const double det = shh * skk - shk * shk;
  if (!(det > 1e-9 * (shh * skk + 1e-300))) return false;
  out.b1[0] = (skk * shx - shk * skx) / det, out.b2[0] = (shh * skx - shk * shx) / det;
  out.b1[1] = (skk * shy - shk * sky) / det, out.b2[1] = (shh * sky - shk * shy) / det;
  return true;
}

}  // namespace

bool refine_lattice(const Spectrum& spectrum, const Reciprocal& start, double max_radius, double first_search_fraction,
                    RefinedLattice& out, const std::vector<Reciprocal>& exclude) {
  Reciprocal current = start;
  const int height = spectrum.height(), width = spectrum.width();
  const LatticeProximity blended(exclude, height, width);
  const double shortest = std::min(std::hypot(start.b1[0], start.b1[1]), std::hypot(start.b2[0], start.b2[1]));
  const double first_radius = std::min(max_radius, 3.2 * shortest);
  for (int pass = 0; pass < 4; ++pass) {
    const double radius = pass == 0 ? first_radius : max_radius;
    const int n = int(std::ceil(4 * radius / shortest)) + 1;
    std::vector<Spot> spots;
    std::vector<int> hs, ks;
    std::vector<double> weights;
    for (int h = 0; h <= n; ++h)
      for (int k = -n; k <= n; ++k) {
        if (h == 0 && k <= 0) continue;
        double g[2];
        current.point(h, k, g);
        const double r = std::hypot(g[0], g[1]);
        if (r > radius) continue;
        if (!exclude.empty() && blended.near(g[0], g[1], 2.0)) continue;
        const double r_bins = r * std::max(height, width);
        const double search = pass == 0 ? std::max(1.5, first_search_fraction * r_bins) : 1.5;
        Spot s;
        if (!spectrum.refine_spot(g[0], g[1], search, 10.0, s)) continue;
        // Later passes drop spots far from the fitted prediction (a neighbour's peak, a second lattice).
        if (pass >= 2 && std::hypot((s.fx - g[0]) * width, (s.fy - g[1]) * height) > 0.6) continue;
        spots.push_back(s), hs.push_back(h), ks.push_back(k);
        // Position error falls as 1/sqrt(snr) until leakage from other spots (~0.01 bin) dominates.
        weights.push_back(std::min(s.snr, 1000.0));
      }
    if (spots.size() < 3) return false;
    Reciprocal fitted;
    if (!fit_basis(spots, hs, ks, weights, fitted)) return false;
    current = fitted;
    out.spots = spots, out.h = hs, out.k = ks;
  }
  out.lattice = current;
  double ss = 0;
  for (std::size_t i = 0; i < out.spots.size(); ++i) {
    double g[2];
    current.point(out.h[i], out.k[i], g);
    ss += std::pow((out.spots[i].fx - g[0]) * width, 2) + std::pow((out.spots[i].fy - g[1]) * height, 2);
  }
  out.rms_bins = std::sqrt(ss / double(out.spots.size()));
  return true;
}

}  // namespace tmdflow::analysis::lattice

namespace tmdflow::analysis::lattice {

void reduce_basis(double a1[2], double a2[2]) {
  auto n2 = [](const double v[2]) { return v[0] * v[0] + v[1] * v[1]; };
  for (int it = 0; it < 64; ++it) {
    if (n2(a1) > n2(a2)) std::swap(a1[0], a2[0]), std::swap(a1[1], a2[1]);
    const double m = std::round((a1[0] * a2[0] + a1[1] * a2[1]) / n2(a1));
    if (m == 0) break;
    a2[0] -= m * a1[0], a2[1] -= m * a1[1];
  }
  if (n2(a1) > n2(a2)) std::swap(a1[0], a2[0]), std::swap(a1[1], a2[1]);
}

void short_vectors(const double a1[2], const double a2[2], double out[3][2]) {
  double u[2] = {a1[0], a1[1]}, v[2] = {a2[0], a2[1]};
  reduce_basis(u, v);
  const double d[2] = {u[0] - v[0], u[1] - v[1]}, s[2] = {u[0] + v[0], u[1] + v[1]};
  const bool diff = d[0] * d[0] + d[1] * d[1] <= s[0] * s[0] + s[1] * s[1];
  out[0][0] = u[0], out[0][1] = u[1];
  out[1][0] = v[0], out[1][1] = v[1];
  out[2][0] = diff ? d[0] : s[0], out[2][1] = diff ? d[1] : s[1];
}

bool primitive_lattice(const std::vector<Spot>& spots, int height, int width, double tolerance_bins, Reciprocal& out) {
  auto bins = [&](double fx, double fy) { return std::hypot(fx * width, fy * height); };
  // Every pair of spots spans a lattice that holds only lattice points (a sublattice of the true one
  // when both are true spots); the true lattice is the one that indexes the most spot evidence.
  // Spots that belong to no lattice (scan noise, a second grain) only lose their pairs.
  double best = 0;
  for (std::size_t i = 0; i < spots.size(); ++i)
    for (std::size_t j = i + 1; j < spots.size(); ++j) {
      double u[2] = {spots[i].fx, spots[i].fy}, v[2] = {spots[j].fx, spots[j].fy};
      const double cross = u[0] * v[1] - u[1] * v[0];
      if (std::abs(cross) < 0.2 * std::hypot(u[0], u[1]) * std::hypot(v[0], v[1])) continue;
      reduce_basis(u, v);
      if (bins(u[0], u[1]) < 2) continue;
      const double det = u[0] * v[1] - u[1] * v[0];
      double score = 0;
      for (const auto& s : spots) {
        const double h = std::round((s.fx * v[1] - s.fy * v[0]) / det), k = std::round((u[0] * s.fy - u[1] * s.fx) / det);
        if (bins(s.fx - h * u[0] - k * v[0], s.fy - h * u[1] - k * v[1]) <= tolerance_bins) score += std::log(std::max(s.snr, 10.0));
      }
      if (score > best * (1 + 1e-9)) {
        best = score;
        out.b1[0] = u[0], out.b1[1] = u[1], out.b2[0] = v[0], out.b2[1] = v[1];
      }
    }
  if (!(best > 0)) return false;
  // A pair of spots spans a sublattice when the true lattice's first orders are weak; the finer
  // lattices of index 2 and 3 that hold it are tried, and kept when they index more spot evidence
  // (a point between the winner's points that holds a genuine spot).
  auto score_of = [&](const Reciprocal& l) {
    const double det = l.b1[0] * l.b2[1] - l.b2[0] * l.b1[1];
    double score = 0;
    for (const auto& s : spots) {
      const double h = std::round((s.fx * l.b2[1] - s.fy * l.b2[0]) / det), k = std::round((l.b1[0] * s.fy - l.b1[1] * s.fx) / det);
      if (bins(s.fx - h * l.b1[0] - k * l.b2[0], s.fy - h * l.b1[1] - k * l.b2[1]) <= tolerance_bins) score += std::log(std::max(s.snr, 10.0));
    }
    return score;
  };
  for (int round = 0; round < 4; ++round) {
    const double u[2] = {out.b1[0], out.b1[1]}, v[2] = {out.b2[0], out.b2[1]};
    const double finer[5][2][2] = {{{u[0] / 2, u[1] / 2}, {v[0], v[1]}},
                                   {{u[0], u[1]}, {v[0] / 2, v[1] / 2}},
                                   {{(u[0] + v[0]) / 2, (u[1] + v[1]) / 2}, {v[0], v[1]}},
                                   {{(u[0] + v[0]) / 3, (u[1] + v[1]) / 3}, {v[0], v[1]}},
                                   {{(u[0] - v[0]) / 3, (u[1] - v[1]) / 3}, {v[0], v[1]}}};
    bool improved = false;
    for (const auto& f : finer) {
      Reciprocal l;
      l.b1[0] = f[0][0], l.b1[1] = f[0][1], l.b2[0] = f[1][0], l.b2[1] = f[1][1];
      reduce_basis(l.b1, l.b2);
      if (bins(l.b1[0], l.b1[1]) < 2) continue;
      const double score = score_of(l);
      if (score > best * 1.05) best = score, out = l, improved = true;
    }
    if (!improved) break;
  }
  return true;
}

}  // namespace tmdflow::analysis::lattice
