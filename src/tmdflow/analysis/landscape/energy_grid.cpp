#include "tmdflow/analysis/landscape/energy_grid.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/numeric.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/product.hpp"

namespace tmdflow::analysis {

namespace {
double catmull_rom(double p0, double p1, double p2, double p3, double t) {
  return p1 + 0.5 * t * (p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0)));
}
}  // namespace

double EnergyGrid::at(int ia, int ib) const { return energy_meV[std::size_t(wrap_index(ib, nb)) * na + wrap_index(ia, na)]; }

double EnergyGrid::interpolate(double sa, double sb) const {
  const double u = (sa - std::floor(sa)) * na, v = (sb - std::floor(sb)) * nb;
  const int i = int(std::floor(u)), j = int(std::floor(v));
  const double fu = u - i, fv = v - j;
  double rows[4];
  for (int q = -1; q <= 2; ++q) rows[q + 1] = catmull_rom(at(i - 1, j + q), at(i, j + q), at(i + 1, j + q), at(i + 2, j + q), fu);
  return catmull_rom(rows[0], rows[1], rows[2], rows[3], fv);
}

double EnergyGrid::min() const { return *std::min_element(energy_meV.begin(), energy_meV.end()); }
double EnergyGrid::max() const { return *std::max_element(energy_meV.begin(), energy_meV.end()); }

void validate(const EnergyGrid& g, const std::string& where) {
  if (g.na < 3 || g.nb < 3)
    throw InputError(where + ": landscape: expected a grid of at least 3 x 3 slips, found " + std::to_string(g.na) + " x " + std::to_string(g.nb));
  if (g.energy_meV.size() != std::size_t(g.na) * std::size_t(g.nb))
    throw InputError(where + ": landscape: expected " + std::to_string(g.na * g.nb) + " energies, found " + std::to_string(g.energy_meV.size()));
  for (double e : g.energy_meV)
    if (!std::isfinite(e)) throw InputError(where + ": landscape: expected finite energies, found " + std::to_string(e));
}

std::vector<LandscapePoint> landscape_minima(const EnergyGrid& g) {
  std::vector<LandscapePoint> out;
  for (int ib = 0; ib < g.nb; ++ib)
    for (int ia = 0; ia < g.na; ++ia) {
      const double e = g.at(ia, ib);
      bool lowest = true;
      for (int db = -1; db <= 1 && lowest; ++db)
        for (int da = -1; da <= 1 && lowest; ++da) {
          if (da == 0 && db == 0) continue;
          const double n = g.at(ia + da, ib + db);
          // Strictly lower than the neighbours, or equal to one that comes later in index order.
          const int here = ib * g.na + ia, there = wrap_index(ib + db, g.nb) * g.na + wrap_index(ia + da, g.na);
          if (n < e || (n == e && there < here)) lowest = false;
        }
      if (!lowest) continue;
      // The quadratic through the neighbours: a minimum has a positive-definite Hessian (on an
      // oblique grid a saddle whose way down runs between two neighbours passes the test above).
      const double ga = 0.5 * (g.at(ia + 1, ib) - g.at(ia - 1, ib)), gb = 0.5 * (g.at(ia, ib + 1) - g.at(ia, ib - 1));
      const double haa = g.at(ia + 1, ib) - 2 * e + g.at(ia - 1, ib), hbb = g.at(ia, ib + 1) - 2 * e + g.at(ia, ib - 1);
      const double hab = 0.25 * (g.at(ia + 1, ib + 1) - g.at(ia + 1, ib - 1) - g.at(ia - 1, ib + 1) + g.at(ia - 1, ib - 1));
      const double det = haa * hbb - hab * hab;
      if (!(det > 0 && haa > 0)) continue;
      // Its vertex (a Newton step), within half a grid step.
      const double oa = std::clamp(-(hbb * ga - hab * gb) / det, -0.5, 0.5), ob = std::clamp(-(haa * gb - hab * ga) / det, -0.5, 0.5);
      auto unit = [](double x) {
        x -= std::floor(x);
        return x > 1 - 1e-9 || x < 0 ? 0.0 : x;  // 1 - 1e-17 is the slip 0
      };
      LandscapePoint p;
      p.slip_a = unit((ia + oa) / g.na);
      p.slip_b = unit((ib + ob) / g.nb);
      p.energy_meV = std::min(e, g.interpolate(p.slip_a, p.slip_b));
      out.push_back(p);
    }
  std::stable_sort(out.begin(), out.end(), [](const LandscapePoint& a, const LandscapePoint& b) { return a.energy_meV < b.energy_meV; });
  return out;
}

