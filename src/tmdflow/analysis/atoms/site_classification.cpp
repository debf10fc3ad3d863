#include "tmdflow/analysis/atoms/site_classification.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis::atoms {

Sublattice class_sublattice(int c) { return sim::is_metal_class(c) ? Sublattice::metal : Sublattice::chalcogen; }

std::array<int, 4> atoms_of_class(int c) {
  switch (c) {
    case sim::host_metal: return {1, 0, 0, 0};
    case sim::alloy_metal: return {0, 1, 0, 0};
    case sim::host_pair: return {0, 0, 2, 0};
    case sim::mixed_pair: return {0, 0, 1, 1};
    case sim::alloy_pair: return {0, 0, 0, 2};
    case sim::host_single: return {0, 0, 1, 0};
    case sim::alloy_single: return {0, 0, 0, 1};
    default: return {0, 0, 0, 0};
  }
}

namespace {

double metal_evidence(const std::array<float, kClasses>& e) {
  double m = 0, x = 0;
  for (int c = 0; c < kClasses; ++c) (sim::is_metal_class(c) ? m : x) += std::max(0.0f, e[std::size_t(c)]);
  return m - x;
}

}  // namespace

Classification classify_sites(const std::vector<SiteEvidence>& sites, const ClassificationSpec& spec) {
  if (!(spec.floor > 0 && spec.floor < 1)) throw ConfigError("classify-sites: floor: expected in (0, 1)");
  std::vector<double> x, y, evidence;
  for (const auto& s : sites) {
    for (float v : s.scores)
      if (!std::isfinite(v)) throw ConfigError("classify-sites: a site's class evidence is not finite");
    x.push_back(s.x), y.push_back(s.y), evidence.push_back(metal_evidence(s.scores));
  }
  LatticeGraphSpec gs = spec.graph;
  gs.metal_brighter = true;  // "intensity" = metal evidence
  Classification out;
  out.graph = build_lattice_graph(x, y, evidence, gs);
  for (const LatticeSite& ls : out.graph.sites) {
    ClassifiedSite c;
    c.x = ls.x, c.y = ls.y;
    c.found = ls.column >= 0;
    if (!c.found) {
      c.sublattice = ls.sublattice;
      c.site_class = ls.sublattice == Sublattice::metal ? sim::metal_vacancy_site : sim::chalcogen_vacancy_site;
      c.probability[std::size_t(c.site_class)] = 1;
      out.sites.push_back(c);
      continue;
    }
    const auto& e = sites[std::size_t(ls.column)].scores;
    c.unconstrained_class = int(std::max_element(e.begin(), e.end()) - e.begin());
    // A site without bonds keeps the sublattice its own evidence says.
    c.sublattice = ls.sublattice != Sublattice::unknown ? ls.sublattice : (evidence[std::size_t(ls.column)] >= 0 ? Sublattice::metal : Sublattice::chalcogen);
    double total = 0;
    for (int k = 0; k < kClasses; ++k)
      if (class_sublattice(k) == c.sublattice) total += std::max(0.0f, e[std::size_t(k)]) + spec.floor;
    int best = -1;
    for (int k = 0; k < kClasses; ++k) {
      if (class_sublattice(k) != c.sublattice) continue;
      c.probability[std::size_t(k)] = float((std::max(0.0f, e[std::size_t(k)]) + spec.floor) / total);
      if (best < 0 || c.probability[std::size_t(k)] > c.probability[std::size_t(best)]) best = k;
    }
    c.site_class = best;
    out.sites.push_back(c);
  }
  return out;
}

CompositionMaps composition_maps(const std::vector<ClassifiedSite>& sites, double height_px, double width_px, double radius_px, double step_px) {
  if (!(radius_px > 0) || !(step_px > 0) || !(height_px > 0) || !(width_px > 0))
    throw ConfigError("composition maps: expected a positive radius, step and field");
  CompositionMaps m;
  m.step_px = step_px;
  m.ny = std::max<std::int64_t>(1, std::int64_t(std::floor(height_px / step_px)));
  m.nx = std::max<std::int64_t>(1, std::int64_t(std::floor(width_px / step_px)));
  const std::size_t n = std::size_t(m.ny * m.nx);
  std::vector<double> counts(4 * n, 0.0);
  const double r2 = radius_px * radius_px;
  const auto reach = std::int64_t(std::ceil(radius_px / step_px)) + 1;
  for (const auto& s : sites) {
    if (s.site_class < 0) continue;
    const auto a = atoms_of_class(s.site_class);
    const auto ci = std::int64_t(std::floor(s.y / step_px)), cj = std::int64_t(std::floor(s.x / step_px));
    for (std::int64_t i = std::max<std::int64_t>(0, ci - reach); i <= std::min(m.ny - 1, ci + reach); ++i)
      for (std::int64_t j = std::max<std::int64_t>(0, cj - reach); j <= std::min(m.nx - 1, cj + reach); ++j) {
        const double dy = (double(i) + 0.5) * step_px - s.y, dx = (double(j) + 0.5) * step_px - s.x;
        if (dx * dx + dy * dy > r2) continue;
        for (int k = 0; k < 4; ++k) counts[4 * std::size_t(i * m.nx + j) + std::size_t(k)] += a[std::size_t(k)];
      }
  }
  m.x.assign(n, std::numeric_limits<float>::quiet_NaN());
  m.y.assign(n, std::numeric_limits<float>::quiet_NaN());
  for (std::size_t q = 0; q < n; ++q) {
    const double* c = &counts[4 * q];
    if (c[0] + c[1] > 0) m.x[q] = float(c[1] / (c[0] + c[1]));
    if (c[2] + c[3] > 0) m.y[q] = float(c[3] / (c[2] + c[3]));
  }
  return m;
}

}  // namespace tmdflow::analysis::atoms
