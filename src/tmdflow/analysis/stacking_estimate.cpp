#include "tmdflow/analysis/stacking_estimate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/numeric.hpp"

namespace tmdflow::analysis {
namespace {


bool finite(const std::vector<double>& y) {
  for (double v : y)
    if (!std::isfinite(v)) return false;
  return !y.empty();
}

double quadratic(const std::vector<double>& metric, const std::vector<double>& d) {
  const std::size_t n = d.size();
  double s = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) s += d[i] * metric[i * n + j] * d[j];
  return s;
}

void check(const sim::LabelSymmetry& s, std::size_t n) {
  if (std::size_t(s.size) != n || s.metric.size() != n * n || s.period.size() != n)
    throw ConfigError("stacking labels: expected " + std::to_string(s.size) + " values per label (" + s.describe() + "), found " +
                      std::to_string(n));
}

/// The weighted median of `values` (weights > 0 sum to total): the smallest value whose cumulative
/// weight exceeds half of the total (equal weights: element n / 2 of the sorted values).
double weighted_median(std::vector<std::pair<double, double>>& values, double total) {
  std::sort(values.begin(), values.end());
  double cumulative = 0;
  for (const auto& [v, w] : values) {
    cumulative += w;
    if (cumulative > 0.5 * total) return v;
  }
  return values.back().first;
}

}  // namespace

RobustCentre robust_centre(const sim::LabelSymmetry& s, const std::vector<std::vector<double>>& labels, double cap,
                           std::int64_t max_candidates, const std::vector<double>& weights) {
  if (!(cap > 0)) throw ConfigError("robust centre: expected a positive cap, found " + std::to_string(cap));
  if (!weights.empty() && weights.size() != labels.size())
    throw ConfigError("robust centre: expected a weight per label (" + std::to_string(labels.size()) + "), found " +
                      std::to_string(weights.size()));
  std::vector<const std::vector<double>*> good;
  std::vector<double> weight;
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (finite(labels[i])) {
      const double w = weights.empty() ? 1.0 : weights[i];
      if (!(w >= 0) || !std::isfinite(w)) throw ConfigError("robust centre: expected weights >= 0, found " + std::to_string(w));
      good.push_back(&labels[i]), weight.push_back(w);
    }
  if (std::all_of(weight.begin(), weight.end(), [](double w) { return w == 0; })) std::fill(weight.begin(), weight.end(), 1.0);
  RobustCentre out;
  out.count = std::int64_t(good.size());
  if (good.empty()) {
    out.label.assign(std::size_t(std::max(s.size, 0)), kNaN);
    out.spread = out.inliers = kNaN;
    return out;
  }
  const std::size_t n = good.front()->size();
  check(s, n);
  // Medoid among evenly spread candidates, scored against the same spread sample (O(K^2)).
  const std::size_t k = std::min<std::size_t>(good.size(), std::size_t(std::max<std::int64_t>(1, max_candidates)));
  std::vector<std::size_t> sample(k);
  for (std::size_t i = 0; i < k; ++i) sample[i] = i * good.size() / k;
  double best_score = std::numeric_limits<double>::infinity();
  const std::vector<double>* medoid = good[sample.front()];
  for (const std::size_t a : sample) {
    if (weight[a] == 0) continue;  // a label the weights rule out is no candidate
    double score = 0;
    for (const std::size_t b : sample) score += weight[b] * std::min(cap, sim::label_distance(s, *good[b], *good[a]));
    if (score < best_score) best_score = score, medoid = good[a];
  }
  // Every label unfolded next to the medoid; the component-wise median, then Huber iterations.
  std::vector<std::vector<double>> near(good.size());
  for (std::size_t i = 0; i < good.size(); ++i) near[i] = sim::nearest_equivalent(s, *medoid, *good[i]);
  std::vector<double> centre(n);
  std::vector<std::pair<double, double>> column;
  double total = 0;
  for (double w : weight) total += w;
  for (std::size_t c = 0; c < n; ++c) {
    column.clear();
    for (std::size_t i = 0; i < good.size(); ++i)
      if (weight[i] > 0) column.emplace_back(near[i][c], weight[i]);
    centre[c] = weighted_median(column, total);
  }
  const double huber = cap / 3;
  std::vector<double> d(n);
  for (int iteration = 0; iteration < 20; ++iteration) {
    std::vector<double> sum(n, 0.0);
    double wsum = 0;
    for (std::size_t i = 0; i < near.size(); ++i) {
      const auto& y = near[i];
      for (std::size_t c = 0; c < n; ++c) d[c] = y[c] - centre[c];
      const double r = std::sqrt(quadratic(s.metric, d));
      if (r > cap) continue;
      const double w = weight[i] * (r <= huber ? 1.0 : huber / r);
      for (std::size_t c = 0; c < n; ++c) sum[c] += w * y[c];
      wsum += w;
    }
    if (wsum == 0) break;
    double moved = 0;
    for (std::size_t c = 0; c < n; ++c) {
      const double next = sum[c] / wsum;
      d[c] = next - centre[c];
      centre[c] = next;
    }
    moved = std::sqrt(quadratic(s.metric, d));
    if (moved < 1e-9) break;
  }
  std::vector<double> dist(good.size());
  std::int64_t inside = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    dist[i] = sim::label_distance(s, *good[i], centre);
    inside += dist[i] <= cap;
  }
  std::nth_element(dist.begin(), dist.begin() + std::ptrdiff_t(dist.size() / 2), dist.end());
  out.label = sim::fold_label(s, centre);
  out.spread = dist[dist.size() / 2];
  out.inliers = double(inside) / double(good.size());
  return out;
}

