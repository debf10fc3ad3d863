#include "tmdflow/cluster/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "tmdflow/cluster/random.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/par/reduce.hpp"

namespace tmdflow::cluster {

namespace {

using Distances = Kokkos::View<double*, MemSpace>;

/// Nearest centroid of each row from ||x||^2 - 2 x.c + ||c||^2 (the products by the shared
/// kernel); returns how many labels changed.
std::int64_t assign(const Matrix& x, const Kokkos::View<float*, MemSpace>& x_norms, const Matrix& centroids,
                    const Matrix& dots, const Labels& labels, const Distances& distances) {
  const int k = int(centroids.extent(0));
  const auto c_norms = row_squared_norms(centroids);
  multiply_transposed(x, centroids, dots);
  std::int64_t changes = 0;
  Kokkos::parallel_reduce(
      "tmdflow::cluster::nearest_centroid", Kokkos::RangePolicy<ExecSpace>(0, x.extent(0)),
      KOKKOS_LAMBDA(const std::int64_t i, std::int64_t& changed) {
        int best = 0;
        double best_d = 0;
        for (int c = 0; c < k; ++c) {
          const double dist = double(x_norms(i)) - 2.0 * double(dots(i, c)) + double(c_norms(c));
          if (c == 0 || dist < best_d) {  // strict: the lowest index wins a tie
            best = c;
            best_d = dist;
          }
        }
        if (labels(i) != best) ++changed;
        labels(i) = best;
        distances(i) = best_d > 0 ? best_d : 0.0;
      },
      changes);
  return changes;
}

/// The rows floor(s * total / m), s < m, on every rank: each rank writes the ones it owns into a
/// zero-filled m x d buffer and the allreduce (exact: every entry has one nonzero term) joins them.
std::vector<float> sample_rows(const par::Comm& comm, const Matrix& x, std::int64_t first_row, std::int64_t total,
                               std::int64_t m) {
  const std::int64_t n = std::int64_t(x.extent(0)), d = std::int64_t(x.extent(1));
  std::vector<std::int64_t> slot, local_row;
  for (std::int64_t s = 0; s < m; ++s) {
    const std::int64_t g = s * total / m;
    if (g >= first_row && g < first_row + n) {
      slot.push_back(s);
      local_row.push_back(g - first_row);
    }
  }
  Kokkos::View<std::int64_t*, MemSpace> rows("tmdflow::cluster::sample_rows", local_row.size());
  auto rh = Kokkos::create_mirror_view(rows);
  for (std::size_t e = 0; e < local_row.size(); ++e) rh(e) = local_row[e];
  Kokkos::deep_copy(rows, rh);
  Matrix picked("tmdflow::cluster::sample", local_row.size(), d);
  Kokkos::parallel_for("tmdflow::cluster::kmeans_sample", Kokkos::RangePolicy<ExecSpace>(0, local_row.size()),
                       KOKKOS_LAMBDA(const std::int64_t e) {
                         for (std::int64_t j = 0; j < d; ++j) picked(e, j) = x(rows(e), j);
                       });
  const std::vector<float> mine = to_host(picked);
  std::vector<float> buffer(std::size_t(m * d), 0.0f);
  for (std::size_t e = 0; e < slot.size(); ++e)
    std::copy_n(mine.begin() + std::ptrdiff_t(e * std::size_t(d)), d, buffer.begin() + std::ptrdiff_t(slot[e] * d));
  comm.allreduce_inplace(buffer.data(), buffer.size(), par::Op::sum);
  return buffer;
}

double squared_distance(const float* a, const float* b, std::int64_t d) {
  double s = 0;
  for (std::int64_t j = 0; j < d; ++j) s += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
  return s;
}

/// Greedy k-means++ (Arthur & Vassilvitskii 2007) on the sample: each new seed is the best of
/// 2 + ln K candidates drawn with probability proportional to D^2. Same on every rank.
std::vector<double> seed_centroids(const std::vector<float>& sample, std::int64_t m, std::int64_t d, int k,
                                   std::uint64_t seed, int restart) {
  std::vector<std::int64_t> chosen;
  chosen.push_back(std::min<std::int64_t>(
      m - 1, std::int64_t(rng::uniform(rng::key(seed, rng::kmeans_first_center, std::uint64_t(restart))) * double(m))));
  std::vector<double> closest(static_cast<std::size_t>(m)), trial(static_cast<std::size_t>(m)), best(static_cast<std::size_t>(m));
  double potential = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    closest[std::size_t(i)] = squared_distance(&sample[std::size_t(i * d)], &sample[std::size_t(chosen[0] * d)], d);
    potential += closest[std::size_t(i)];
  }
  const int trials = 2 + int(std::log(double(k)));
  for (int c = 1; c < k; ++c) {
    std::int64_t best_candidate = -1;
    double best_potential = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      const double u = potential * rng::uniform(rng::key(seed, rng::kmeans_candidate, std::uint64_t(restart),
                                                         std::uint64_t(c) * std::uint64_t(trials) + std::uint64_t(t)));
      std::int64_t candidate = m - 1;
      double cumulative = 0;
      for (std::int64_t i = 0; i < m; ++i) {
        cumulative += closest[std::size_t(i)];
        if (cumulative > u) {
          candidate = i;
          break;
        }
      }
      double p = 0;
      for (std::int64_t i = 0; i < m; ++i) {
        const double dist = squared_distance(&sample[std::size_t(i * d)], &sample[std::size_t(candidate * d)], d);
        trial[std::size_t(i)] = std::min(closest[std::size_t(i)], dist);
        p += trial[std::size_t(i)];
      }
      if (p < best_potential) {
        best_potential = p;
        best_candidate = candidate;
        best.swap(trial);
      }
    }
    chosen.push_back(best_candidate);
    closest.swap(best);
    potential = best_potential;
  }
  std::vector<double> centroids(std::size_t(k * d));
  for (int c = 0; c < k; ++c)
    for (std::int64_t j = 0; j < d; ++j)
      centroids[std::size_t(c * d + j)] = sample[std::size_t(chosen[std::size_t(c)] * d + j)];
  return centroids;
}

