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

double IntensityModel::spread(int c) const {
  const double floor = 1e-3 * std::max(1e-9, std::fabs(k[0]) + std::fabs(k[2]));
  if (noise_a == 0 && noise_g == 0) return std::max(floor, sd[sim::is_metal_class(c) ? 0 : 1]);
  return std::max(floor, std::sqrt(std::max(0.0, noise_a + noise_g * std::max(0.0, mean(c)))));
}

double IntensityModel::mean(int c) const {
  const auto a = atoms_of_class(c);
  double m = background;
  for (int e = 0; e < 4; ++e) m += a[std::size_t(e)] * k[std::size_t(e)];
  return m;
}

namespace {

/// Solves the n x n system A x = b (row-major, n <= 5) by Gaussian elimination with partial
/// pivoting; false when singular.
bool solve(std::vector<double> A, std::vector<double> b, int n, std::vector<double>& x) {
  for (int c = 0; c < n; ++c) {
    int p = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(A[std::size_t(r * n + c)]) > std::fabs(A[std::size_t(p * n + c)])) p = r;
    if (std::fabs(A[std::size_t(p * n + c)]) < 1e-12) return false;
    for (int k = 0; k < n; ++k) std::swap(A[std::size_t(c * n + k)], A[std::size_t(p * n + k)]);
    std::swap(b[std::size_t(c)], b[std::size_t(p)]);
    for (int r = c + 1; r < n; ++r) {
      const double f = A[std::size_t(r * n + c)] / A[std::size_t(c * n + c)];
      for (int k = c; k < n; ++k) A[std::size_t(r * n + k)] -= f * A[std::size_t(c * n + k)];
      b[std::size_t(r)] -= f * b[std::size_t(c)];
    }
  }
  x.assign(std::size_t(n), 0.0);
  for (int r = n - 1; r >= 0; --r) {
    double v = b[std::size_t(r)];
    for (int k = r + 1; k < n; ++k) v -= A[std::size_t(r * n + k)] * x[std::size_t(k)];
    x[std::size_t(r)] = v / A[std::size_t(r * n + r)];
  }
  return true;
}

double robust_sd(std::vector<double> v) {
  if (v.empty()) return 0;
  auto median = [](std::vector<double> w) {
    const std::size_t h = w.size() / 2;
    std::nth_element(w.begin(), w.begin() + std::ptrdiff_t(h), w.end());
    return w[h];
  };
  const double m = median(v);
  for (double& x : v) x = std::fabs(x - m);
  return 1.4826 * median(v);
}

