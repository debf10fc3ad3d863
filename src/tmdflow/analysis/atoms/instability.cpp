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
                                   const std::vector<float>& latent, int dim, std::int64_t tracks) {
  const std::size_t n = track.size();
  if (frame.size() != n || cls.size() != n || dim < 1 || latent.size() != n * std::size_t(dim) || tracks < 0)
    throw ConfigError("site instability: expected one track, frame, class and latent vector per observation");
  TrackInstability r;
  const auto T = std::size_t(tracks);
  r.motion.assign(T, 0.0);
  r.instability.assign(T, std::numeric_limits<double>::quiet_NaN());
  r.class_changes.assign(T, 0);
  r.observations.assign(T, 0);
  // Observations of each track in frame order.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t i = 0; i < n; ++i)
    if (track[i] < 0 || track[i] >= tracks) throw ConfigError("site instability: track id " + std::to_string(track[i]) + " out of range");
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return track[a] != track[b] ? track[a] < track[b] : frame[a] < frame[b]; });
  std::vector<std::size_t> last(T, n);
  for (const std::size_t i : order) {
    const auto t = std::size_t(track[i]);
    ++r.observations[t];
    if (last[t] < n) {
      const std::size_t j = last[t];
      double d2 = 0;
      for (int k = 0; k < dim; ++k) {
        const double d = double(latent[i * std::size_t(dim) + std::size_t(k)]) - latent[j * std::size_t(dim) + std::size_t(k)];
        d2 += d * d;
      }
      r.motion[t] += std::sqrt(d2);
      r.class_changes[t] += cls[i] != cls[j];
    }
    last[t] = i;
  }
  std::vector<double> seen;
  for (std::size_t t = 0; t < T; ++t) {
    if (r.observations[t] < 2) {
      r.motion[t] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    r.motion[t] /= double(r.observations[t] - 1);
    seen.push_back(r.motion[t]);
  }
  const double med = median_of(seen);
  std::vector<double> dev;
  for (double m : seen) dev.push_back(std::fabs(m - med));
  const double mad = 1.4826 * median_of(dev);
  const double scale = mad > 0 ? mad : 1e-12;
  for (std::size_t t = 0; t < T; ++t)
    if (r.observations[t] >= 2) r.instability[t] = (r.motion[t] - med) / scale;
  return r;
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
