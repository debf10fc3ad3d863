#include "tmdflow/analysis/landscape/basins.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/numeric.hpp"

namespace tmdflow::analysis {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();


void require_bilayer_slip(const sim::LabelSymmetry& s) {
  if (s.size != 2 || s.task != "slip")
    throw ConfigError("landscape basins: expected the label symmetry of a bilayer slip (2 components), found " + s.what);
}

/// Union-find over basin ids with path halving.
struct Forest {
  std::vector<std::int32_t> parent;
  std::int32_t add() {
    parent.push_back(std::int32_t(parent.size()));
    return parent.back();
  }
  std::int32_t find(std::int32_t b) {
    while (parent[std::size_t(b)] != b) b = parent[std::size_t(b)] = parent[std::size_t(parent[std::size_t(b)])];
    return b;
  }
};

/// The grid point a fraction falls on, or -1 when it lies between grid points.
int on_grid(double f, int n) {
  const double u = f * n;
  const double r = std::round(u);
  return std::abs(u - r) < 1e-9 * std::max(1.0, std::abs(u)) ? wrap_index(int(r), n) : -1;
}

}  // namespace

EnergyGrid resample_landscape(const EnergyGrid& grid, int na, int nb) {
  if (na == grid.na && nb == grid.nb) return grid;
  EnergyGrid out = grid;
  out.na = na, out.nb = nb;
  out.energy_meV.assign(std::size_t(na) * std::size_t(nb), 0.0);
  for (int ib = 0; ib < nb; ++ib)
    for (int ia = 0; ia < na; ++ia) out.energy_meV[std::size_t(ib) * na + ia] = grid.interpolate(double(ia) / na, double(ib) / nb);
  return out;
}

std::array<double, 2> equivalent_slip(const sim::LabelSymmetry& s, std::size_t g, double slip_a, double slip_b) {
  const auto& m = s.maps[g];
  const auto& c = s.offsets[g];
  return {m[0] * slip_a + m[1] * slip_b + c[0], m[2] * slip_a + m[3] * slip_b + c[1]};
}

EnergyGrid fold_landscape(const EnergyGrid& grid, const sim::LabelSymmetry& symmetry) {
  require_bilayer_slip(symmetry);
  EnergyGrid out = grid;
  for (int ib = 0; ib < grid.nb; ++ib)
    for (int ia = 0; ia < grid.na; ++ia) {
      double e = grid.at(ia, ib);
      for (std::size_t g = 1; g < symmetry.maps.size(); ++g) {
        const auto s = equivalent_slip(symmetry, g, double(ia) / grid.na, double(ib) / grid.nb);
        const int ja = on_grid(s[0], grid.na), jb = on_grid(s[1], grid.nb);
        e = std::min(e, ja >= 0 && jb >= 0 ? grid.at(ja, jb) : grid.interpolate(s[0], s[1]));
      }
      out.energy_meV[std::size_t(ib) * grid.na + ia] = e;
    }
  return out;
}

std::int32_t Basins::at(double slip_a, double slip_b) const {
  const int ia = wrap_index(int(std::lround((slip_a - std::floor(slip_a)) * na)), na);
  const int ib = wrap_index(int(std::lround((slip_b - std::floor(slip_b)) * nb)), nb);
  return label[std::size_t(ib) * na + ia];
}

double Basins::escape_meV(std::int32_t b) const {
  double lowest = kInfinity;
  for (const Saddle& s : saddles)
    if (s.first == b || s.second == b) lowest = std::min(lowest, s.energy_meV);
  return lowest - minimum[std::size_t(b)].energy_meV;
}

namespace {

/// Renumbers basins (roots of `forest`) by their minimum (lowest first, ties by grid index) and
/// fills labels, minima and saddles.
Basins number_basins(const EnergyGrid& grid, const std::vector<std::int32_t>& raw_label, Forest& forest,
                     const std::vector<int>& lowest_point, const std::map<std::pair<std::int32_t, std::int32_t>, double>& raw_saddles,
                     const std::vector<std::int32_t>& raw_regions) {
  std::vector<std::int32_t> roots;
  for (std::int32_t b = 0; b < std::int32_t(forest.parent.size()); ++b)
    if (forest.find(b) == b) roots.push_back(b);
  auto energy = [&](std::int32_t root) { return grid.energy_meV[std::size_t(lowest_point[std::size_t(root)])]; };
  std::sort(roots.begin(), roots.end(), [&](std::int32_t x, std::int32_t y) {
    const double ex = energy(x), ey = energy(y);
    return ex != ey ? ex < ey : lowest_point[std::size_t(x)] < lowest_point[std::size_t(y)];
  });
  std::vector<std::int32_t> number(forest.parent.size(), -1);
  Basins out;
  out.na = grid.na, out.nb = grid.nb;
  for (std::size_t k = 0; k < roots.size(); ++k) {
    const std::int32_t r = roots[k];
    number[std::size_t(r)] = std::int32_t(k);
    const int p = lowest_point[std::size_t(r)];
    out.minimum.push_back({double(p % grid.na) / grid.na, double(p / grid.na) / grid.nb, energy(r)});
    out.regions.push_back(raw_regions[std::size_t(r)]);
  }
  out.label.resize(raw_label.size());
  for (std::size_t p = 0; p < raw_label.size(); ++p) out.label[p] = number[std::size_t(forest.find(raw_label[p]))];
  std::map<std::pair<std::int32_t, std::int32_t>, double> merged;
  for (const auto& [pair, e] : raw_saddles) {
    std::int32_t x = number[std::size_t(forest.find(pair.first))], y = number[std::size_t(forest.find(pair.second))];
    if (x == y) continue;
    if (x > y) std::swap(x, y);
    auto [it, fresh] = merged.emplace(std::pair{x, y}, e);
    if (!fresh) it->second = std::min(it->second, e);
  }
  for (const auto& [pair, e] : merged) out.saddles.push_back({pair.first, pair.second, e});
  return out;
}

}  // namespace