/// The intensity model fitted to the confidently classified found sites (see the header).
IntensityModel fit_intensity(const std::vector<SiteEvidence>& sites, const std::vector<ClassifiedSite>& found, const ClassificationSpec& spec) {
  IntensityModel m;
  std::vector<std::size_t> use;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto& c = found[i];
    if (c.network_class < 0 || !std::isfinite(sites[i].intensity)) continue;
    if (c.probability[std::size_t(c.network_class)] >= spec.confident) use.push_back(i);
  }
  if (use.size() < 20) return m;
  // Ties k_e = ratio x k_f for an element seen on fewer than 5 sites.
  const auto& el = spec.elements;
  const int Z[4] = {el.metal_Z, el.metal_alloy_Z, el.chalcogen_Z, el.chalcogen_alloy_Z};
  int seen[4] = {0, 0, 0, 0};
  for (const std::size_t i : use) {
    const auto a = atoms_of_class(found[i].network_class);
    for (int e = 0; e < 4; ++e) seen[e] += a[std::size_t(e)] > 0;
  }
  // column of each element's k in the reduced design (1..), and its factor
  int column[4];
  double factor[4] = {1, 1, 1, 1};
  int n = 1;
  for (int pair = 0; pair < 2; ++pair) {
    const int e = 2 * pair, f = e + 1;
    const bool ok_e = seen[e] >= 5, ok_f = seen[f] >= 5;
    if (!ok_e && !ok_f) return m;  // a sublattice the image does not calibrate
    const double r = std::pow(double(Z[f]) / double(Z[e]), 1.7);
    if (ok_e && ok_f) {
      column[e] = n++, column[f] = n++;
    } else if (ok_e) {
      column[e] = column[f] = n++, factor[f] = r;
    } else {
      column[e] = column[f] = n++, factor[e] = 1 / r;
    }
  }
  std::vector<double> theta;
  std::vector<char> keep(use.size(), 1);
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<double> A(std::size_t(n * n), 0.0), b(std::size_t(n), 0.0);
    for (std::size_t u = 0; u < use.size(); ++u) {
      if (!keep[u]) continue;
      const auto a = atoms_of_class(found[use[u]].network_class);
      std::vector<double> row(std::size_t(n), 0.0);
      row[0] = 1;
      for (int e = 0; e < 4; ++e) row[std::size_t(column[e])] += a[std::size_t(e)] * factor[e];
      for (int r = 0; r < n; ++r) {
        for (int c = 0; c < n; ++c) A[std::size_t(r * n + c)] += row[std::size_t(r)] * row[std::size_t(c)];
        b[std::size_t(r)] += row[std::size_t(r)] * sites[use[u]].intensity;
      }
    }
    if (!solve(A, b, n, theta)) return m;
    m.background = theta[0];
    for (int e = 0; e < 4; ++e) m.k[std::size_t(e)] = factor[e] * theta[std::size_t(column[e])];
    // Spread per sublattice, then (first pass) drop the sites > 3 spreads off.
    std::vector<double> res[2];
    for (std::size_t u = 0; u < use.size(); ++u)
      if (keep[u]) {
        const auto& c = found[use[u]];
        res[c.sublattice == Sublattice::metal ? 0 : 1].push_back(sites[use[u]].intensity - m.mean(c.network_class));
      }
    for (int s = 0; s < 2; ++s) {
      const double scale = std::fabs(s == 0 ? m.k[0] + m.k[1] : m.k[2] + m.k[3]) / 2;
      m.sd[std::size_t(s)] = std::max(robust_sd(res[s]), std::max(0.01 * scale, 1e-9));
    }
    if (pass == 0)
      for (std::size_t u = 0; u < use.size(); ++u) {
        const auto& c = found[use[u]];
        const double sd = m.sd[c.sublattice == Sublattice::metal ? 0 : 1];
        keep[u] = std::fabs(sites[use[u]].intensity - m.mean(c.network_class)) <= 3 * sd;
      }
  }
  // The spread of each class: var = a + g mean, fitted (weighted by the sites) to the robust
  // variances of the classes with >= 10 confident sites.
  {
    std::vector<std::vector<double>> res(kClasses);
    for (std::size_t u = 0; u < use.size(); ++u)
      if (keep[u]) {
        const int c = found[use[u]].network_class;
        res[std::size_t(c)].push_back(sites[use[u]].intensity - m.mean(c));
      }
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    int classes = 0;
    for (int c = 0; c < kClasses; ++c) {
      if (res[std::size_t(c)].size() < 10) continue;
      const double v = std::pow(robust_sd(res[std::size_t(c)]), 2), x = std::max(0.0, m.mean(c)), w = double(res[std::size_t(c)].size());
      sw += w, sx += w * x, sy += w * v, sxx += w * x * x, sxy += w * x * v;
      ++classes;
    }
    const double det = sw * sxx - sx * sx;
    if (classes >= 2 && det > 1e-12 * sw * sxx) {
      double g = (sw * sxy - sx * sy) / det, a = (sy - g * sx) / sw;
      if (g < 0) g = 0, a = sy / sw;   // no growth with the signal: one spread
      if (a < 0) a = 0, g = sxy / sxx;  // through the origin
      m.noise_a = a, m.noise_g = g;
    }
  }
  m.fitted = true;
  m.sites = std::int64_t(std::count(keep.begin(), keep.end(), 1));
  return m;
}

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
      c.site_class = c.network_class = ls.sublattice == Sublattice::metal ? sim::metal_vacancy_site : sim::chalcogen_vacancy_site;
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
    c.site_class = c.network_class = best;
    out.sites.push_back(c);
  }
  if (!spec.intensity_model) return out;
  // The intensity model, fitted on this image's confident sites, then evidence x likelihood.
  const std::vector<ClassifiedSite> found(out.sites.begin(), out.sites.begin() + std::ptrdiff_t(sites.size()));
  out.intensity = fit_intensity(sites, found, spec);
  if (!out.intensity.fitted) return out;
  const IntensityModel& m = out.intensity;
  for (std::size_t i = 0; i < sites.size(); ++i) {
    ClassifiedSite& c = out.sites[i];
    const double I = sites[i].intensity;
    if (!std::isfinite(I)) continue;
    const auto& e = sites[i].scores;
    // The network's class stands where the intensity agrees with it (within `veto` spreads); the
    // network already saw these pixels, and multiplying in their likelihood again would count the
    // intensity twice and overrule it on noise. Where the intensity rules the class out, evidence
    // times likelihood decides.
    if (std::fabs(I - m.mean(c.network_class)) <= spec.veto * m.spread(c.network_class)) continue;
    ++out.vetoed;
    std::array<double, kClasses> logw{};
    double top = -HUGE_VAL;
    for (int k = 0; k < kClasses; ++k) {
      if (class_sublattice(k) != c.sublattice) continue;
      const double sd = m.spread(k), z = (I - m.mean(k)) / sd;
      logw[std::size_t(k)] = std::log(std::max(0.0f, e[std::size_t(k)]) + spec.floor) - 0.5 * z * z - std::log(sd);
      top = std::max(top, logw[std::size_t(k)]);
    }
    double total = 0;
    for (int k = 0; k < kClasses; ++k)
      if (class_sublattice(k) == c.sublattice) total += std::exp(logw[std::size_t(k)] - top);
    int best = -1;
    for (int k = 0; k < kClasses; ++k) {
      c.probability[std::size_t(k)] = class_sublattice(k) == c.sublattice ? float(std::exp(logw[std::size_t(k)] - top) / total) : 0.0f;
      if (class_sublattice(k) == c.sublattice && (best < 0 || c.probability[std::size_t(k)] > c.probability[std::size_t(best)])) best = k;
    }
    c.site_class = best;
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
