// The partitioning side of the cluster layer on one rank: k-means and Gaussian mixtures on data
// with known groups, agglomeration against scipy's linkage (checked by hand), and the
// rotation-aware match of azimuthal profiles against a known sub-bin rotation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/cluster_data.hpp"
#include "tmdflow/cluster/gmm.hpp"
#include "tmdflow/cluster/hierarchical.hpp"
#include "tmdflow/cluster/kmeans.hpp"
#include "tmdflow/core/error.hpp"

namespace cl = tmdflow::cluster;
using cl::Matrix;
using namespace tmdflow::testing::cluster_data;

// --- k-means ------------------------------------------------------------------------------

TEST(Kmeans, RecoversWellSeparatedBlobsExactly) {
  std::vector<std::vector<double>> centres(4, std::vector<double>(11, 0.0));
  for (int c = 0; c < 4; ++c) centres[std::size_t(c)][std::size_t(c * 2)] = 10, centres[std::size_t(c)][10] = c;
  const Blobs b = blobs(centres, {50, 120, 80, 200}, 1.0, 21);
  cl::KmeansSpec spec;
  spec.clusters = 4;
  spec.init_sample = 100;  // seeds from a sample smaller than the data
  const auto fit = cl::kmeans(self(), cl::to_matrix(b.x, b.n, 11, "x"), 0, b.n, spec);
  EXPECT_TRUE(same_partition(host_labels(fit.labels), b.truth));
  auto sizes = fit.sizes;
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{50, 80, 120, 200}));
  EXPECT_NEAR(fit.inertia, double(b.n) * 11, 0.05 * double(b.n) * 11);  // sigma^2 per column
  EXPECT_GE(fit.iterations, 1);
  // Every centroid is the mean of its rows.
  const auto c = cl::to_host(fit.centroids);
  const auto labels = host_labels(fit.labels);
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 11; ++j) {
      double s = 0;
      int count = 0;
      for (std::int64_t i = 0; i < b.n; ++i)
        if (labels[std::size_t(i)] == k) s += b.x[std::size_t(i * 11 + j)], ++count;
      EXPECT_NEAR(c[std::size_t(k * 11 + j)], s / count, 1e-4);
    }
}

TEST(Kmeans, MoreRestartsNeverRaiseTheInertia) {
  std::vector<std::vector<double>> centres{{0, 0}, {3, 0}, {0, 3}, {3, 3}, {1.5, 1.5}};
  const Blobs b = blobs(centres, {60, 60, 60, 60, 60}, 0.8, 22);
  cl::KmeansSpec spec;
  spec.clusters = 5;
  const Matrix x = cl::to_matrix(b.x, b.n, 2, "x");
  const double one = cl::kmeans(self(), x, 0, b.n, spec).inertia;
  spec.restarts = 4;
  EXPECT_LE(cl::kmeans(self(), x, 0, b.n, spec).inertia, one);
}

TEST(Kmeans, TiesGoToTheLowestIndexAndDuplicatesLeaveAnEmptyCluster) {
  const Matrix centroids = cl::to_matrix(std::vector<float>{0, 0, 1, 0, 0, 0}, 3, 2, "c");
  const Matrix x = cl::to_matrix(std::vector<float>{0.5f, 0, 1, 0, 0, 0}, 3, 2, "x");
  cl::Labels labels("labels", 3);
  Kokkos::View<double*, cl::MemSpace> dist("dist", 3);
  cl::nearest_centroids(x, centroids, labels, dist);
  EXPECT_EQ(host_labels(labels), (std::vector<int>{0, 1, 0}));
  EXPECT_DOUBLE_EQ(dist(0), 0.25);
  // Three distinct points, four clusters: the fourth stays empty, nothing is NaN.
  std::vector<float> v;
  for (int i = 0; i < 30; ++i) v.insert(v.end(), {float(i % 3), float(2 * (i % 3))});
  cl::KmeansSpec spec;
  spec.clusters = 4;
  const auto fit = cl::kmeans(self(), cl::to_matrix(v, 30, 2, "x"), 0, 30, spec);
  EXPECT_EQ(fit.inertia, 0.0);
  auto sizes = fit.sizes;
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::int64_t>{0, 10, 10, 10}));
  std::vector<int> truth;
  for (int i = 0; i < 30; ++i) truth.push_back(i % 3);
  EXPECT_TRUE(same_partition(host_labels(fit.labels), truth));
  EXPECT_THROW(cl::kmeans(self(), cl::to_matrix(v, 30, 2, "x"), 0, 30, cl::KmeansSpec{40}), tmdflow::ConfigError);
}

// --- Gaussian mixtures --------------------------------------------------------------------

