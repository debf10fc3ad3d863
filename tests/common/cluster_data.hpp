#pragma once
// Test data for the cluster layer: counter-based draws (the same values whichever rank makes
// them), Gaussian blobs, and comparisons of partitions up to a renaming of the labels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include "tmdflow/cluster/matrix.hpp"
#include "tmdflow/cluster/random.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::testing::cluster_data {

/// A communicator of this rank alone: the single-rank reference of every distributed fit.
/// A new one per call, freed with the expression that uses it: a static would be destroyed after
/// MPI_Finalize, when its communicator can no longer be freed (a leak under LeakSanitizer).
inline par::Comm self() { return par::Comm(MPI_COMM_SELF); }

inline double uniform(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  return cluster::rng::uniform(cluster::rng::key(seed, a, b));
}
/// Standard normal (Box-Muller) keyed like `uniform`.
inline double normal(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  const double u1 = std::max(uniform(seed, a, 2 * b), 1e-300), u2 = uniform(seed, a, 2 * b + 1);
  return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}
inline std::vector<float> uniform_values(std::size_t n, std::uint64_t seed, double lo = -1, double hi = 1) {
  std::vector<float> v(n);
  for (std::size_t e = 0; e < n; ++e) v[e] = float(lo + (hi - lo) * uniform(seed, e));
  return v;
}

/// Same partition up to a renaming of the labels.
inline bool same_partition(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.size() != b.size()) return false;
  std::map<int, int> ab, ba;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ab.emplace(a[i], b[i]).first->second != b[i]) return false;
    if (ba.emplace(b[i], a[i]).first->second != a[i]) return false;
  }
  return true;
}

inline std::vector<int> host_labels(const cluster::Labels& l) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), l);
  return std::vector<int>(h.data(), h.data() + h.size());
}

/// Gaussian blobs: row i belongs to blob truth[i] (blobs interleaved) and is its centre plus
/// N(0, sigma^2) noise in every column.
struct Blobs {
  std::vector<float> x;
  std::vector<int> truth;
  std::int64_t n = 0;
};
inline Blobs blobs(const std::vector<std::vector<double>>& centres, const std::vector<int>& sizes, double sigma,
                   std::uint64_t seed) {
  Blobs b;
  const std::size_t d = centres[0].size();
  for (int s : sizes) b.n += s;
  std::vector<int> left(sizes);
  for (std::int64_t i = 0; i < b.n; ++i) {
    std::size_t c = std::size_t(i) % sizes.size();
    while (left[c] == 0) c = (c + 1) % sizes.size();
    --left[c];
    b.truth.push_back(int(c));
    for (std::size_t j = 0; j < d; ++j) b.x.push_back(float(centres[c][j] + sigma * normal(seed, std::uint64_t(i), j)));
  }
  return b;
}

}  // namespace tmdflow::testing::cluster_data
