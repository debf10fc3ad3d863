#pragma once
// k-means of row-sharded data: k-means++ seeding on a deterministic sample of rows, then Lloyd
// iterations with allreduced per-cluster sums and counts.
#include <cstdint>
#include <vector>

#include "tmdflow/cluster/matrix.hpp"

namespace tmdflow::cluster {

struct KmeansSpec {
  int clusters = 8;
  int max_iterations = 100;
  /// Stop when no label changes, or when the summed squared centroid shift is at most
  /// tolerance * (mean per-feature variance of the data), scikit-learn's scale-free rule.
  double tolerance = 1e-6;
  std::uint64_t seed = 1;
  /// Rows (spread evenly over the global index range) on which k-means++ chooses the seeds.
  std::int64_t init_sample = 4096;
  /// Independent seedings (keyed by seed and restart); the fit of lowest inertia is kept.
  int restarts = 1;
};

struct KmeansResult {
  Matrix centroids;  // K x d, identical on all ranks
  Labels labels;     // n_local: index of the nearest centroid (lowest index on ties)
  std::vector<std::int64_t> sizes;  // K, global
  double inertia = 0;               // global sum of squared distances to the nearest centroid
  int iterations = 0;               // Lloyd iterations of the kept restart
};

/// Collective. Seeding: greedy k-means++ (Arthur & Vassilvitskii 2007; 2 + ln K candidates per
/// step as in scikit-learn) on the sample rows floor(s * total_rows / m), s < m = min(init_sample,
/// total_rows), each random choice keyed by (seed, restart, step). A cluster left empty is
/// re-seeded at the row farthest from its centroid (lowest global index on ties).
KmeansResult kmeans(const par::Comm& comm, const Matrix& x_local, std::int64_t first_row, std::int64_t total_rows,
                    const KmeansSpec& spec);

/// Labels of the nearest centroid of each local row (lowest index on ties) and each row's squared
/// distance to it. Kernel "tmdflow::cluster::nearest_centroid".
void nearest_centroids(const Matrix& x_local, const Matrix& centroids, const Labels& labels,
                       const Kokkos::View<double*, MemSpace>& distances);

}  // namespace tmdflow::cluster
