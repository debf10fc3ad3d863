// The style renderer and fit (analysis/style): the realism the engine adds, applied to a noise-free
// image, behaves as its physics says (blur, Poisson statistics, background, point-spread), and the
// fit recovers the source size and dose of a simulated "experiment" whose style is known.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tmdflow/analysis/style/style_fit.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/style.hpp"

using namespace tmdflow;
using namespace tmdflow::analysis;

namespace {

StyleScene mos2_scene() {
  StyleScene s;
  s.stack.material = "MoS2";
  s.stack.layers = 2;
  s.adf.probe.voltage_kV = 80;
  s.adf.probe.convergence_mrad = 30;
  s.adf.inner_mrad = 60, s.adf.outer_mrad = 200;
  s.seed = 3;
  return s;
}

}  // namespace

TEST(StyleRenderer, BlurPoissonBackgroundAndPointSpreadDoWhatTheySay) {
  const int n = 64;
  const double pixel = 0.1;
  const NoiseFreeScan scan = simulate_noise_free(mos2_scene(), n, n, pixel, 0.5);
  StyleRenderer r(scan.padded.data(), scan.grid, n, n, pixel, scan.x0, scan.y0, 11);
  EXPECT_GT(r.mean_clean(), 0.0);
  std::vector<float> sharp, blurred, more;
  StyleParameters p;
  r.clean(p, sharp);
  p.source_size_A = 0.3;
  r.clean(p, blurred);
  p.source_size_A = 0.6;
  r.clean(p, more);
  auto sd = [](const std::vector<float>& v) { return mean_and_sd(v.data(), v.size()).second; };
  EXPECT_GT(sd(sharp), sd(blurred));
  EXPECT_GT(sd(blurred), sd(more));
  EXPECT_NEAR(mean_and_sd(more.data(), more.size()).first, r.mean_clean(), 0.06 * r.mean_clean());  // a blur keeps the mean (of a few cells)

  // Poisson counts from the fixed draws: mean and variance equal the expected counts.
  StyleParameters q;
  q.dose_e_per_A2 = 1e5;  // 1000 electrons per unit beam fraction per pixel
  q.background = 0.05;    // flat: every pixel the same expectation
  std::vector<float> flat_clean;
  StyleParameters bg_only;
  bg_only.background = 0.05;
  // Replace the signal by its background alone: a renderer of a zero image.
  std::vector<float> zero(scan.grid.size(), 0.0f);
  StyleRenderer z(zero.data(), scan.grid, n, n, pixel, scan.x0, scan.y0, 11);
  std::vector<float> counts;
  z.detected(q, CountingNoise::fixed_draws, counts);
  const auto [m, s] = mean_and_sd(counts.data(), counts.size());
  EXPECT_NEAR(m, 50.0, 50.0 * 0.03);
  EXPECT_NEAR(s * s, 50.0, 50.0 * 0.1);
  for (float c : counts) EXPECT_EQ(c, std::round(c));  // whole counts
  z.detected(q, CountingNoise::poisson, counts);
  EXPECT_NEAR(mean_and_sd(counts.data(), counts.size()).first, 50.0, 50.0 * 0.03);
  // Read noise adds variance; a point-spread after the noise takes it away again.
  q.read_noise = 5;
  z.detected(q, CountingNoise::fixed_draws, counts);
  const double with_read = std::pow(mean_and_sd(counts.data(), counts.size()).second, 2);
  EXPECT_NEAR(with_read, 75.0, 75.0 * 0.1);
  q.psf_A = 0.2;
  z.detected(q, CountingNoise::fixed_draws, counts);
  EXPECT_LT(std::pow(mean_and_sd(counts.data(), counts.size()).second, 2), 0.3 * with_read);
  // The same draws every time (the fit's objective is a function of the parameters).
  std::vector<float> again;
  z.detected(q, CountingNoise::fixed_draws, again);
  EXPECT_EQ(again, counts);
}

