// Diffraction features and the polarity cut on synthetic inputs with known answers.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tmdflow/analysis/diffraction.hpp"
#include "tmdflow/analysis/domains.hpp"
#include "tmdflow/core/units.hpp"

namespace a = tmdflow::analysis;

namespace {
using tmdflow::units::pi;

/// A nanobeam-like pattern: a disc at (cx, cy), six {100} spots at t + 60 n with intensities
/// (1 +- asym) alternating (even n brighter for asym > 0), six {110} spots at t + 30 + 60 n, and
/// six weaker {200} spots at 2 r1, t + 60 n, with intensities (1 +- asym200).
std::vector<float> pattern(int size, double cx, double cy, double r1, double t, double asym, double asym200 = 0) {
  std::vector<float> p(std::size_t(size * size), 0.0f);
  auto blob = [&](double x0, double y0, double amp, double sigma) {
    for (int i = 0; i < size; ++i)
      for (int j = 0; j < size; ++j)
        p[std::size_t(i * size + j)] += float(amp * std::exp(-0.5 * ((j - x0) * (j - x0) + (i - y0) * (i - y0)) / (sigma * sigma)));
  };
  blob(cx, cy, 500.0, 2.0);
  for (int n = 0; n < 6; ++n) {
    const double a1 = (t + 60.0 * n) * pi / 180.0, a2 = (t + 30.0 + 60.0 * n) * pi / 180.0;
    blob(cx + r1 * std::cos(a1), cy + r1 * std::sin(a1), 20.0 * (n % 2 == 0 ? 1 + asym : 1 - asym), 1.5);
    blob(cx + std::sqrt(3.0) * r1 * std::cos(a2), cy + std::sqrt(3.0) * r1 * std::sin(a2), 10.0, 1.5);
    blob(cx + 2 * r1 * std::cos(a1), cy + 2 * r1 * std::sin(a1), 4.0 * (n % 2 == 0 ? 1 + asym200 : 1 - asym200), 1.5);
  }
  return p;
}

}  // namespace

TEST(Diffraction, GeometryTwistAndAsymmetryOfASyntheticPattern) {
  const int size = 96;
  const double r1 = 20.0, t = 17.3, asym = 0.2;
  const auto p = pattern(size, 48.0, 48.0, r1, t, asym);
  const auto g0 = a::find_geometry(p, size, size, "synthetic");
  EXPECT_NEAR(g0.centre_x, 48.0, 0.05);
  EXPECT_NEAR(g0.ring_radius[0], r1, 0.5);
  EXPECT_NEAR(g0.ring_radius[1], std::sqrt(3.0) * r1, 0.7);
  // The same pattern moved by a descan of (2.6, -1.7) px: the features about that centre.
  const auto f = a::features_of_pattern(pattern(size, 50.6, 46.3, r1, t, asym), size, size, g0, 50.6, 46.3);
  EXPECT_NEAR(f.twist_deg, t, 0.05);
  // Spots hold their area: the asymmetry of the sums is the planted one (Gaussian tails clipped).
  EXPECT_NEAR(f.asymmetry, asym, 0.02);
  EXPECT_NEAR(f.measured_x, 50.6, 0.05);
  EXPECT_NEAR(f.measured_y, 46.3, 0.05);
  // The other polarity (rotated by 60 degrees): same twist, opposite asymmetry.
  const auto inverted = a::features_of_pattern(pattern(size, 50.6, 46.3, r1, t + 60.0, asym), size, size, g0, 50.6, 46.3);
  EXPECT_NEAR(inverted.twist_deg, t, 0.05);
  EXPECT_NEAR(inverted.asymmetry, -asym, 0.02);
}