namespace {
/// Three 2-D Gaussians of weights 0.5, 0.3, 0.2 with different covariances (x = mean + L z).
struct Mixture {
  std::vector<float> x;
  std::vector<int> truth;
  std::int64_t n = 6000;
};
const double kMeans[3][2] = {{0, 0}, {6, 0}, {0, 6}};
const double kChol[3][3] = {{1, 0, 0.5}, {1.4142135623730951, 0.565685424949238, 0.8246211251235321}, {0.7071067811865476, 0, 0.7071067811865476}};
const double kCov[3][3] = {{1, 0, 0.25}, {2, 0.8, 1}, {0.5, 0, 0.5}};  // xx, xy, yy
Mixture mixture() {
  Mixture m;
  for (std::int64_t i = 0; i < m.n; ++i) {
    const int c = i % 10 < 5 ? 0 : i % 10 < 8 ? 1 : 2;
    const double z0 = normal(31, std::uint64_t(i), 0), z1 = normal(31, std::uint64_t(i), 1);
    m.x.push_back(float(kMeans[c][0] + kChol[c][0] * z0));
    m.x.push_back(float(kMeans[c][1] + kChol[c][1] * z0 + kChol[c][2] * z1));
    m.truth.push_back(c);
  }
  return m;
}
/// The fitted component nearest to true mean c.
int component_near(const std::vector<float>& means, int k, int c) {
  int best = 0;
  double best_d = 1e300;
  for (int q = 0; q < k; ++q) {
    const double d = std::hypot(means[std::size_t(2 * q)] - kMeans[c][0], means[std::size_t(2 * q + 1)] - kMeans[c][1]);
    if (d < best_d) best = q, best_d = d;
  }
  return best;
}
}  // namespace

TEST(Gmm, RecoversMeansWeightsAndCovariancesOfAMixture) {
  const Mixture m = mixture();
  cl::GmmSpec spec;
  spec.components = 3;
  const auto fit = cl::gmm(self(), cl::to_matrix(m.x, m.n, 2, "x"), 0, m.n, spec);
  const auto means = cl::to_host(fit.means);
  const double weights[3] = {0.5, 0.3, 0.2};
  for (int c = 0; c < 3; ++c) {
    const int q = component_near(means, 3, c);
    EXPECT_NEAR(means[std::size_t(2 * q)], kMeans[c][0], 0.1);
    EXPECT_NEAR(means[std::size_t(2 * q + 1)], kMeans[c][1], 0.1);
    EXPECT_NEAR(fit.weights[std::size_t(q)], weights[c], 0.01);
    const auto& cov = fit.covariances[std::size_t(q)];
    ASSERT_EQ(cov.size(), 4u);
    EXPECT_NEAR(cov[0], kCov[c][0], 0.1 * kCov[c][0]);
    EXPECT_NEAR(cov[1], kCov[c][1], 0.1);
    EXPECT_DOUBLE_EQ(cov[1], cov[2]);
    EXPECT_NEAR(cov[3], kCov[c][2], 0.1 * kCov[c][2]);
  }
  const auto labels = host_labels(fit.labels);
  int agree = 0;
  for (std::int64_t i = 0; i < m.n; ++i) agree += labels[std::size_t(i)] == component_near(means, 3, m.truth[std::size_t(i)]);
  EXPECT_GT(agree, 0.99 * double(m.n));
  const auto resp = cl::to_host(fit.responsibilities);
  for (std::int64_t i = 0; i < m.n; i += 97) EXPECT_NEAR(resp[std::size_t(3 * i)] + resp[std::size_t(3 * i + 1)] + resp[std::size_t(3 * i + 2)], 1.0, 1e-5);
  EXPECT_TRUE(std::isfinite(fit.log_likelihood));
  EXPECT_NEAR(fit.bic, -2 * fit.log_likelihood * double(m.n) + 17 * std::log(double(m.n)), 1e-6 * std::abs(fit.bic));
}

TEST(Gmm, DiagonalCovariancesAreTheMarginalVariances) {
  const Mixture m = mixture();
  cl::GmmSpec spec;
  spec.components = 3;
  spec.covariance = cl::Covariance::diagonal;
  const auto fit = cl::gmm(self(), cl::to_matrix(m.x, m.n, 2, "x"), 0, m.n, spec);
  const auto means = cl::to_host(fit.means);
  for (int c = 0; c < 3; ++c) {
    const auto& var = fit.covariances[std::size_t(component_near(means, 3, c))];
    ASSERT_EQ(var.size(), 2u);
    EXPECT_NEAR(var[0], kCov[c][0], 0.1 * kCov[c][0]);
    EXPECT_NEAR(var[1], kCov[c][2], 0.1 * kCov[c][2]);
  }
}

TEST(Gmm, SelectionByBicPicksTheTrueNumberOfComponents) {
  const Mixture m = mixture();
  const auto best = cl::gmm_select(self(), cl::to_matrix(m.x, m.n, 2, "x"), 0, m.n, cl::GmmSpec{}, 1, 5);
  EXPECT_EQ(best.weights.size(), 3u);
  for (int k : {2, 4}) {
    cl::GmmSpec spec;
    spec.components = k;
    EXPECT_GT(cl::gmm(self(), cl::to_matrix(m.x, m.n, 2, "x"), 0, m.n, spec).bic, best.bic) << k << " components";
  }
}

// --- hierarchical -------------------------------------------------------------------------

