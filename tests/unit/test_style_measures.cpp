// The style measures (analysis/style): the grey scale of an experiment, grey-level histograms and
// their KL divergence, line-profile roughness Ra, radially averaged power spectra and their
// anisotropy, and the Nelder-Mead minimiser -- each against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tmdflow/analysis/style/grey_measures.hpp"
#include "tmdflow/analysis/style/nelder_mead.hpp"
#include "tmdflow/analysis/style/power_spectrum.hpp"
#include "tmdflow/core/error.hpp"

using namespace tmdflow::analysis;

TEST(GreyScale, EightBitImagesKeepTheirLevelsOthersTakeQuantiles) {
  std::vector<float> eight(100);
  for (int k = 0; k < 100; ++k) eight[std::size_t(k)] = float(k % 7 * 30);
  const GreyScale s8 = grey_scale_of({eight.data()}, eight.size());
  EXPECT_TRUE(s8.integer_levels);
  EXPECT_EQ(s8.bins, 256);
  EXPECT_EQ(s8.bin(0), 0);
  EXPECT_EQ(s8.bin(255), 255);
  EXPECT_EQ(s8.bin(12.4), 12);   // a simulation value rounds to the level
  EXPECT_EQ(s8.bin(-40), 0);     // clipped to the end bins
  EXPECT_EQ(s8.stored(12.6), 13);
  EXPECT_EQ(s8.stored(300), 255);

  std::vector<float> counts(10000);
  for (int k = 0; k < 10000; ++k) counts[std::size_t(k)] = float(k) * 0.5f;  // 0 .. 4999.5: not 8-bit
  const GreyScale sq = grey_scale_of({counts.data()}, counts.size());
  EXPECT_FALSE(sq.integer_levels);
  EXPECT_NEAR(sq.lo, 0.001 * 9999 * 0.5, 1.0);
  EXPECT_NEAR(sq.hi, 0.999 * 9999 * 0.5, 1.0);
  EXPECT_EQ(sq.stored(1e9), sq.hi);
  std::vector<float> flat(50, 3.5f);
  EXPECT_THROW(grey_scale_of({flat.data()}, flat.size()), tmdflow::InputError);
}

TEST(GreyLevelKL, ZeroForEqualHistogramsAndTheTextbookValueOtherwise) {
  const std::vector<double> p = {10, 30, 60}, q = {30, 30, 40};
  EXPECT_NEAR(kl_divergence(p, p, 0.0), 0.0, 1e-15);
  // sum p ln(p/q) with p = (.1, .3, .6), q = (.3, .3, .4).
  const double expected = 0.1 * std::log(0.1 / 0.3) + 0.3 * std::log(1.0) + 0.6 * std::log(0.6 / 0.4);
  EXPECT_NEAR(kl_divergence(p, q, 0.0), expected, 1e-12);
  EXPECT_GT(kl_divergence(q, p, 0.0), 0.0);
  EXPECT_NE(kl_divergence(q, p, 0.0), kl_divergence(p, q, 0.0));  // not symmetric
  // A level the simulation never reaches costs a finite amount with the pseudo count.
  const std::vector<double> gap = {0, 50, 50};
  EXPECT_TRUE(std::isfinite(kl_divergence(p, gap)));
  EXPECT_GT(kl_divergence(p, gap), kl_divergence(p, q));
  EXPECT_THROW(kl_divergence(p, {1, 2}), tmdflow::InputError);
}

TEST(LineRoughness, SquareWaveIsHalfAndGainDropsOut) {
  GreyScale s;
  s.integer_levels = false, s.lo = -1e6, s.hi = 1e6;
  // Rows alternate 0, 1, 0, 1 along x; every column is constant (flat: left out).
  const int ny = 4, nx = 8;
  std::vector<float> img(std::size_t(ny) * nx);
  for (int i = 0; i < ny; ++i)
    for (int j = 0; j < nx; ++j) img[std::size_t(i) * nx + j] = float(j % 2);
  EXPECT_NEAR(line_roughness(img.data(), ny, nx, s), 0.5, 1e-12);
  for (float& v : img) v = 7 * v + 3;
  EXPECT_NEAR(line_roughness(img.data(), ny, nx, s), 0.5, 1e-12);
  // A profile 0,0,0,1 along x: mean 1/4, mean deviation 3/8, range 1.
  for (int i = 0; i < ny; ++i)
    for (int j = 0; j < nx; ++j) img[std::size_t(i) * nx + j] = float(j % 4 == 3);
  EXPECT_NEAR(line_roughness(img.data(), ny, nx, s), 0.375, 1e-12);
  std::vector<float> flat(img.size(), 2.0f);
  EXPECT_EQ(line_roughness(flat.data(), ny, nx, s), 0.0);
}

