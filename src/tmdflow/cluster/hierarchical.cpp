#include "tmdflow/cluster/hierarchical.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::cluster {

Dendrogram agglomerate(const std::vector<double>& distance, int m, Linkage linkage) {
  if (m < 1) throw ConfigError("agglomerate: needs at least 1 item, found " + std::to_string(m));
  if (distance.size() != std::size_t(m) * std::size_t(m))
    throw ConfigError("agglomerate: expected a " + std::to_string(m) + "x" + std::to_string(m) + " distance matrix (" +
                      std::to_string(std::size_t(m) * std::size_t(m)) + " values), found " + std::to_string(distance.size()));
  std::vector<double> dist = distance;
  auto at = [&](int i, int j) -> double& { return dist[std::size_t(i) * std::size_t(m) + std::size_t(j)]; };
  // Slot i holds the cluster whose smallest leaf is i; `id` is its scipy number, `size` its leaves.
  std::vector<int> id(static_cast<std::size_t>(m)), size(static_cast<std::size_t>(m), 1);
  std::iota(id.begin(), id.end(), 0);
  std::vector<char> active(std::size_t(m), 1);
  Dendrogram out;
  out.leaves = m;
  for (int step = 0; step < m - 1; ++step) {
    int bi = -1, bj = -1;
    double best = std::numeric_limits<double>::infinity();
    for (int i = 0; i < m; ++i) {
      if (!active[std::size_t(i)]) continue;
      for (int j = i + 1; j < m; ++j)
        if (active[std::size_t(j)] && (bi < 0 || at(i, j) < best)) {
          bi = i;
          bj = j;
          best = at(i, j);
        }
    }
    const int ni = size[std::size_t(bi)], nj = size[std::size_t(bj)];
    out.merges.push_back({std::min(id[std::size_t(bi)], id[std::size_t(bj)]), std::max(id[std::size_t(bi)], id[std::size_t(bj)]),
                          best, ni + nj});
    // Lance-Williams update of the distances to the merged cluster (kept in slot bi).
    for (int k = 0; k < m; ++k) {
      if (!active[std::size_t(k)] || k == bi || k == bj) continue;
      const double dik = at(bi, k), djk = at(bj, k);
      double v = 0;
      switch (linkage) {
        case Linkage::single: v = std::min(dik, djk); break;
        case Linkage::complete: v = std::max(dik, djk); break;
        case Linkage::average: v = (ni * dik + nj * djk) / double(ni + nj); break;
      }
      at(bi, k) = at(k, bi) = v;
    }
    active[std::size_t(bj)] = 0;
    id[std::size_t(bi)] = m + step;
    size[std::size_t(bi)] = ni + nj;
  }
  return out;
}

namespace {

/// Labels of the leaves after the first `applied` merges, numbered by first leaf.
std::vector<int> labels_after(const Dendrogram& d, std::size_t applied) {
  const int m = d.leaves;
  // Union-find over the leaves; `leaf_of[node]` is one leaf of each (leaf or merged) node.
  std::vector<int> parent(static_cast<std::size_t>(m)), leaf_of(static_cast<std::size_t>(m) + d.merges.size());
  std::iota(parent.begin(), parent.end(), 0);
  std::iota(leaf_of.begin(), leaf_of.begin() + m, 0);
  auto root = [&](int v) {
    while (parent[std::size_t(v)] != v) v = parent[std::size_t(v)] = parent[std::size_t(parent[std::size_t(v)])];
    return v;
  };
  for (std::size_t i = 0; i < applied; ++i) {
    const Merge& g = d.merges[i];
    const int ra = root(leaf_of[std::size_t(g.a)]), rb = root(leaf_of[std::size_t(g.b)]);
    parent[std::size_t(std::max(ra, rb))] = std::min(ra, rb);
    leaf_of[std::size_t(m) + i] = std::min(ra, rb);
  }
  std::vector<int> label(static_cast<std::size_t>(m)), label_of_root(std::size_t(m), -1);
  int next = 0;
  for (int leaf = 0; leaf < m; ++leaf) {
    int& l = label_of_root[std::size_t(root(leaf))];
    if (l < 0) l = next++;
    label[std::size_t(leaf)] = l;
  }
  return label;
}

}  // namespace

std::vector<int> cut_at_distance(const Dendrogram& d, double threshold) {
  std::size_t applied = 0;
  while (applied < d.merges.size() && d.merges[applied].distance <= threshold) ++applied;
  return labels_after(d, applied);
}

std::vector<int> cut_to_clusters(const Dendrogram& d, int clusters) {
  if (clusters < 1 || clusters > d.leaves)
    throw ConfigError("cut_to_clusters: clusters must be in [1, " + std::to_string(d.leaves) + "], found " +
                      std::to_string(clusters));
  return labels_after(d, std::size_t(d.leaves - clusters));
}

AzimuthalMatch azimuthal_cross_correlation(const float* a, const float* b, int rings, int bins, int max_shift_bins) {
  if (rings < 1 || bins < 3)
    throw ConfigError("azimuthal_cross_correlation: needs rings >= 1 and bins >= 3, found " + std::to_string(rings) +
                      " and " + std::to_string(bins));
  const std::size_t total = std::size_t(rings) * std::size_t(bins);
  // Circular shifts keep each ring's values, so the means and norms do not depend on s.
  double mean_a = 0, mean_b = 0;
  for (std::size_t e = 0; e < total; ++e) {
    mean_a += a[e];
    mean_b += b[e];
  }
  mean_a /= double(total);
  mean_b /= double(total);
  double norm_a = 0, norm_b = 0;
  for (std::size_t e = 0; e < total; ++e) {
    norm_a += (a[e] - mean_a) * (a[e] - mean_a);
    norm_b += (b[e] - mean_b) * (b[e] - mean_b);
  }
  AzimuthalMatch out;
  if (norm_a <= 0 || norm_b <= 0) return out;
  const double scale = 1.0 / std::sqrt(norm_a * norm_b);
  auto correlation = [&](int s) {
    const int shift = ((s % bins) + bins) % bins;
    double sum = 0;
    for (int r = 0; r < rings; ++r) {
      const float* ar = a + std::size_t(r) * std::size_t(bins);
      const float* br = b + std::size_t(r) * std::size_t(bins);
      for (int i = 0; i < bins; ++i) {
        const int src = i - shift < 0 ? i - shift + bins : i - shift;
        sum += (ar[i] - mean_a) * (br[src] - mean_b);
      }
    }
    return sum * scale;
  };
  const int lo = max_shift_bins < 0 ? -((bins - 1) / 2) : -std::min(max_shift_bins, bins / 2);
  const int hi = max_shift_bins < 0 ? bins / 2 : std::min(max_shift_bins, bins / 2);
  int best = lo;
  double best_r = -std::numeric_limits<double>::infinity();
  for (int s = lo; s <= hi; ++s) {
    const double r = correlation(s);
    if (r > best_r) {
      best_r = r;
      best = s;
    }
  }
  const double below = correlation(best - 1), above = correlation(best + 1);
  const double curvature = below - 2 * best_r + above;
  double offset = curvature < 0 ? 0.5 * (below - above) / curvature : 0.0;
  offset = std::clamp(offset, -0.5, 0.5);
  out.correlation = best_r;
  out.shift_bins = best + offset;
  return out;
}

}  // namespace tmdflow::cluster