Basins watershed_basins(const EnergyGrid& grid, double min_depth_meV) {
  validate(grid, "landscape basins");
  const int n = grid.na * grid.nb;
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return grid.energy_meV[std::size_t(a)] < grid.energy_meV[std::size_t(b)]; });
  std::vector<std::int32_t> basin(static_cast<std::size_t>(n), -1);  // raw basin id of each flooded point
  Forest forest;
  std::vector<int> lowest;  // per raw basin id: its first (lowest) point
  std::map<std::pair<std::int32_t, std::int32_t>, double> saddles;
  for (int p : order) {
    const double e = grid.energy_meV[std::size_t(p)];
    const int ia = p % grid.na, ib = p / grid.na;
    int steepest = -1;
    std::vector<std::int32_t> touching;
    for (int db = -1; db <= 1; ++db)
      for (int da = -1; da <= 1; ++da) {
        if (da == 0 && db == 0) continue;
        const int q = wrap_index(ib + db, grid.nb) * grid.na + wrap_index(ia + da, grid.na);
        if (q == p || basin[std::size_t(q)] < 0) continue;
        touching.push_back(forest.find(basin[std::size_t(q)]));
        const double eq = grid.energy_meV[std::size_t(q)];
        if (steepest < 0 || eq < grid.energy_meV[std::size_t(steepest)] || (eq == grid.energy_meV[std::size_t(steepest)] && q < steepest)) steepest = q;
      }
    if (steepest < 0) {  // a new minimum
      basin[std::size_t(p)] = forest.add();
      lowest.push_back(p);
      continue;
    }
    basin[std::size_t(p)] = forest.find(basin[std::size_t(steepest)]);
    // The basins this point joins meet here, at energy e: the first meeting of two is their pass.
    for (std::int32_t t : touching) {
      std::int32_t x = forest.find(basin[std::size_t(p)]), y = forest.find(t);
      if (x == y) continue;
      const double ex = grid.energy_meV[std::size_t(lowest[std::size_t(x)])], ey = grid.energy_meV[std::size_t(lowest[std::size_t(y)])];
      const bool x_lower = ex < ey || (ex == ey && lowest[std::size_t(x)] < lowest[std::size_t(y)]);
      const std::int32_t lo = x_lower ? x : y, hi = x_lower ? y : x;
      if (e - grid.energy_meV[std::size_t(lowest[std::size_t(hi)])] < min_depth_meV) {
        forest.parent[std::size_t(hi)] = lo;  // too shallow to hold anything: part of the deeper one
        continue;
      }
      auto [it, fresh] = saddles.emplace(std::pair{std::min(x, y), std::max(x, y)}, e);
      if (!fresh) it->second = std::min(it->second, e);
    }
  }
  return number_basins(grid, basin, forest, lowest, saddles, std::vector<std::int32_t>(forest.parent.size(), 1));
}

Basins merge_equivalent_basins(const Basins& basins, const sim::LabelSymmetry& symmetry) {
  require_bilayer_slip(symmetry);
  const std::int32_t count = std::int32_t(basins.count());
  Forest forest;
  for (std::int32_t b = 0; b < count; ++b) forest.add();
  for (std::int32_t b = 0; b < count; ++b)
    for (std::size_t g = 1; g < symmetry.maps.size(); ++g) {
      const auto& m = basins.minimum[std::size_t(b)];
      const auto s = equivalent_slip(symmetry, g, m.slip_a, m.slip_b);
      const std::int32_t x = forest.find(b), y = forest.find(basins.at(s[0], s[1]));
      if (x != y) forest.parent[std::size_t(std::max(x, y))] = std::min(x, y);  // the lower basin stays the root
    }
  // Rebuild in grid terms: each class's lowest point is its root basin's minimum (basins are
  // numbered lowest first, so the root, the smallest number, is the lowest member).
  EnergyGrid energies;
  energies.na = basins.na, energies.nb = basins.nb;
  energies.energy_meV.assign(std::size_t(basins.na) * basins.nb, kInfinity);
  std::vector<int> lowest(static_cast<std::size_t>(count));
  std::vector<std::int32_t> regions(static_cast<std::size_t>(count), 0);
  for (std::int32_t b = 0; b < count; ++b) {
    const auto& m = basins.minimum[std::size_t(b)];
    const int p = wrap_index(int(std::lround(m.slip_b * basins.nb)), basins.nb) * basins.na + wrap_index(int(std::lround(m.slip_a * basins.na)), basins.na);
    lowest[std::size_t(b)] = p;
    energies.energy_meV[std::size_t(p)] = m.energy_meV;
    ++regions[std::size_t(forest.find(b))];
  }
  std::map<std::pair<std::int32_t, std::int32_t>, double> saddles;
  for (const auto& s : basins.saddles) saddles[{s.first, s.second}] = s.energy_meV;
  return number_basins(energies, basins.label, forest, lowest, saddles, regions);
}

}  // namespace tmdflow::analysis
