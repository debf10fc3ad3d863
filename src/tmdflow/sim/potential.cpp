#include "tmdflow/sim/potential.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/random.hpp"

namespace tmdflow::sim {

PotentialTable::PotentialTable(const std::vector<int>& elements, double pixel_A, double cutoff_A)
    : cutoff_(cutoff_A), cutoff2_(cutoff_A * cutoff_A) {
  constexpr int n = 8192;
  inv_step_ = double(n) / cutoff2_;
  const double core = 0.5 * pixel_A;  // radius of the disc averaged at the nucleus
  for (int Z : elements) {
    if (Z <= 0 || Z > 118) throw ConfigError("potential: invalid atomic number " + std::to_string(Z));
    if (Z >= int(slot_.size())) slot_.resize(std::size_t(Z) + 1, -1);
    if (slot_[std::size_t(Z)] >= 0) continue;
    const double tail = projected_potential(Z, cutoff_A);
    // Mean of v_z over the core disc (midpoint rule in r, 2 pi r dr weight).
    double mean = 0;
    {
      const int m = 400;
      double w = 0;
      for (int k = 0; k < m; ++k) {
        const double r = (k + 0.5) * core / m;
        mean += projected_potential(Z, r) * r;
        w += r;
      }
      mean /= w;
    }
    std::vector<double> t(n + 2);
    for (int i = 0; i <= n + 1; ++i) {
      const double r = std::sqrt(std::min(double(i), double(n)) / inv_step_);
      t[std::size_t(i)] = (r < core ? mean : projected_potential(Z, r)) - tail;
    }
    t[n] = t[n + 1] = 0;
    slot_[std::size_t(Z)] = int(tables_.size());
    tables_.push_back(std::move(t));
  }
}

SlicedAtoms slice_structure(const Structure& s, double dz, double rms_scale, std::uint64_t seed, int config) {
  if (!(dz > 0)) throw ConfigError("slice-thickness-A: expected a positive number, found " + std::to_string(dz));
  SlicedAtoms out;
  if (s.atoms.empty()) return out;
  double zmin = s.atoms[0].z;
  for (const auto& a : s.atoms) zmin = std::min(zmin, a.z);
  std::map<long, std::vector<std::size_t>> bins;
  std::vector<double> x(s.atoms.size()), y(s.atoms.size());
  std::map<int, double> rms;
  for (std::size_t k = 0; k < s.atoms.size(); ++k) {
    const auto& a = s.atoms[k];
    x[k] = a.x;
    y[k] = a.y;
    if (rms_scale > 0) {
      auto it = rms.find(a.Z);
      if (it == rms.end()) it = rms.emplace(a.Z, default_rms_displacement(a.Z)).first;
      rng::Stream g(rng::key(seed, 0x70686f6eULL, std::uint64_t(config), k));
      const double u = it->second * rms_scale;
      x[k] += u * g.normal();
      y[k] += u * g.normal();  // z displacements would not change a projected slice
    }
    // Binning uses the undisplaced z so that slices do not change between configurations.
    bins[long(std::floor((a.z - zmin) / dz))].push_back(k);
  }
  for (auto& [bin, idx] : bins) {
    SlicedAtoms::Slice sl;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return y[a] < y[b] || (y[a] == y[b] && a < b); });
    double zs = 0;
    for (std::size_t k : idx) {
      sl.Z.push_back(s.atoms[k].Z);
      sl.x.push_back(x[k]);
      sl.y.push_back(y[k]);
      zs += s.atoms[k].z;
    }
    sl.z = zs / double(idx.size());
    out.slices.push_back(std::move(sl));
  }
  return out;
}

void add_projected_potential(const PotentialTable& table, const SlicedAtoms::Slice& sl, const Grid& g, float* out) {
  const double rc = table.cutoff();
  constexpr int band = 16;
  const int bands = (g.ny + band - 1) / band;
  const double* ys = sl.y.data();
  const std::size_t natoms = sl.y.size();
  for (int Z : sl.Z)
    if (!table.has(Z)) throw ConfigError("potential: no table for element " + std::to_string(Z));
  Kokkos::parallel_for(
      "tmdflow::sim::projected_potential", Kokkos::RangePolicy<HostExec>(0, bands), [&](const int b) {
        const int i0 = b * band, i1 = std::min(g.ny, i0 + band);
        const double ylo = g.y0 + i0 * g.dy - rc, yhi = g.y0 + (i1 - 1) * g.dy + rc;
        const std::size_t k0 = std::size_t(std::lower_bound(ys, ys + natoms, ylo) - ys);
        for (std::size_t k = k0; k < natoms && ys[k] <= yhi; ++k) {
          const double ax = sl.x[k], ay = ys[k];
          const int Z = sl.Z[k];
          const int jlo = std::max(0, int(std::ceil((ax - rc - g.x0) / g.dx)));
          const int jhi = std::min(g.nx - 1, int(std::floor((ax + rc - g.x0) / g.dx)));
          if (jlo > jhi) continue;
          const int ilo = std::max(i0, int(std::ceil((ay - rc - g.y0) / g.dy)));
          const int ihi = std::min(i1 - 1, int(std::floor((ay + rc - g.y0) / g.dy)));
          for (int i = ilo; i <= ihi; ++i) {
            const double ddy = g.y0 + i * g.dy - ay;
            float* row = out + std::size_t(i) * g.nx;
            for (int j = jlo; j <= jhi; ++j) {
              const double ddx = g.x0 + j * g.dx - ax;
              row[j] += table.value(Z, ddx * ddx + ddy * ddy);
            }
          }
        }
      });
}

}  // namespace tmdflow::sim