namespace {
/// |p_i - p_j| of points on a line.
std::vector<double> line_distances(const std::vector<double>& p) {
  std::vector<double> d;
  for (double a : p)
    for (double b : p) d.push_back(std::abs(a - b));
  return d;
}
void expect_merges(const cl::Dendrogram& d, const std::vector<cl::Merge>& want) {
  ASSERT_EQ(d.merges.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(d.merges[i].a, want[i].a) << "merge " << i;
    EXPECT_EQ(d.merges[i].b, want[i].b) << "merge " << i;
    EXPECT_NEAR(d.merges[i].distance, want[i].distance, 1e-12) << "merge " << i;
    EXPECT_EQ(d.merges[i].size, want[i].size) << "merge " << i;
  }
}
}  // namespace

TEST(Hierarchical, LinkagesMatchAHandCheckedExample) {
  // Points 0, 1, 3.3, 7, 11 (the same Z as scipy.cluster.hierarchy.linkage gives).
  const auto dist = line_distances({0, 1, 3.3, 7, 11});
  expect_merges(cl::agglomerate(dist, 5, cl::Linkage::single), {{0, 1, 1, 2}, {2, 5, 2.3, 3}, {3, 6, 3.7, 4}, {4, 7, 4, 5}});
  expect_merges(cl::agglomerate(dist, 5, cl::Linkage::complete), {{0, 1, 1, 2}, {2, 5, 3.3, 3}, {3, 4, 4, 2}, {6, 7, 11, 5}});
  expect_merges(cl::agglomerate(dist, 5, cl::Linkage::average),
                {{0, 1, 1, 2}, {2, 5, 2.8, 3}, {3, 4, 4, 2}, {6, 7, 45.4 / 6, 5}});
}

TEST(Hierarchical, CutsNumberClustersByTheirFirstLeaf) {
  const auto single = cl::agglomerate(line_distances({0, 1, 3.3, 7, 11}), 5, cl::Linkage::single);
  EXPECT_EQ(cl::cut_at_distance(single, 3.0), (std::vector<int>{0, 0, 0, 1, 2}));
  EXPECT_EQ(cl::cut_at_distance(single, 0.5), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(cl::cut_at_distance(single, 4.0), (std::vector<int>{0, 0, 0, 0, 0}));
  // The same points in another order: leaf 0 is 7, so {7, 11} is cluster 0.
  const auto complete = cl::agglomerate(line_distances({7, 0, 11, 1, 3.3}), 5, cl::Linkage::complete);
  EXPECT_EQ(cl::cut_to_clusters(complete, 2), (std::vector<int>{0, 1, 0, 1, 1}));
  EXPECT_EQ(cl::cut_to_clusters(complete, 3), (std::vector<int>{0, 1, 2, 1, 1}));
  EXPECT_EQ(cl::cut_to_clusters(complete, 5), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(cl::cut_to_clusters(complete, 1), (std::vector<int>{0, 0, 0, 0, 0}));
  EXPECT_THROW(cl::cut_to_clusters(complete, 6), tmdflow::ConfigError);
  EXPECT_THROW(cl::agglomerate({0, 1, 1}, 2, cl::Linkage::single), tmdflow::ConfigError);
}

// --- azimuthal profiles -------------------------------------------------------------------

namespace {
/// Three rings of circular Gaussian peaks (widths 3, 4, 5 bins) centred `shift` bins further on.
std::vector<float> peaks(int bins, double shift) {
  std::vector<float> p;
  const double centre[3] = {10, 30, 50}, width[3] = {3, 4, 5}, height[3] = {1, 0.5, 0.8};
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < bins; ++i) {
      double v = 0.1;
      for (int wrap = -2; wrap <= 2; ++wrap) {
        const double t = (i - centre[r] - shift + wrap * bins) / width[r];
        v += height[r] * std::exp(-0.5 * t * t);
      }
      p.push_back(float(v));
    }
  return p;
}
}  // namespace

TEST(Azimuthal, RecoversASubBinRotation) {
  const int bins = 72;
  const auto b = peaks(bins, 0);
  for (double shift : {3.3, -17.6, 0.45}) {
    const auto a = peaks(bins, shift);
    const auto m = cl::azimuthal_cross_correlation(a.data(), b.data(), 3, bins);
    EXPECT_NEAR(m.shift_bins, shift, 0.1) << shift;
    EXPECT_GT(m.correlation, 0.98) << shift;
  }
  // Limited to |s| <= 2: the best allowed shift is 2, refined by at most half a bin towards 3.3.
  const auto a = peaks(bins, 3.3);
  const auto limited = cl::azimuthal_cross_correlation(a.data(), b.data(), 3, bins, 2);
  EXPECT_GE(limited.shift_bins, 2.0);
  EXPECT_LE(limited.shift_bins, 2.5);
  EXPECT_LT(limited.correlation, cl::azimuthal_cross_correlation(a.data(), b.data(), 3, bins).correlation);
  const std::vector<float> flat(std::size_t(3 * bins), 1.0f);
  EXPECT_EQ(cl::azimuthal_cross_correlation(a.data(), flat.data(), 3, bins).correlation, 0.0);
}
