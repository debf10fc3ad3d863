#include "tmdflow/analysis/atoms/lattice_graph.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <deque>
#include <string>
#include <unordered_map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::analysis::atoms {
namespace {

using units::pi;

/// Points in square cells of a given side: the candidates of a disc query.
class Grid {
 public:
  Grid(const std::vector<double>& x, const std::vector<double>& y, double cell) : x_(x), y_(y), cell_(cell) {
    for (std::size_t i = 0; i < x.size(); ++i) cells_[key(cx(x[i]), cy(y[i]))].push_back(std::int64_t(i));
  }
  template <class F>
  void within(double px, double py, double r, F&& f) const {
    const std::int64_t x0 = cx(px - r), x1 = cx(px + r), y0 = cy(py - r), y1 = cy(py + r);
    for (std::int64_t gx = x0; gx <= x1; ++gx)
      for (std::int64_t gy = y0; gy <= y1; ++gy) {
        const auto it = cells_.find(key(gx, gy));
        if (it == cells_.end()) continue;
        for (const std::int64_t j : it->second) {
          const double dx = x_[std::size_t(j)] - px, dy = y_[std::size_t(j)] - py;
          if (dx * dx + dy * dy <= r * r) f(j, std::sqrt(dx * dx + dy * dy));
        }
      }
  }

 private:
  std::int64_t cx(double v) const { return std::int64_t(std::floor(v / cell_)); }
  std::int64_t cy(double v) const { return std::int64_t(std::floor(v / cell_)); }
  static std::int64_t key(std::int64_t a, std::int64_t b) { return a * 1000003 + b; }
  const std::vector<double>& x_;
  const std::vector<double>& y_;
  double cell_;
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> cells_;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

void validate(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& intensity,
              const LatticeGraphSpec& s) {
  const std::string who = "lattice graph: ";
  if (y.size() != x.size() || intensity.size() != x.size())
    throw ConfigError(who + "expected as many y and intensity values as x (" + std::to_string(x.size()) + "), found " +
                      std::to_string(y.size()) + " and " + std::to_string(intensity.size()));
  if (x.size() < 3) throw ConfigError(who + "expected at least 3 atom columns, found " + std::to_string(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]) || !std::isfinite(intensity[i]))
      throw ConfigError(who + "column " + std::to_string(i) + " has a non-finite position or intensity");
  if (!(s.bond_px >= 0) || !std::isfinite(s.bond_px)) throw ConfigError(who + "bond_px: expected >= 0 (0: estimated)");
  if (!(s.bond_tolerance > 0 && s.bond_tolerance < 0.5)) throw ConfigError(who + "bond_tolerance: expected in (0, 0.5)");
  if (!(s.empty_tolerance > 0 && s.empty_tolerance < 0.8)) throw ConfigError(who + "empty_tolerance: expected in (0, 0.8)");
  if (s.min_support < 1) throw ConfigError(who + "min_support: expected >= 1");
  if (!(s.edge_px >= 0) || !std::isfinite(s.edge_px)) throw ConfigError(who + "edge_px: expected >= 0");
}

}  // namespace