/// Per-cluster sums of the rows and counts (column d), over all ranks, in double.
std::vector<double> cluster_sums(const par::Comm& comm, const Matrix& x, const Labels& labels, int k) {
  const std::int64_t n = std::int64_t(x.extent(0)), d = std::int64_t(x.extent(1));
  const int parts = reduction_parts(n);
  Kokkos::View<double***, Kokkos::LayoutRight, MemSpace> partial("tmdflow::cluster::kmeans_sums", parts, k, d + 1);
  Kokkos::parallel_for("tmdflow::cluster::kmeans_sums", Kokkos::RangePolicy<ExecSpace>(0, parts), KOKKOS_LAMBDA(const int p) {
    for (std::int64_t i = part_begin(n, parts, p); i < part_begin(n, parts, p + 1); ++i) {
      const int c = labels(i);
      for (std::int64_t j = 0; j < d; ++j) partial(p, c, j) += double(x(i, j));
      partial(p, c, d) += 1.0;
    }
  });
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), partial);
  std::vector<double> sums(std::size_t(k * (d + 1)), 0.0);
  for (int p = 0; p < parts; ++p)
    for (std::size_t e = 0; e < sums.size(); ++e) sums[e] += host.data()[std::size_t(p) * sums.size() + e];
  comm.allreduce_inplace(sums.data(), sums.size(), par::Op::sum);
  return sums;
}

/// The row farthest from its centroid over all ranks (lowest global index on ties); its distance
/// is set to -1 so that the next empty cluster takes another row.
std::vector<float> farthest_row(const par::Comm& comm, const Matrix& x, std::int64_t first_row,
                                const Distances& distances) {
  const std::int64_t n = std::int64_t(x.extent(0)), d = std::int64_t(x.extent(1));
  auto dist = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), distances);
  double local_max = -1;
  for (std::int64_t i = 0; i < n; ++i) local_max = std::max(local_max, dist(i));
  const double global_max = comm.allreduce(local_max, par::Op::max);
  std::int64_t local_index = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t i = 0; i < n && local_index == std::numeric_limits<std::int64_t>::max(); ++i)
    if (dist(i) == global_max) local_index = first_row + i;
  const std::int64_t index = comm.allreduce(local_index, par::Op::min);
  std::vector<float> row(std::size_t(d), 0.0f);
  if (index >= first_row && index < first_row + n) {
    auto r = Kokkos::subview(x, index - first_row, Kokkos::ALL);
    auto rh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), r);
    for (std::int64_t j = 0; j < d; ++j) row[std::size_t(j)] = rh(j);
    Kokkos::deep_copy(Kokkos::subview(distances, index - first_row), -1.0);
  }
  comm.allreduce_inplace(row.data(), row.size(), par::Op::sum);
  return row;
}

struct Fit {
  Matrix centroids;
  Labels labels;
  double inertia = 0;
  int iterations = 0;
};

