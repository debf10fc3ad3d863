// Unstable sites of an image stack (analysis/atoms/instability.hpp, issue #17): planted latent
// trajectories -- stable sites jittering with noise, unstable ones jumping between two states --
// come out as the tracks of high instability, with their class changes counted; the density map
// integrates to the number of points; single linkage groups what is within reach and nothing else.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tmdflow/analysis/atoms/instability.hpp"
#include "tmdflow/core/error.hpp"

using namespace tmdflow;
using namespace tmdflow::analysis::atoms;

TEST(Instability, JumpingSitesStandOutOfJitteringOnes) {
  const int dim = 4, frames = 10, tracks = 200;
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0, 0.1f);
  std::vector<std::int64_t> track, frame;
  std::vector<int> cls;
  std::vector<float> z;
  for (int t = 0; t < tracks; ++t) {
    const bool jumps = t % 20 == 7;  // 10 unstable sites
    for (int f = 0; f < frames; ++f) {
      if (t == 5 && f > 0) break;  // a site seen once
      track.push_back(t), frame.push_back(f);
      const bool state = jumps && f % 2 == 1;
      cls.push_back(state ? 6 : 3);
      for (int k = 0; k < dim; ++k) z.push_back(noise(rng) + (state ? 2.0f : 0.0f));
    }
  }
  const TrackInstability r = track_instability(track, frame, cls, z, dim, tracks);
  ASSERT_EQ(r.instability.size(), std::size_t(tracks));
  EXPECT_TRUE(std::isnan(r.instability[5])) << "a site seen once has no instability";
  // A site that changes once and stays changed scores as high as one that keeps hopping.
  {
    std::vector<std::int64_t> tr, fr;
    std::vector<int> cl;
    std::vector<float> zz;
    for (int t = 0; t < 60; ++t)
      for (int f = 0; f < frames; ++f) {
        tr.push_back(t), fr.push_back(f), cl.push_back(3);
        const bool changed = t == 0 && f >= 6;
        for (int k = 0; k < dim; ++k) zz.push_back(noise(rng) + (changed ? 1.0f : 0.0f));
      }
    const TrackInstability once = track_instability(tr, fr, cl, zz, dim, 60);
    for (int t = 1; t < 60; ++t) EXPECT_GT(once.instability[0], once.instability[std::size_t(t)] + 3) << "track " << t;
    // Observations marked unusable are left out: the changed ones here, so nothing changes.
    std::vector<char> usable(tr.size(), 1);
    for (std::size_t i = 0; i < tr.size(); ++i) usable[i] = !(tr[i] == 0 && fr[i] >= 6);
    const TrackInstability masked = track_instability(tr, fr, cl, zz, dim, 60, usable);
    EXPECT_EQ(masked.observations[0], 6);
    EXPECT_LT(masked.instability[0], 4);
  }
  EXPECT_EQ(r.observations[5], 1);
  int flagged = 0, right = 0;
  for (int t = 0; t < tracks; ++t) {
    if (t == 5) continue;
    const bool jumps = t % 20 == 7;
    const bool high = r.instability[std::size_t(t)] > 5;  // the stage's default threshold
    flagged += high;
    right += high && jumps;
    EXPECT_EQ(r.class_changes[std::size_t(t)], jumps ? frames - 1 : 0);
  }
  EXPECT_EQ(right, 10);
  EXPECT_EQ(flagged, 10);
  // The median track scores about 0.56 (the larger of two robust z-scores).
  std::vector<double> v;
  for (double x : r.instability)
    if (!std::isnan(x)) v.push_back(x);
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
  EXPECT_GT(v[v.size() / 2], 0.2);  // the larger of two robust z-scores of a typical site: about 0.56
  EXPECT_LT(v[v.size() / 2], 0.9);
  EXPECT_THROW(track_instability({0}, {0, 1}, {0}, {0.f}, 1, 1), ConfigError);
  EXPECT_THROW(track_instability({3}, {0}, {0}, {0.f}, 1, 2), ConfigError);
}

TEST(Instability, DensityIntegratesToThePointsAndClustersLink) {
  std::int64_t ny = 0, nx = 0;
  const std::vector<double> x = {50, 52, 150, 30}, y = {50, 51, 150, 170};
  const auto d = point_density(x, y, 200, 200, 6, 1, ny, nx);
  ASSERT_EQ(ny, 200);
  ASSERT_EQ(nx, 200);
  double total = 0;
  for (float v : d) total += v;
  EXPECT_NEAR(total, 4.0, 0.01) << "unit mass per point (step 1 pixel)";
  EXPECT_GT(d[std::size_t(50 * nx + 51)], d[std::size_t(150 * nx + 150)]) << "two points are denser than one";
  const auto labels = single_linkage(x, y, 5);
  EXPECT_EQ(labels, (std::vector<std::int64_t>{0, 0, 1, 2}));
  const auto chain = single_linkage({0, 4, 8, 12, 30}, {0, 0, 0, 0, 0}, 4.5);
  EXPECT_EQ(chain, (std::vector<std::int64_t>{0, 0, 0, 0, 1})) << "single linkage chains";
  EXPECT_THROW(single_linkage({0}, {0}, 0), ConfigError);
}

TEST(Instability, UnstableSitesFromTracksWithDensityAndClusters) {
  TrackInstability ti;
  ti.instability = {0.1, 7.0, std::nan(""), 0.3, 6.0};
  ti.class_changes = {0, 0, 0, 2, 0};
  // Two observations per track, at (10 k, 0) and (10 k + 2, 0): mean (10 k + 1, 0).
  std::vector<std::int64_t> track;
  std::vector<double> x, y;
  for (std::int64_t k = 0; k < 5; ++k)
    for (int o = 0; o < 2; ++o) track.push_back(k), x.push_back(10.0 * double(k) + 2 * o), y.push_back(50);
  UnstableSpec spec;
  spec.threshold = 5, spec.min_class_changes = 1, spec.height_px = 100, spec.width_px = 100, spec.sigma_px = 3, spec.step_px = 1, spec.cluster_px = 15;
  const UnstableSites u = unstable_sites(ti, track, x, y, spec);
  EXPECT_EQ(u.unstable, (std::vector<char>{0, 1, 0, 1, 1})) << "by instability (1, 4) or by class changes (3); NaN is stable";
  EXPECT_EQ(u.count, 3);
  EXPECT_EQ(u.cluster, (std::vector<std::int64_t>{-1, 0, -1, 1, 1})) << "31 and 41 link within 15, 11 stands alone";
  EXPECT_EQ(u.clusters, 2);
  double total = 0;
  for (float v : u.density) total += v;
  EXPECT_NEAR(total, 3.0, 0.02);
  EXPECT_GT(u.density[std::size_t(50 * u.nx + 11)], u.density[std::size_t(50 * u.nx + 21)]) << "the density peaks at the unstable site, not at the stable one";
  spec.min_class_changes = 0;
  EXPECT_EQ(unstable_sites(ti, track, x, y, spec).unstable, (std::vector<char>{0, 1, 0, 0, 1}));
  EXPECT_THROW(unstable_sites(ti, {7}, {0}, {0}, spec), ConfigError);
}