TEST(Diffraction, TheSecondOrderRingAndItsAsymmetryWhenItFits) {
  const int size = 96;
  const double t = 41.2, asym = 0.1, asym200 = -0.25;
  // r1 = 19: the {200} ring (38 px, plus the band's half-width) fits inside the 47 px to the edge.
  const auto g = a::find_geometry(pattern(size, 48.0, 48.0, 19.0, t, asym, asym200), size, size, "synthetic");
  ASSERT_EQ(g.rings, 3);
  EXPECT_DOUBLE_EQ(g.ring_radius[2], 2 * g.ring_radius[0]);
  EXPECT_NEAR(g.spot_halfwidth(2), 0.5 * g.spot_halfwidth_deg, 1e-12);
  const auto f = a::features_of_pattern(pattern(size, 49.2, 47.1, 19.0, t, asym, asym200), size, size, g, 49.2, 47.1);
  EXPECT_NEAR(f.twist_deg, t, 0.05);
  EXPECT_NEAR(f.asymmetry, asym, 0.02);
  EXPECT_NEAR(f.asymmetry_200, asym200, 0.03);
  const auto inverted = a::features_of_pattern(pattern(size, 49.2, 47.1, 19.0, t + 60.0, asym, asym200), size, size, g, 49.2, 47.1);
  EXPECT_NEAR(inverted.asymmetry_200, -asym200, 0.03);
  // r1 = 22.5: 45 px plus the band leaves the detector; only {100} and {110} are sampled.
  const auto g2 = a::find_geometry(pattern(size, 48.0, 48.0, 22.5, t, asym, asym200), size, size, "synthetic");
  EXPECT_EQ(g2.rings, 2);
  EXPECT_EQ(a::features_of_pattern(pattern(size, 48.0, 48.0, 22.5, t, asym, asym200), size, size, g2, 48.0, 48.0).asymmetry_200, 0.0);
}

TEST(Diffraction, NoRingIsAClearError) {
  std::vector<float> flat(64 * 64, 1.0f);
  flat[32 * 64 + 32] = 100.0f;
  try {
    a::find_geometry(flat, 64, 64, "cube.h5:/data");
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("cube.h5:/data"), std::string::npos) << e.what();
  }
}

TEST(Diffraction, DescanFitRecoversAPlantedQuadraticDespiteOutliers) {
  std::vector<std::int64_t> idx;
  std::vector<double> cx, cy;
  const std::int64_t rows = 30, cols = 40;
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 0.02);
  auto fx = [](double i, double j) { return 64.0 + 0.15 * j + 0.05 * i + 1e-3 * j * j; };
  auto fy = [](double i, double j) { return 60.0 - 0.05 * j + 0.1 * i - 2e-3 * i * j; };
  for (std::int64_t k = 0; k < rows * cols; k += 7) {
    idx.push_back(k);
    const double i = double(k / cols), j = double(k % cols);
    cx.push_back(fx(i, j) + noise(rng) + (k % 91 == 0 ? 15.0 : 0.0));  // a few wild centres
    cy.push_back(fy(i, j) + noise(rng));
  }
  const auto f = a::fit_descan(idx, cx, cy, rows, cols, 2);
  double worst = 0;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      double x, y;
      f.centre(i, j, x, y);
      worst = std::max({worst, std::fabs(x - fx(double(i), double(j))), std::fabs(y - fy(double(i), double(j)))});
    }
  EXPECT_LT(worst, 0.03);
}

TEST(Diffraction, PottsCutIsTheExactMinimumOfASmallGrid) {
  // 3 x 4 grid, 8-neighbours: compare with every one of the 4096 labellings.
  const int rows = 3, cols = 4, n = rows * cols;
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1.5, 1.5);
  std::vector<std::pair<int, int>> edges;
  for (int p = 0; p < n; ++p)
    for (int q = p + 1; q < n; ++q)
      if (std::abs(p / cols - q / cols) <= 1 && std::abs(p % cols - q % cols) <= 1) edges.emplace_back(p, q);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> e(static_cast<std::size_t>(n));
    for (auto& v : e) v = u(rng);
    const double beta = 0.1 + 0.1 * trial;
    auto energy = [&](const std::vector<std::int8_t>& p) {
      double s = 0;
      for (int i = 0; i < n; ++i) s -= e[std::size_t(i)] * p[std::size_t(i)];
      for (const auto& [x, y] : edges) s += beta * (p[std::size_t(x)] != p[std::size_t(y)]);
      return s;
    };
    double best = 1e300;
    for (int m = 0; m < (1 << n); ++m) {
      std::vector<std::int8_t> p(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) p[std::size_t(i)] = (m >> i) & 1 ? 1 : -1;
      best = std::min(best, energy(p));
    }
    const auto cut = a::binary_potts_cut(e, edges, beta);
    EXPECT_NEAR(energy(cut), best, 1e-9) << "trial " << trial;
  }
}

TEST(Diffraction, DetectorFrameToScanFrame) {
  a::DetectorFrame f;
  EXPECT_DOUBLE_EQ(f.to_scan(25.0), 25.0);
  f.rotation_deg = -12.0;
  EXPECT_DOUBLE_EQ(f.to_scan(25.0), 13.0);
  f.flip = true;  // transposed axes: (dx, dy) -> (dy, dx), so atan2 a -> 90 - a
  EXPECT_DOUBLE_EQ(f.to_scan(25.0), -12.0 + 65.0);
}