Fit lloyd(const par::Comm& comm, const Matrix& x, std::int64_t first_row, const std::vector<double>& seeds, int k,
          const KmeansSpec& spec, double tolerance, const Kokkos::View<float*, MemSpace>& x_norms) {
  const std::int64_t n = std::int64_t(x.extent(0)), d = std::int64_t(x.extent(1));
  Fit fit;
  std::vector<double> centroids = seeds;
  fit.centroids = to_matrix(centroids, k, d, "tmdflow::cluster::kmeans_centroids");
  fit.labels = Labels("tmdflow::cluster::kmeans_labels", n);
  Kokkos::deep_copy(fit.labels, -1);
  Distances distances("tmdflow::cluster::kmeans_distances", n);
  Matrix dots("tmdflow::cluster::kmeans_dots", n, k);
  assign(x, x_norms, fit.centroids, dots, fit.labels, distances);
  for (int it = 1; it <= spec.max_iterations; ++it) {
    const std::vector<double> sums = cluster_sums(comm, x, fit.labels, k);
    std::vector<double> next(centroids.size());
    for (int c = 0; c < k; ++c) {
      const double count = sums[std::size_t(c * (d + 1) + d)];
      if (count > 0) {
        for (std::int64_t j = 0; j < d; ++j) next[std::size_t(c * d + j)] = sums[std::size_t(c * (d + 1) + j)] / count;
      } else {  // an empty cluster restarts at the worst-served row
        const std::vector<float> row = farthest_row(comm, x, first_row, distances);
        for (std::int64_t j = 0; j < d; ++j) next[std::size_t(c * d + j)] = row[std::size_t(j)];
      }
    }
    double shift = 0;
    for (std::size_t e = 0; e < next.size(); ++e) shift += (next[e] - centroids[e]) * (next[e] - centroids[e]);
    centroids.swap(next);
    fit.centroids = to_matrix(centroids, k, d, "tmdflow::cluster::kmeans_centroids");
    const std::int64_t changes = comm.allreduce(assign(x, x_norms, fit.centroids, dots, fit.labels, distances), par::Op::sum);
    fit.iterations = it;
    if (changes == 0 || shift <= tolerance) break;
  }
  double local = 0;
  Kokkos::parallel_reduce(
      "tmdflow::cluster::kmeans_inertia", Kokkos::RangePolicy<ExecSpace>(0, n),
      KOKKOS_LAMBDA(const std::int64_t i, double& s) { s += distances(i); }, local);
  fit.inertia = comm.allreduce(local, par::Op::sum);
  return fit;
}

}  // namespace

void nearest_centroids(const Matrix& x_local, const Matrix& centroids, const Labels& labels,
                       const Kokkos::View<double*, MemSpace>& distances) {
  Matrix dots("tmdflow::cluster::kmeans_dots", x_local.extent(0), centroids.extent(0));
  assign(x_local, row_squared_norms(x_local), centroids, dots, labels, distances);
  Kokkos::fence();
}

KmeansResult kmeans(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, std::int64_t total_rows,
                    const KmeansSpec& spec) {
  const int k = spec.clusters;
  const std::int64_t d = std::int64_t(x_local.extent(1));
  if (k < 1) throw ConfigError("kmeans: clusters must be >= 1, found " + std::to_string(k));
  if (spec.max_iterations < 0 || spec.restarts < 1 || spec.init_sample < 1 || !(spec.tolerance >= 0))
    throw ConfigError("kmeans: need max_iterations >= 0, restarts >= 1, init_sample >= 1 and tolerance >= 0");
  if (total_rows < k)
    throw ConfigError("kmeans: " + std::to_string(k) + " clusters need at least as many rows, found " +
                      std::to_string(total_rows));
  const std::int64_t m = std::max<std::int64_t>(std::min(spec.init_sample, total_rows), k);
  const std::vector<float> sample = sample_rows(comm, x_local, first_row, total_rows, m);

  // scikit-learn's tolerance: relative to the mean per-feature variance of the data.
  const std::vector<double> sums = column_sums(comm, x_local);
  double mean_square = 0;
  for (double s : sums) mean_square += (s / double(total_rows)) * (s / double(total_rows));
  const double variance = d > 0 ? (squared_norm(comm, x_local) / double(total_rows) - mean_square) / double(d) : 0.0;
  const double tolerance = spec.tolerance * std::max(variance, 0.0);

  const auto x_norms = row_squared_norms(x_local);
  Fit best;
  for (int r = 0; r < spec.restarts; ++r) {
    Fit fit = lloyd(comm, x_local, first_row, seed_centroids(sample, m, d, k, spec.seed, r), k, spec, tolerance, x_norms);
    if (r == 0 || fit.inertia < best.inertia) best = fit;
  }
  KmeansResult result;
  result.centroids = best.centroids;
  result.labels = best.labels;
  result.inertia = best.inertia;
  result.iterations = best.iterations;
  result.sizes.assign(std::size_t(k), 0);
  auto lh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), best.labels);
  for (std::size_t i = 0; i < lh.extent(0); ++i) ++result.sizes[std::size_t(lh(i))];
  comm.allreduce_inplace(result.sizes.data(), result.sizes.size(), par::Op::sum);
  return result;
}

}  // namespace tmdflow::cluster
