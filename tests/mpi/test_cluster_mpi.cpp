// The cluster layer across ranks: the same data split unevenly (rank 0 holds only 3 rows; in a
// second split the last rank holds none) must give the fit that one rank computes alone on all
// rows (a Comm of MPI_COMM_SELF), up to the rounding of the reductions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/cluster_data.hpp"
#include "tmdflow/cluster/gmm.hpp"
#include "tmdflow/cluster/kmeans.hpp"
#include "tmdflow/cluster/nmf.hpp"
#include "tmdflow/cluster/pca.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/runtime.hpp"

namespace cl = tmdflow::cluster;
using cl::Matrix;
using namespace tmdflow::testing::cluster_data;

namespace {

const tmdflow::par::Comm& world() { return tmdflow::par::Runtime::world_comm(); }

struct Shard {
  std::int64_t first = 0, rows = 0;
};

enum class Split { few_on_first, none_on_last };

/// This rank's rows: with several ranks, either rank 0 holds 3 rows and the others share the rest,
/// or the last rank holds none.
Shard shard_of(std::int64_t total, Split split) {
  const auto& comm = world();
  if (comm.size() == 1) return {0, total};
  if (split == Split::few_on_first) {
    const std::int64_t few = std::min<std::int64_t>(3, total);
    if (comm.rank() == 0) return {0, few};
    const auto r = tmdflow::par::block_partition(total - few, comm.size() - 1, comm.rank() - 1);
    return {few + r.begin, r.size()};
  }
  if (comm.rank() == comm.size() - 1) return {total, 0};
  const auto r = tmdflow::par::block_partition(total, comm.size() - 1, comm.rank());
  return {r.begin, r.size()};
}

Matrix rows_of(const std::vector<float>& all, std::int64_t d, const Shard& s) {
  return cl::to_matrix(std::vector<float>(all.begin() + s.first * d, all.begin() + (s.first + s.rows) * d), s.rows, d,
                       "tmdflow::test::shard");
}

/// max |reference - got| over got's entries, relative to max |reference|; got starts at entry
/// `offset` of the reference (a shard's rows of a full-data result).
double relative_difference(const std::vector<float>& reference, const std::vector<float>& got, std::int64_t offset = 0) {
  double scale = 0, diff = 0;
  for (float v : reference) scale = std::max(scale, double(std::abs(v)));
  for (std::size_t e = 0; e < got.size(); ++e) diff = std::max(diff, double(std::abs(got[e] - reference[std::size_t(offset) + e])));
  return scale > 0 ? diff / scale : diff;
}

/// Non-negative rank-4 data plus uniform noise (no exact factorisation), 157 x 37.
std::vector<float> nmf_data(std::int64_t n, std::int64_t d) {
  std::vector<float> x(std::size_t(n * d));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j) {
      double s = 0.05 * uniform(50, std::uint64_t(i), std::uint64_t(j));
      for (int c = 0; c < 4; ++c) s += uniform(51, std::uint64_t(i), std::uint64_t(c)) * uniform(52, std::uint64_t(c), std::uint64_t(j));
      x[std::size_t(i * d + j)] = float(s);
    }
  return x;
}

}  // namespace

TEST(ClusterMpi, NmfErrorCurveAndFactorsMatchOneRank) {
  const std::int64_t n = 157, d = 37;
  const auto all = nmf_data(n, d);
  for (auto solver : {cl::NmfSolver::hals, cl::NmfSolver::multiplicative})
    for (auto split : {Split::few_on_first, Split::none_on_last}) {
      cl::NmfSpec spec;
      spec.components = 4;
      spec.solver = solver;
      spec.tolerance = 0;
      spec.max_iterations = 60;
      const Shard s = shard_of(n, split);
      const auto ref = cl::nmf(self(), cl::to_matrix(all, n, d, "all"), 0, spec);
      const auto got = cl::nmf(world(), rows_of(all, d, s), s.first, spec);
      ASSERT_EQ(got.relative_error.size(), ref.relative_error.size());
      for (std::size_t t = 0; t < ref.relative_error.size(); ++t)
        ASSERT_NEAR(got.relative_error[t], ref.relative_error[t], 1e-4 * ref.relative_error[t]) << "iteration " << t + 1;
      EXPECT_LT(relative_difference(cl::to_host(ref.components), cl::to_host(got.components)), 1e-4);
      EXPECT_LT(relative_difference(cl::to_host(ref.loadings), cl::to_host(got.loadings), s.first * spec.components), 1e-4);
    }
}