std::vector<std::uint8_t> boundary_cells(const sim::LabelSymmetry& s, const std::vector<std::vector<double>>& labels,
                                         std::int64_t rows, std::int64_t cols, double threshold) {
  if (std::int64_t(labels.size()) != rows * cols)
    throw ConfigError("boundary cells: expected " + std::to_string(rows * cols) + " labels, found " + std::to_string(labels.size()));
  std::vector<std::uint8_t> out(labels.size(), 0);
  auto differs = [&](std::int64_t a, std::int64_t b) {
    const auto& ya = labels[std::size_t(a)];
    const auto& yb = labels[std::size_t(b)];
    return finite(ya) && finite(yb) && sim::label_distance(s, ya, yb) > threshold;
  };
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t here = i * cols + j;
      if (j + 1 < cols && differs(here, here + 1)) out[std::size_t(here)] = out[std::size_t(here + 1)] = 1;
      if (i + 1 < rows && differs(here, here + cols)) out[std::size_t(here)] = out[std::size_t(here + cols)] = 1;
    }
  return out;
}

std::array<double, 2> tedgen_da_db(double dx, double dy) {
  // Their input is in image axes (y down); they turn y up, and fold both the slip and its inverse
  // (the same image) into one cell of their rounded ReS2 lattice, keeping the first that lands.
  const double a = 6.42, half_a = 3.21, h = 5.71, b_x = 3.27;
  const double candidates[2][2] = {{-dx, dy}, {dx, -dy}};
  const double pi = 3.14159265358979323846;
  for (const auto& c : candidates) {
    double x = c[0], y = c[1];
    if (x < 0) x += a;
    if (y < 0) x -= half_a, y += h;
    if (1.74 * x + y < 0) x += a;
    if (1.74 * x + y > 11.21) x -= a;
    if ((h / (b_x + a)) * x + y > (h / (b_x + a)) * a) continue;  // outside their cell
    const double skew = (119.8 - 90) * pi / 180;
    const double along_a1 = x + y * std::tan(skew);
    const double along_second = y / std::cos(skew);
    return {along_second, along_a1};  // (Da, Db)
  }
  return {kNaN, kNaN};
}

}  // namespace tmdflow::analysis
