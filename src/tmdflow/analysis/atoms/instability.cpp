#include "tmdflow/analysis/atoms/instability.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis::atoms {

namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(h), v.end());
  double m = v[h];
  if (v.size() % 2 == 0) m = 0.5 * (m + *std::max_element(v.begin(), v.begin() + std::ptrdiff_t(h)));
  return m;
}

}  // namespace

TrackInstability track_instability(const std::vector<std::int64_t>& track, const std::vector<std::int64_t>& frame, const std::vector<int>& cls,
                                   const std::vector<float>& latent, int dim, std::int64_t tracks, const std::vector<char>& usable, int min_observations) {
  const std::size_t n = track.size();
  if (frame.size() != n || cls.size() != n || dim < 1 || latent.size() != n * std::size_t(dim) || tracks < 0 || (!usable.empty() && usable.size() != n) ||
      min_observations < 2)
    throw ConfigError("site instability: expected one track, frame, class and latent vector per observation");
  for (std::size_t i = 0; i < n; ++i)
    if (track[i] < 0 || track[i] >= tracks) throw ConfigError("site instability: track id " + std::to_string(track[i]) + " out of range");
  TrackInstability r;
  const auto T = std::size_t(tracks);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.change.assign(T, nan);
  r.step.assign(T, nan);
  r.instability.assign(T, nan);
  r.class_changes.assign(T, 0);
  r.observations.assign(T, 0);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return track[a] != track[b] ? track[a] < track[b] : frame[a] < frame[b]; });
  const auto D = std::size_t(dim);
  std::vector<double> prefix, total(D);
  for (std::size_t s = 0; s < n;) {
    std::size_t e = s;
    while (e < n && track[order[e]] == track[order[s]]) ++e;
    const auto t = std::size_t(track[order[s]]);
    for (std::size_t q = s + 1; q < e; ++q) r.class_changes[t] += cls[order[q]] != cls[order[q - 1]];
    std::vector<std::size_t> obs;
    for (std::size_t q = s; q < e; ++q)
      if (usable.empty() || usable[order[q]]) obs.push_back(order[q]);
    r.observations[t] = int(obs.size());
    const std::size_t m = obs.size();
    if (m >= std::size_t(min_observations)) {
      std::fill(total.begin(), total.end(), 0.0);
      for (const std::size_t i : obs)
        for (std::size_t k = 0; k < D; ++k) total[k] += latent[i * D + k];
      std::vector<double> head(D, 0.0);
      double best = 0, steps = 0;
      for (std::size_t q = 1; q < m; ++q) {
        double d2 = 0;
        for (std::size_t k = 0; k < D; ++k) {
          const double d = double(latent[obs[q] * D + k]) - latent[obs[q - 1] * D + k];
          d2 += d * d;
        }
        steps += std::sqrt(d2);
      }
      r.step[t] = steps / double(m - 1);
      for (std::size_t split = 1; split < m; ++split) {
        for (std::size_t k = 0; k < D; ++k) head[k] += latent[obs[split - 1] * D + k];
        double d2 = 0;
        for (std::size_t k = 0; k < D; ++k) {
          const double d = head[k] / double(split) - (total[k] - head[k]) / double(m - split);
          d2 += d * d;
        }
        best = std::max(best, std::sqrt(d2 * double(split) * double(m - split) / double(m)));
      }
      r.change[t] = best;
    }
    s = e;
  }
  // Robust z-scores of both statistics over the tracks; the instability is the larger.
  auto robust_z = [&](const std::vector<double>& v) {
    std::vector<double> seen;
    for (double c : v)
      if (!std::isnan(c)) seen.push_back(c);
    const double med = median_of(seen);
    std::vector<double> dev;
    for (double c : seen) dev.push_back(std::fabs(c - med));
    const double mad = 1.4826 * median_of(dev);
    const double scale = mad > 0 ? mad : 1e-12;
    std::vector<double> z(v.size(), nan);
    for (std::size_t t = 0; t < v.size(); ++t)
      if (!std::isnan(v[t])) z[t] = (v[t] - med) / scale;
    return z;
  };
  const auto zc = robust_z(r.change), zs = robust_z(r.step);
  for (std::size_t t = 0; t < T; ++t)
    if (!std::isnan(zc[t])) r.instability[t] = std::max(zc[t], zs[t]);
  return r;
}