TEST(ClusterMpi, NmfRejectsANegativeValueHeldByOneRankOnEveryRank) {
  const std::int64_t n = 20, d = 5;
  auto all = nmf_data(n, d);
  all.back() = -2.0f;  // in the last rank's rows
  const Shard s = shard_of(n, Split::few_on_first);
  EXPECT_THROW(cl::nmf(world(), rows_of(all, d, s), s.first, cl::NmfSpec{}), tmdflow::ConfigError);
}

TEST(ClusterMpi, PcaMatchesOneRank) {
  const std::int64_t n = 211, d = 23;
  std::vector<float> all(std::size_t(n * d));
  for (std::int64_t i = 0; i < n; ++i)  // correlated columns with distinct variances
    for (std::int64_t j = 0; j < d; ++j)
      all[std::size_t(i * d + j)] = float(5 + (j + 1) * normal(60, std::uint64_t(i), std::uint64_t(j)) + 3 * normal(61, std::uint64_t(i)));
  const Shard s = shard_of(n, Split::few_on_first);
  const auto ref = cl::pca(self(), cl::to_matrix(all, n, d, "all"), 4);
  const auto got = cl::pca(world(), rows_of(all, d, s), 4);
  for (std::int64_t k = 0; k < d; ++k) EXPECT_NEAR(got.eigenvalues[std::size_t(k)], ref.eigenvalues[std::size_t(k)], 1e-9 * ref.eigenvalues[0]);
  for (std::int64_t j = 0; j < d; ++j) EXPECT_NEAR(got.mean[std::size_t(j)], ref.mean[std::size_t(j)], 1e-9);
  EXPECT_LT(relative_difference(cl::to_host(ref.components), cl::to_host(got.components)), 1e-5);
  EXPECT_LT(relative_difference(cl::to_host(ref.scores), cl::to_host(got.scores), s.first * 4), 1e-5);
  EXPECT_EQ(cl::marchenko_pastur_rank(got.eigenvalues, n, d), cl::marchenko_pastur_rank(ref.eigenvalues, n, d));
}

TEST(ClusterMpi, KmeansLabelsMatchOneRank) {
  std::vector<std::vector<double>> centres;
  for (int c = 0; c < 5; ++c) centres.push_back({3.0 * c, 2.0 * (c % 2), -1.0 * c, 0.5, 4.0 * (c == 2)});
  const Blobs b = blobs(centres, {40, 70, 30, 55, 48}, 0.6, 70);
  for (auto split : {Split::few_on_first, Split::none_on_last}) {
    cl::KmeansSpec spec;
    spec.clusters = 5;
    spec.init_sample = 64;
    spec.restarts = 2;
    const Shard s = shard_of(b.n, split);
    const auto ref = cl::kmeans(self(), cl::to_matrix(b.x, b.n, 5, "all"), 0, b.n, spec);
    const auto got = cl::kmeans(world(), rows_of(b.x, 5, s), s.first, b.n, spec);
    const auto ref_labels = host_labels(ref.labels);
    EXPECT_EQ(host_labels(got.labels), std::vector<int>(ref_labels.begin() + s.first, ref_labels.begin() + s.first + s.rows));
    EXPECT_EQ(got.sizes, ref.sizes);
    EXPECT_EQ(got.iterations, ref.iterations);
    EXPECT_NEAR(got.inertia, ref.inertia, 1e-9 * ref.inertia);
    EXPECT_LT(relative_difference(cl::to_host(ref.centroids), cl::to_host(got.centroids)), 1e-6);
  }
}

TEST(ClusterMpi, GmmLabelsMatchOneRank) {
  std::vector<std::vector<double>> centres{{0, 0, 0}, {4, 0, 1}, {0, 4, -1}};
  const Blobs b = blobs(centres, {120, 90, 60}, 1.0, 80);
  for (auto covariance : {cl::Covariance::full, cl::Covariance::diagonal}) {
    cl::GmmSpec spec;
    spec.components = 3;
    spec.covariance = covariance;
    const Shard s = shard_of(b.n, Split::few_on_first);
    const auto ref = cl::gmm(self(), cl::to_matrix(b.x, b.n, 3, "all"), 0, b.n, spec);
    const auto got = cl::gmm(world(), rows_of(b.x, 3, s), s.first, b.n, spec);
    const auto ref_labels = host_labels(ref.labels);
    EXPECT_EQ(host_labels(got.labels), std::vector<int>(ref_labels.begin() + s.first, ref_labels.begin() + s.first + s.rows));
    EXPECT_EQ(got.iterations, ref.iterations);
    EXPECT_NEAR(got.log_likelihood, ref.log_likelihood, 1e-9 * std::abs(ref.log_likelihood));
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(got.weights[std::size_t(c)], ref.weights[std::size_t(c)], 1e-9);
    EXPECT_LT(relative_difference(cl::to_host(ref.responsibilities), cl::to_host(got.responsibilities), s.first * 3), 1e-5);
  }
}