LatticeGraph build_lattice_graph(const std::vector<double>& x, const std::vector<double>& y,
                                 const std::vector<double>& intensity, const LatticeGraphSpec& spec) {
  validate(x, y, intensity, spec);
  const auto n = std::int64_t(x.size());
  LatticeGraph g;
  g.columns = n;

  // 1. The bond length: the median nearest-neighbour distance (in a honeycomb every column's
  // nearest neighbours are its bonded ones).
  double b = spec.bond_px;
  if (b <= 0) {
    double xmin = x[0], xmax = x[0], ymin = y[0], ymax = y[0];
    for (std::int64_t i = 0; i < n; ++i)
      xmin = std::min(xmin, x[std::size_t(i)]), xmax = std::max(xmax, x[std::size_t(i)]),
      ymin = std::min(ymin, y[std::size_t(i)]), ymax = std::max(ymax, y[std::size_t(i)]);
    // A cell of about four columns' share of the area keeps the search short.
    const double cell = std::max(1e-9, 2 * std::sqrt(std::max(1e-9, (xmax - xmin) * (ymax - ymin)) / double(n)));
    const Grid coarse(x, y, cell);
    std::vector<double> nearest;
    nearest.reserve(std::size_t(n));
    for (std::int64_t i = 0; i < n; ++i) {
      double best = 1e300;
      for (double r = cell; best > 1e299 && r < 64 * cell; r *= 2)
        coarse.within(x[std::size_t(i)], y[std::size_t(i)], r, [&](std::int64_t j, double d) {
          if (j != i && d > 0) best = std::min(best, d);
        });
      if (best < 1e299) nearest.push_back(best);
    }
    b = median(nearest);
    if (!(b > 0)) throw ConfigError("lattice graph: the columns have no distinct neighbours (all at one point?)");
  }
  g.bond_px = b;
  const double lo = (1 - spec.bond_tolerance) * b, hi = (1 + spec.bond_tolerance) * b;
  const Grid grid(x, y, hi);

  // Bonds (the three nearest within the shell) and each column's three-fold phase.
  std::vector<std::vector<std::int64_t>> bonds(static_cast<std::size_t>(n));
  std::vector<std::complex<double>> phase(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, std::int64_t>> near;
    grid.within(x[std::size_t(i)], y[std::size_t(i)], hi, [&](std::int64_t j, double d) {
      if (j != i && d >= lo) near.push_back({d, j});
    });
    std::sort(near.begin(), near.end());
    if (near.size() > 3) near.resize(3);
    for (const auto& [d, j] : near) {
      bonds[std::size_t(i)].push_back(j);
      const double phi = std::atan2(y[std::size_t(j)] - y[std::size_t(i)], x[std::size_t(j)] - x[std::size_t(i)]);
      phase[std::size_t(i)] += std::polar(1.0, 3 * phi);
    }
  }
  // Bonds are mutual: keep j in i's list only when i is in j's (a column beside a gap may reach a
  // second neighbour of the other's).
  for (std::int64_t i = 0; i < n; ++i) {
    auto& bi = bonds[std::size_t(i)];
    bi.erase(std::remove_if(bi.begin(), bi.end(),
                            [&](std::int64_t j) {
                              const auto& bj = bonds[std::size_t(j)];
                              return std::find(bj.begin(), bj.end(), i) == bj.end();
                            }),
             bi.end());
  }

  // Connected components of the bond graph (reported).
  std::vector<int> component(static_cast<std::size_t>(n), -1);
  int components = 0;
  for (std::int64_t s0 = 0; s0 < n; ++s0) {
    if (component[std::size_t(s0)] >= 0 || bonds[std::size_t(s0)].empty()) continue;
    std::deque<std::int64_t> queue{s0};
    component[std::size_t(s0)] = components;
    while (!queue.empty()) {
      const std::int64_t i = queue.front();
      queue.pop_front();
      for (const std::int64_t j : bonds[std::size_t(i)])
        if (component[std::size_t(j)] < 0) component[std::size_t(j)] = components, queue.push_back(j);
    }
    ++components;
  }
  g.components = components;

  // 2.-3. Sublattices, locally: columns of one sublattice share the sign of the three-fold phase
  // (within a grain, and between grains turned by less than 30 degrees), so around each column
  // (within 3 b, about 25 columns) the columns split into its own sublattice and the other, and
  // the brighter (or dimmer) of the two mean intensities names the metal. Nothing propagates
  // along bonds, so a wrong bond across a grain boundary changes nothing beyond its two columns.
  g.sites.resize(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i) {
    LatticeSite& s = g.sites[std::size_t(i)];
    s.x = x[std::size_t(i)], s.y = y[std::size_t(i)], s.column = i;
    for (std::size_t k = 0; k < bonds[std::size_t(i)].size(); ++k) s.bonds[k] = bonds[std::size_t(i)][k];
    if (bonds[std::size_t(i)].empty() || std::abs(phase[std::size_t(i)]) < 0.5) {
      ++g.unbonded;
      continue;
    }
    double same = 0, other = 0;
    std::int64_t n_same = 0, n_other = 0;
    grid.within(s.x, s.y, 3 * b, [&](std::int64_t j, double) {
      if (bonds[std::size_t(j)].empty() || std::abs(phase[std::size_t(j)]) < 0.5) return;
      if (std::real(phase[std::size_t(i)] * std::conj(phase[std::size_t(j)])) >= 0)
        same += intensity[std::size_t(j)], ++n_same;
      else
        other += intensity[std::size_t(j)], ++n_other;
    });
    if (n_other == 0) {
      ++g.unbonded;
      continue;
    }
    const bool brighter = same / double(n_same) >= other / double(n_other);
    s.sublattice = brighter == spec.metal_brighter ? Sublattice::metal : Sublattice::chalcogen;
  }

  // 4. Empty sites. A column's bond directions: the three-fold phase of its bonds gives theta
  // (mod 120) of the metal-to-chalcogen bonds when it is a metal column, theta + 60 when it is a
  // chalcogen column; its bonds' mean length (or b) the distance.
  double xmin = 0, ymin = 0, xmax = spec.width_px, ymax = spec.height_px;
  if (spec.width_px <= 0 || spec.height_px <= 0) {
    xmin = xmax = x[0], ymin = ymax = y[0];
    for (std::int64_t i = 0; i < n; ++i)
      xmin = std::min(xmin, x[std::size_t(i)]), xmax = std::max(xmax, x[std::size_t(i)]),
      ymin = std::min(ymin, y[std::size_t(i)]), ymax = std::max(ymax, y[std::size_t(i)]);
  }
  const double tol = spec.empty_tolerance * b;
  std::vector<double> px, py;
  std::vector<int> psub;
  for (std::int64_t i = 0; i < n; ++i) {
    const LatticeSite& s = g.sites[std::size_t(i)];
    if (s.sublattice == Sublattice::unknown || std::abs(phase[std::size_t(i)]) < 0.5) continue;
    double length = 0;
    for (const std::int64_t j : bonds[std::size_t(i)]) length += std::hypot(x[std::size_t(j)] - s.x, y[std::size_t(j)] - s.y);
    length = bonds[std::size_t(i)].empty() ? b : length / double(bonds[std::size_t(i)].size());
    const double theta = std::arg(phase[std::size_t(i)]) / 3;  // one of the three bond directions
    for (int k = 0; k < 3; ++k) {
      const double a = theta + 2 * pi * k / 3;
      const double qx = s.x + length * std::cos(a), qy = s.y + length * std::sin(a);
      if (qx < xmin + spec.edge_px || qx > xmax - spec.edge_px || qy < ymin + spec.edge_px || qy > ymax - spec.edge_px) continue;
      bool taken = false;
      grid.within(qx, qy, tol, [&](std::int64_t, double) { taken = true; });
      if (taken) continue;
      px.push_back(qx), py.push_back(qy);
      psub.push_back(s.sublattice == Sublattice::metal ? int(Sublattice::chalcogen) : int(Sublattice::metal));
    }
  }
  // Merge the predictions of one empty site (they lie within tol of each other): greedy clusters.
  const auto m = std::int64_t(px.size());
  std::vector<char> used(static_cast<std::size_t>(m), 0);
  const Grid predictions(px, py, std::max(tol, 1e-9));
  for (std::int64_t p = 0; p < m; ++p) {
    if (used[std::size_t(p)]) continue;
    double sx = 0, sy = 0;
    int support = 0, votes = 0;
    predictions.within(px[std::size_t(p)], py[std::size_t(p)], tol, [&](std::int64_t q, double) {
      if (used[std::size_t(q)]) return;
      used[std::size_t(q)] = 1;
      sx += px[std::size_t(q)], sy += py[std::size_t(q)], ++support;
      votes += psub[std::size_t(q)] == int(Sublattice::metal) ? 1 : -1;
    });
    if (support < spec.min_support) continue;
    LatticeSite e;
    e.x = sx / support, e.y = sy / support;
    e.support = support;
    e.sublattice = votes >= 0 ? Sublattice::metal : Sublattice::chalcogen;
    g.sites.push_back(e);
  }
  return g;
}

}  // namespace tmdflow::analysis::atoms