UnstableSites unstable_sites(const TrackInstability& ti, const std::vector<std::int64_t>& track, const std::vector<double>& x,
                             const std::vector<double>& y, const UnstableSpec& spec) {
  const std::size_t T = ti.instability.size();
  if (x.size() != track.size() || y.size() != track.size() || ti.class_changes.size() != T)
    throw ConfigError("unstable sites: expected one position per observation and the tracks' instability");
  UnstableSites u;
  u.unstable.assign(T, 0);
  u.cluster.assign(T, -1);
  std::vector<double> sx(T, 0.0), sy(T, 0.0);
  std::vector<int> n(T, 0);
  for (std::size_t i = 0; i < track.size(); ++i) {
    const auto k = std::size_t(track[i]);
    if (k >= T) throw ConfigError("unstable sites: track id " + std::to_string(track[i]) + " out of range");
    sx[k] += x[i], sy[k] += y[i], ++n[k];
  }
  std::vector<double> ux, uy;
  std::vector<std::size_t> which;
  for (std::size_t k = 0; k < T; ++k) {
    u.unstable[k] = ti.instability[k] > spec.threshold || (spec.min_class_changes > 0 && ti.class_changes[k] >= spec.min_class_changes);
    if (u.unstable[k] && n[k] > 0) ux.push_back(sx[k] / n[k]), uy.push_back(sy[k] / n[k]), which.push_back(k);
  }
  u.count = std::int64_t(which.size());
  u.density = point_density(ux, uy, spec.height_px, spec.width_px, spec.sigma_px, spec.step_px, u.ny, u.nx);
  if (!ux.empty()) {
    const auto labels = single_linkage(ux, uy, spec.cluster_px);
    for (std::size_t j = 0; j < which.size(); ++j) u.cluster[which[j]] = labels[j];
    u.clusters = *std::max_element(labels.begin(), labels.end()) + 1;
  }
  return u;
}

std::vector<float> point_density(const std::vector<double>& x, const std::vector<double>& y, double height_px, double width_px, double sigma_px,
                                 double step_px, std::int64_t& ny, std::int64_t& nx) {
  if (!(sigma_px > 0) || !(step_px > 0) || !(height_px > 0) || !(width_px > 0) || x.size() != y.size())
    throw ConfigError("density map: expected a positive sigma, step and field and one y per x");
  ny = std::max<std::int64_t>(1, std::int64_t(std::floor(height_px / step_px)));
  nx = std::max<std::int64_t>(1, std::int64_t(std::floor(width_px / step_px)));
  std::vector<float> map(std::size_t(ny * nx), 0.0f);
  const double norm = 1.0 / (2 * M_PI * sigma_px * sigma_px), inv = 1.0 / (2 * sigma_px * sigma_px);
  const auto reach = std::int64_t(std::ceil(4 * sigma_px / step_px)) + 1;
  for (std::size_t p = 0; p < x.size(); ++p) {
    const auto ci = std::int64_t(std::floor(y[p] / step_px)), cj = std::int64_t(std::floor(x[p] / step_px));
    for (std::int64_t i = std::max<std::int64_t>(0, ci - reach); i <= std::min(ny - 1, ci + reach); ++i)
      for (std::int64_t j = std::max<std::int64_t>(0, cj - reach); j <= std::min(nx - 1, cj + reach); ++j) {
        const double dy = (double(i) + 0.5) * step_px - y[p], dx = (double(j) + 0.5) * step_px - x[p];
        map[std::size_t(i * nx + j)] += float(norm * std::exp(-(dx * dx + dy * dy) * inv));
      }
  }
  return map;
}

std::vector<std::int64_t> single_linkage(const std::vector<double>& x, const std::vector<double>& y, double distance) {
  const std::size_t n = x.size();
  if (y.size() != n || !(distance > 0)) throw ConfigError("clusters: expected one y per x and a positive distance");
  std::vector<std::size_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  auto root = [&](std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  // Points binned in cells of `distance`: neighbours are in the 3 x 3 cells around.
  std::unordered_map<std::int64_t, std::vector<std::size_t>> cells;
  auto key = [&](std::int64_t cx, std::int64_t cy) { return cx * 1000003 + cy; };
  for (std::size_t i = 0; i < n; ++i) cells[key(std::int64_t(std::floor(x[i] / distance)), std::int64_t(std::floor(y[i] / distance)))].push_back(i);
  for (std::size_t i = 0; i < n; ++i) {
    const auto cx = std::int64_t(std::floor(x[i] / distance)), cy = std::int64_t(std::floor(y[i] / distance));
    for (std::int64_t a = cx - 1; a <= cx + 1; ++a)
      for (std::int64_t b = cy - 1; b <= cy + 1; ++b) {
        const auto it = cells.find(key(a, b));
        if (it == cells.end()) continue;
        for (const std::size_t j : it->second)
          if (j > i && std::hypot(x[i] - x[j], y[i] - y[j]) < distance) parent[root(j)] = root(i);
      }
  }
  std::vector<std::int64_t> label(n, -1), of_root(n, -1);
  std::int64_t next = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t r = root(i);
    if (of_root[r] < 0) of_root[r] = next++;
    label[i] = of_root[r];
  }
  return label;
}

}  // namespace tmdflow::analysis::atoms