SlidingBarrier sliding_barrier(const EnergyGrid& g) {
  const int n = g.na * g.nb;
  std::vector<int> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return g.energy_meV[std::size_t(a)] < g.energy_meV[std::size_t(b)]; });
  // Union-find over added points; offset[p] = p's position in the unwrapped plane relative to its
  // parent, in whole cells (a, b).
  std::vector<int> parent(static_cast<std::size_t>(n), -1);
  std::vector<std::array<int, 2>> offset(std::size_t(n), {0, 0});
  std::vector<char> added(std::size_t(n), 0);
  auto find = [&](int p, std::array<int, 2>& off) {
    off = {0, 0};
    int r = p;
    while (parent[std::size_t(r)] != r) {
      off[0] += offset[std::size_t(r)][0], off[1] += offset[std::size_t(r)][1];
      r = parent[std::size_t(r)];
    }
    return r;
  };
  // winds[root]: the component holds a path to its own copy one lattice vector away.
  std::vector<char> winds(std::size_t(n), 0);
  std::vector<std::array<int, 2>> winding(std::size_t(n), {0, 0});
  const int lowest = order.front();
  SlidingBarrier out;
  for (int p : order) {
    parent[std::size_t(p)] = p;
    added[std::size_t(p)] = 1;
    const int ia = p % g.na, ib = p / g.na;
    for (int db = -1; db <= 1; ++db)
      for (int da = -1; da <= 1; ++da) {
        if (da == 0 && db == 0) continue;
        const int qa = ia + da, qb = ib + db;
        const int q = wrap_index(qb, g.nb) * g.na + wrap_index(qa, g.na);
        if (!added[std::size_t(q)] || q == p) continue;
        // Unwrapped, q lies at p + (da, db): the cells crossed.
        const std::array<int, 2> step = {qa < 0 ? -1 : qa >= g.na ? 1 : 0, qb < 0 ? -1 : qb >= g.nb ? 1 : 0};
        std::array<int, 2> op, oq;
        const int rp = find(p, op), rq = find(q, oq);
        if (rp != rq) {
          parent[std::size_t(rq)] = rp;
          offset[std::size_t(rq)] = {op[0] + step[0] - oq[0], op[1] + step[1] - oq[1]};
          if (winds[std::size_t(rq)] && !winds[std::size_t(rp)]) winds[std::size_t(rp)] = 1, winding[std::size_t(rp)] = winding[std::size_t(rq)];
        } else {
          const int wa = op[0] + step[0] - oq[0], wb = op[1] + step[1] - oq[1];
          if ((wa != 0 || wb != 0) && !winds[std::size_t(rp)]) winds[std::size_t(rp)] = 1, winding[std::size_t(rp)] = {wa, wb};
        }
      }
    std::array<int, 2> ol;
    const int rl = find(lowest, ol);
    if (winds[std::size_t(rl)]) {
      out.barrier_meV = g.energy_meV[std::size_t(p)] - g.energy_meV[std::size_t(lowest)];
      out.saddle = {double(ia) / g.na, double(ib) / g.nb, g.energy_meV[std::size_t(p)]};
      out.winding_a = winding[std::size_t(rl)][0], out.winding_b = winding[std::size_t(rl)][1];
      return out;
    }
  }
  return out;  // a flat grid: no barrier
}