TEST(RadialSpectrum, PeaksAtTheCosinesFrequencyAndSeesItsDirection) {
  const int n = 128;
  const double pixel = 0.1, k0 = 1.25;  // 1/A: 16 cycles over the 12.8 A field
  RadialSpectrum rs(n, n, pixel, 0.1, 40);
  std::vector<float> along_x(std::size_t(n) * n), along_y(along_x.size());
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      along_x[std::size_t(i) * n + j] = float(std::cos(2 * M_PI * k0 * j * pixel));
      along_y[std::size_t(i) * n + j] = float(std::cos(2 * M_PI * k0 * i * pixel));
    }
  std::vector<double> ax, ay;
  const auto px = rs.log_power(along_x.data(), &ax);
  const auto py = rs.log_power(along_y.data(), &ay);
  const auto& k = rs.k_invA();
  std::size_t peak = 0;
  for (std::size_t b = 0; b < px.size(); ++b)
    if (px[b] > px[peak]) peak = b;
  const double ratio = std::exp(std::log(0.5 / pixel / 0.1) / 40);  // bin width factor
  EXPECT_LT(std::abs(std::log(k[peak] / k0)), std::log(ratio));
  ASSERT_EQ(ax.size(), std::size_t(RadialSpectrum::kAnisotropyBands));
  const std::size_t band = peak * RadialSpectrum::kAnisotropyBands / px.size();
  EXPECT_GT(ax[band], 1.0);   // the power sits on the kx axis
  EXPECT_LT(ay[band], -1.0);  // and here on the ky axis
  EXPECT_NEAR(spectrum_distance(px, py), 0.0, 1e-6);  // the radial average does not see the direction
  // Gain and offset drop out.
  std::vector<float> scaled = along_x;
  for (float& v : scaled) v = 9 * v + 10;
  EXPECT_NEAR(spectrum_distance(px, rs.log_power(scaled.data())), 0.0, 0.01);  // float round-off of the offset
  EXPECT_EQ(rs.weights().size(), k.size());
  EXPECT_THROW(RadialSpectrum(4, 4, pixel), tmdflow::ConfigError);
  EXPECT_THROW(spectrum_distance(px, {1.0}), tmdflow::InputError);
}

TEST(NelderMead, FindsTheMinimumOfAValleyAndRepeatsItsPath) {
  auto rosenbrock = [](const std::vector<double>& x) { return 100 * std::pow(x[1] - x[0] * x[0], 2) + std::pow(1 - x[0], 2); };
  const auto r = nelder_mead(rosenbrock, {-1.2, 1.0}, {0.5, 0.5}, 2000, 1e-14);
  EXPECT_NEAR(r.x[0], 1.0, 1e-3);
  EXPECT_NEAR(r.x[1], 1.0, 2e-3);
  EXPECT_LT(r.value, 1e-6);
  EXPECT_LE(r.evaluations, 2000);
  ASSERT_EQ(r.history.size(), std::size_t(r.evaluations));
  for (std::size_t k = 1; k < r.history.size(); ++k) EXPECT_LE(r.history[k], r.history[k - 1]);
  const auto again = nelder_mead(rosenbrock, {-1.2, 1.0}, {0.5, 0.5}, 2000, 1e-14);
  EXPECT_EQ(again.x, r.x);
  EXPECT_EQ(nelder_mead(rosenbrock, {-1.2, 1.0}, {0.5, 0.5}, 7).evaluations, 7);  // the budget holds
  EXPECT_THROW(nelder_mead(rosenbrock, {0.0}, {0.1, 0.1}, 10), tmdflow::ConfigError);
}