TEST(StyleFit, RecoversTheSourceSizeAndDoseOfAKnownStyle) {
  // The "experiment": the engine's own image with a known style, rendered by another seed's noise.
  const int n = 96;
  const double pixel = 0.1;
  StyleScene scene = mos2_scene();
  const NoiseFreeScan scan = simulate_noise_free(scene, n, n, pixel, 0.5);
  StyleRenderer truth(scan.padded.data(), scan.grid, n, n, pixel, scan.x0, scan.y0, 99);
  StyleParameters known;
  known.dose_e_per_A2 = 2e5, known.source_size_A = 0.5, known.background = 0.004;
  StyleExperiment e;
  e.ny = e.nx = n, e.pixel_A = pixel;
  e.frames.emplace_back();
  truth.detected(known, CountingNoise::poisson, e.frames.back());

  StyleFitSpec spec;
  spec.fit = {"dose", "source-size"};
  spec.start.background = known.background;
  spec.fit_px = 0;
  spec.max_evaluations = 120;
  const StyleFitReport r = fit_style(e, scene, spec);
  EXPECT_NEAR(r.fitted.source_size_A, 0.5, 0.08);
  EXPECT_NEAR(std::log(r.fitted.dose_e_per_A2 / known.dose_e_per_A2), 0.0, std::log(1.5));
  EXPECT_LE(r.objective_fitted, r.objective_start);
  const auto& c = r.comparisons.front();
  EXPECT_LT(c[2].kl, c[0].kl);  // the style brings the histogram closer than the noise-free image
  EXPECT_LT(c[2].kl, 0.05);
  EXPECT_EQ(r.simulations[2].size(), std::size_t(n) * n);
  EXPECT_EQ(r.experiment_histograms.front().size(), std::size_t(r.scale.bins));
  EXPECT_GT(r.experiment_roughness.front(), 0.0);

  StyleFitSpec bad = spec;
  bad.fit = {"dose", "colour"};
  EXPECT_THROW(fit_style(e, scene, bad), ConfigError);
  bad = spec;
  bad.fit = {"source-size"};
  bad.start.dose_e_per_A2 = 0;  // a dose that is neither given nor fitted
  EXPECT_THROW(fit_style(e, scene, bad), ConfigError);
  StyleExperiment tiny = e;
  tiny.ny = tiny.nx = 16;
  tiny.frames.front().resize(256);
  EXPECT_THROW(fit_style(tiny, scene, spec), InputError);
}

TEST(StyleRanges, FormedAroundTheFit) {
  sim::Style s;
  s.dose_e_per_A2 = 4e4, s.source_size_A = 0.4, s.jitter_A = 0.1, s.background = 0.01, s.read_noise = 2, s.psf_A = 0.08, s.defocus_A = 35;
  const sim::StyleRanges r = sim::style_ranges(s);
  EXPECT_DOUBLE_EQ(r.dose.min, 2e4);
  EXPECT_DOUBLE_EQ(r.dose.max, 8e4);
  EXPECT_NEAR(r.source_size_A.min, 0.3, 1e-12);
  EXPECT_NEAR(r.source_size_A.max, 0.5, 1e-12);
  EXPECT_NEAR(r.jitter_A.min, 0.05, 1e-12);
  EXPECT_NEAR(r.background.max, 0.0125, 1e-12);
  EXPECT_NEAR(r.psf_A.min, 0.06, 1e-12);
  EXPECT_DOUBLE_EQ(r.defocus_A.min, 25);
  EXPECT_DOUBLE_EQ(r.defocus_A.max, 45);
  s.source_size_A = 0;  // at least +-0.05 A around a source size of 0, never negative
  EXPECT_DOUBLE_EQ(sim::style_ranges(s).source_size_A.min, 0);
  EXPECT_DOUBLE_EQ(sim::style_ranges(s).source_size_A.max, 0.05);
}
