#include "tmdflow/sim/defect_lattice.hpp"

#include <cmath>
#include <unordered_map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::sim {

namespace {

/// Columns binned in square cells of side `cell`, to find neighbours within one cell's reach.
class ColumnGrid {
 public:
  ColumnGrid(const Structure& s, double cell) : cell_(cell) {
    for (std::size_t k = 0; k < s.columns.size(); ++k) bins_[bin(s.columns[k].x, s.columns[k].y)].push_back(std::int32_t(k));
  }
  template <class F>
  void near(double x, double y, F&& f) const {
    const auto cx = std::int64_t(std::floor(x / cell_)), cy = std::int64_t(std::floor(y / cell_));
    for (std::int64_t dy = -1; dy <= 1; ++dy)
      for (std::int64_t dx = -1; dx <= 1; ++dx) {
        const auto it = bins_.find(key(cx + dx, cy + dy));
        if (it == bins_.end()) continue;
        for (std::int32_t k : it->second) f(k);
      }
  }

 private:
  static std::uint64_t key(std::int64_t cx, std::int64_t cy) { return (std::uint64_t(cx) << 32) ^ std::uint64_t(std::uint32_t(cy)); }
  std::uint64_t bin(double x, double y) const { return key(std::int64_t(std::floor(x / cell_)), std::int64_t(std::floor(y / cell_))); }
  double cell_;
  std::unordered_map<std::uint64_t, std::vector<std::int32_t>> bins_;
};

}  // namespace

DefectLattice defect_lattice(const Structure& s, const Material& m, double phi_deg) {
  DefectLattice g;
  g.a = m.a;
  g.phi_deg = phi_deg;
  std::vector<std::int32_t> site(s.columns.size(), -1);  // column -> metal or chalcogen site index
  for (std::size_t k = 0; k < s.columns.size(); ++k) {
    const Column& c = s.columns[k];
    if (c.layer != 0 || c.domain != 0)
      throw ConfigError("defect_lattice: expected one MX2 layer of one domain, found a column of layer " + std::to_string(c.layer) +
                        ", domain " + std::to_string(c.domain));
    if (c.sublattice == Sublattice::chalcogen) {
      if (c.capacity != 2) throw ConfigError("defect_lattice: expected chalcogen columns of two atoms (an MX2 1H layer), found capacity " +
                                             std::to_string(int(c.capacity)));
      site[k] = std::int32_t(g.chalcogen_columns.size());
      g.chalcogen_columns.push_back(std::int32_t(k));
    } else if (c.sublattice == Sublattice::metal) {
      site[k] = std::int32_t(g.metal_columns.size());
      g.metal_columns.push_back(std::int32_t(k));
    }
  }
  g.chalcogen_neighbours.assign(g.chalcogens(), {-1, -1, -1, -1, -1, -1});
  g.chalcogen_metals.assign(g.chalcogens(), {-1, -1, -1});
  g.metal_chalcogens.assign(g.metals(), {-1, -1, -1});
  const ColumnGrid grid(s, 1.2 * m.a);
  const double bond = m.a / std::sqrt(3.0), tol = 0.05 * m.a;
  for (std::size_t i = 0; i < g.chalcogens(); ++i) {
    const Column& c = s.columns[std::size_t(g.chalcogen_columns[i])];
    int metals = 0;
    grid.near(c.x, c.y, [&](std::int32_t k) {
      const Column& o = s.columns[std::size_t(k)];
      const double dx = o.x - c.x, dy = o.y - c.y, r = std::hypot(dx, dy);
      if (o.sublattice == Sublattice::chalcogen && std::abs(r - m.a) < tol) {
        // Direction index from the angle relative to a1 (at phi - 30).
        const double turns = (units::rad_to_deg(std::atan2(dy, dx)) - (phi_deg - 30.0)) / 60.0;
        const int d = int(((std::lround(turns) % 6) + 6) % 6);
        g.chalcogen_neighbours[i][std::size_t(d)] = site[std::size_t(k)];
      } else if (o.sublattice == Sublattice::metal && std::abs(r - bond) < tol && metals < 3) {
        g.chalcogen_metals[i][std::size_t(metals++)] = site[std::size_t(k)];
      }
    });
  }
  // Each metal's chalcogens, in the chalcogens' order (deterministic).
  std::vector<int> filled(g.metals(), 0);
  for (std::size_t i = 0; i < g.chalcogens(); ++i)
    for (std::int32_t mi : g.chalcogen_metals[i])
      if (mi >= 0 && filled[std::size_t(mi)] < 3) g.metal_chalcogens[std::size_t(mi)][std::size_t(filled[std::size_t(mi)]++)] = std::int32_t(i);
  return g;
}

}  // namespace tmdflow::sim