EnergyGrid read_energy_grid_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open the landscape file");
  std::string line;
  int column_a = -1, column_b = -1, column_e = -1, row = 0;
  std::map<std::pair<double, double>, double> points;
  while (std::getline(in, line)) {
    ++row;
    line = str::trim(line);
    if (line.empty() || line[0] == '#') continue;
    const auto cells = str::split(line, ',');
    if (column_a < 0) {
      for (int k = 0; k < int(cells.size()); ++k) {
        const std::string c = str::trim(cells[std::size_t(k)]);
        if (c == "slip_a") column_a = k;
        if (c == "slip_b") column_b = k;
        if (c == "energy_meV") column_e = k;
      }
      if (column_a < 0 || column_b < 0 || column_e < 0)
        throw InputError(path + ": line " + std::to_string(row) + ": expected a header naming slip_a, slip_b and energy_meV, found '" + line + "'");
      continue;
    }
    const int need = std::max({column_a, column_b, column_e});
    if (int(cells.size()) <= need)
      throw InputError(path + ": line " + std::to_string(row) + ": expected " + std::to_string(need + 1) + " columns, found " + std::to_string(cells.size()));
    double v[3];
    const int cols[3] = {column_a, column_b, column_e};
    for (int k = 0; k < 3; ++k) {
      try {
        std::size_t used = 0;
        const std::string c = str::trim(cells[std::size_t(cols[k])]);
        v[k] = std::stod(c, &used);
        if (used != c.size()) throw std::invalid_argument(c);
      } catch (const std::exception&) {
        throw InputError(path + ": line " + std::to_string(row) + ": expected numbers, found '" + line + "'");
      }
    }
    if (!(v[0] >= 0 && v[0] < 1 && v[1] >= 0 && v[1] < 1))
      throw InputError(path + ": line " + std::to_string(row) + ": expected slips in [0, 1), found " + cells[std::size_t(column_a)] + ", " +
                       cells[std::size_t(column_b)]);
    points[{v[1], v[0]}] = v[2];
  }
  if (column_a < 0) throw InputError(path + ": expected a header line slip_a,slip_b,energy_meV and a grid of energies, found none");
  // The distinct slips along each axis must be i / n.
  std::vector<double> as, bs;
  for (const auto& [key, e] : points) {
    bs.push_back(key.first), as.push_back(key.second);
  }
  auto distinct = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end(), [](double x, double y) { return std::abs(x - y) < 1e-9; }), v.end());
    return v;
  };
  const auto ua = distinct(as), ub = distinct(bs);
  EnergyGrid g;
  g.na = int(ua.size()), g.nb = int(ub.size());
  for (int k = 0; k < g.na; ++k)
    if (std::abs(ua[std::size_t(k)] - double(k) / g.na) > 1e-6)
      throw InputError(path + ": slip_a: expected a regular grid k / " + std::to_string(g.na) + ", found " + std::to_string(ua[std::size_t(k)]));
  for (int k = 0; k < g.nb; ++k)
    if (std::abs(ub[std::size_t(k)] - double(k) / g.nb) > 1e-6)
      throw InputError(path + ": slip_b: expected a regular grid k / " + std::to_string(g.nb) + ", found " + std::to_string(ub[std::size_t(k)]));
  if (points.size() != std::size_t(g.na) * std::size_t(g.nb))
    throw InputError(path + ": expected a full grid of " + std::to_string(g.na) + " x " + std::to_string(g.nb) + " slips, found " +
                     std::to_string(points.size()) + " points");
  g.energy_meV.resize(points.size());
  for (const auto& [key, e] : points) {
    const int ia = int(std::lround(key.second * g.na)), ib = int(std::lround(key.first * g.nb));
    g.energy_meV[std::size_t(ib) * g.na + ia] = e;
  }
  validate(g, path);
  return g;
}

EnergyGrid read_energy_grid_h5(const std::string& spec) {
  const io::Target t = io::parse_target(spec, "/landscape");
  if (!io::h5::File::is_hdf5(t.file)) throw InputError(t.file + ": expected an HDF5 file holding a landscape, found another kind of file");
  const auto file = io::FileRegistry::open(t.file, io::h5::Mode::read, nullptr);
  const io::h5::Group root = file->root();
  EnergyGrid g;
  io::h5::Dataset d;
  const io::h5::LinkKind kind = root.kind(t.group);
  if (kind == io::h5::LinkKind::group) {
    const io::h5::Group grp = root.open_group(t.group);
    if (grp.kind("energy_meV") != io::h5::LinkKind::dataset)
      throw InputError(t.str() + ": expected a landscape/1 product (energy_meV) or a 2-D dataset of energies, found a group without energy_meV");
    d = grp.open_dataset("energy_meV");
    if (const auto a1 = grp.attr_doubles("a1_A"); a1 && a1->size() == 2) g.a1_A = {(*a1)[0], (*a1)[1]};
    if (const auto a2 = grp.attr_doubles("a2_A"); a2 && a2->size() == 2) g.a2_A = {(*a2)[0], (*a2)[1]};
  } else if (kind == io::h5::LinkKind::dataset) {
    d = root.open_dataset(t.group);
  } else {
    throw InputError(t.str() + ": expected a landscape (a landscape/1 group or a 2-D dataset), found nothing there");
  }
  const auto shape = d.shape();
  if (shape.size() != 2) throw InputError::at(t.file, d.path(), "shape", "2 dimensions (slip_b, slip_a)", str::shape_string(shape));
  g.nb = int(shape[0]), g.na = int(shape[1]);
  g.energy_meV = d.read_all<double>();
  validate(g, t.file + ":" + d.path());
  return g;
}

}  // namespace tmdflow::analysis
