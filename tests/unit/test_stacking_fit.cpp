// Physics refinement of stacking estimates (analysis/stacking_model.hpp, stacking_fit.hpp) against
// windows that sim::AdfSimulator makes with its real probe from stacks of the structure builders
// (tests/common/stacking_windows.hpp): the forward model's image, its derivative images, the fit's
// recovery of planted slips, origin, distortion, polarity and twist from a start 0.2 A off, and the
// confidence of windows the model does not explain.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/stacking_windows.hpp"
#include "tmdflow/analysis/stacking_fit.hpp"
#include "tmdflow/core/error.hpp"

using namespace tmdflow;
namespace windows = tmdflow::testing::stacking_windows;
using windows::StackTruth;
using windows::WindowConditions;

namespace {

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= double(a.size()), mb /= double(b.size());
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ab += (a[i] - ma) * (b[i] - mb), aa += (a[i] - ma) * (a[i] - ma), bb += (b[i] - mb) * (b[i] - mb);
  return ab / std::sqrt(aa * bb);
}

analysis::StackingModelSpec model_for(const StackTruth& t, const WindowConditions& c, const std::string& material = "") {
  analysis::StackingModelSpec m;
  m.material = material.empty() ? t.material : material;
  m.layers = t.layers;
  m.stacking = material.empty() ? t.stacking : "AA";
  m.twist = t.twist_deg != 0;
  m.voltage_kV = c.voltage_kV, m.convergence_mrad = c.convergence_mrad, m.inner_mrad = c.inner_mrad, m.outer_mrad = c.outer_mrad;
  return m;
}

/// Slips of the cell fractions (f1, f2) per interface.
void set_slips(StackTruth& t, const std::vector<std::pair<double, double>>& fractions) {
  const sim::LayerCell cell = sim::layer_cell(t.material);
  t.slip_x_A.clear(), t.slip_y_A.clear();
  for (const auto& [f1, f2] : fractions)
    t.slip_x_A.push_back(f1 * cell.a1[0] + f2 * cell.a2[0]), t.slip_y_A.push_back(f1 * cell.a1[1] + f2 * cell.a2[1]);
}

/// The truth's slips moved by 0.2 A (a different direction per interface); origin unknown (0).
analysis::StackingParams start_near(const StackTruth& t, double blur_A) {
  analysis::StackingParams p;
  for (std::size_t k = 0; k < t.slip_x_A.size(); ++k) {
    const double a = 0.7 + 2.1 * double(k);
    p.slip_x_A.push_back(t.slip_x_A[k] + 0.2 * std::cos(a)), p.slip_y_A.push_back(t.slip_y_A[k] + 0.2 * std::sin(a));
  }
  p.blur_A = blur_A;
  return p;
}

/// Distance between two positions of a lattice origin, modulo the cell.
double origin_error(const std::string& material, double dx, double dy) {
  const sim::LayerCell c = sim::layer_cell(material);
  const double det = c.a1[0] * c.a2[1] - c.a1[1] * c.a2[0];
  double f1 = (dx * c.a2[1] - dy * c.a2[0]) / det, f2 = (c.a1[0] * dy - c.a1[1] * dx) / det;
  f1 -= std::round(f1), f2 -= std::round(f2);
  return std::hypot(f1 * c.a1[0] + f2 * c.a2[0], f1 * c.a1[1] + f2 * c.a2[1]);
}

}  // namespace

TEST(StackingModel, RenderMatchesTheAdfSimulatorAtThePublishedConditions) {
  struct Case {
    const char* material;
    const char* stacking;
    WindowConditions conditions;
    int n;
  };
  for (const Case& c : {Case{"ReS2", "AA", windows::rhenium_conditions(), 125}, Case{"MoS2", "2H", windows::mos2_conditions(), 201}}) {
    StackTruth t;
    t.material = c.material, t.stacking = c.stacking;
    set_slips(t, {{0.31, 0.12}});
    t.origin_x_A = 0.7, t.origin_y_A = -1.1;
    t.affine[0] = 1.01, t.affine[1] = 0.005;
    const auto window = windows::simulate_window(t, c.conditions, c.n);
    analysis::StackingParams p;
    p.slip_x_A = t.slip_x_A, p.slip_y_A = t.slip_y_A, p.origin_x_A = t.origin_x_A, p.origin_y_A = t.origin_y_A;
    std::copy(t.affine, t.affine + 4, p.affine);
    p.blur_A = analysis::gaussian_probe_sigma_A(c.conditions.probe());
    std::vector<float> model(window.size());
    analysis::render_stacking_window(model_for(t, c.conditions), p, c.n, c.conditions.pixel_A, model.data());
    EXPECT_GT(correlation(window, model), 0.98) << c.material;
    // Same units as the simulator: the Gaussian holds most of the probe (its Airy tails the rest).
    double sw = 0, sm = 0;
    for (std::size_t i = 0; i < window.size(); ++i) sw += window[i], sm += model[i];
    EXPECT_GT(sm / sw, 0.8) << c.material;
    EXPECT_LT(sm / sw, 1.1) << c.material;
    // A slip of 0.3 A is plainly visible: the model knows where layer 1 is.
    p.slip_x_A[0] += 0.3;
    analysis::render_stacking_window(model_for(t, c.conditions), p, c.n, c.conditions.pixel_A, model.data());
    EXPECT_LT(correlation(window, model), 0.97) << c.material;
  }
}

TEST(StackingModel, DerivativeImagesMatchFiniteDifferences) {
  analysis::StackingModelSpec spec;
  spec.material = "MoS2", spec.stacking = "2H", spec.twist = true;
  analysis::StackingRenderer renderer(spec);
  analysis::StackingParams p;
  p.slip_x_A = {0.4}, p.slip_y_A = {-0.3}, p.twist_deg = 3, p.origin_x_A = 0.2, p.origin_y_A = 0.5, p.blur_A = 0.45;
  p.affine[0] = 1.01, p.affine[1] = 0.02, p.affine[2] = -0.01, p.affine[3] = 0.99;
  const int n = 48;
  const double px = 0.15, centre = 23.5, h = 1e-3;
  std::vector<analysis::StackingRenderer::LayerImages> base, plus, minus;
  renderer.render_layers(p, n, centre, px, true, base);
  // Layer 0 (no twist): d image / d origin = grad; d image / d A_ij = moment[2i + j];
  // d image / d sigma = blur - 2 / sigma image.
  auto check = [&](const char* what, auto&& change, auto&& expected) {
    analysis::StackingParams a = p, b = p;
    change(a, h), change(b, -h);
    renderer.render_layers(a, n, centre, px, false, plus);
    renderer.render_layers(b, n, centre, px, false, minus);
    double worst = 0, scale = 0;
    for (std::size_t q = 0; q < plus[0].image.size(); ++q) {
      const double fd = (plus[0].image[q] - minus[0].image[q]) / (2 * h);
      worst = std::max(worst, std::abs(fd - expected(q))), scale = std::max(scale, std::abs(fd));
    }
    EXPECT_GT(scale, 0) << what;
    EXPECT_LT(worst, 2e-3 * scale) << what;
  };
  const auto& L = base[0];
  check("origin x", [](analysis::StackingParams& q, double d) { q.origin_x_A += d; }, [&](std::size_t q) { return L.grad_x[q]; });
  check("origin y", [](analysis::StackingParams& q, double d) { q.origin_y_A += d; }, [&](std::size_t q) { return L.grad_y[q]; });
  for (int m = 0; m < 4; ++m)
    check("affine", [m](analysis::StackingParams& q, double d) { q.affine[m] += d; }, [&](std::size_t q) { return L.moment[m][q]; });
  check("blur", [](analysis::StackingParams& q, double d) { q.blur_A += d; },
        [&](std::size_t q) { return L.blur[q] - 2.0 / p.blur_A * L.image[q]; });
  // The slip moves layer 1 only, by T A e_x (T the twist): its image's derivative is that motion
  // dotted with its grad images.
  {
    analysis::StackingParams a = p, b = p;
    a.slip_x_A[0] += h, b.slip_x_A[0] -= h;
    renderer.render_layers(a, n, centre, px, false, plus);
    renderer.render_layers(b, n, centre, px, false, minus);
    const double t = p.twist_deg * M_PI / 180, ux = std::cos(t) * p.affine[0] - std::sin(t) * p.affine[2],
                 uy = std::sin(t) * p.affine[0] + std::cos(t) * p.affine[2];
    double worst = 0, scale = 0, unmoved = 0;
    for (std::size_t q = 0; q < plus[1].image.size(); ++q) {
      const double fd = (plus[1].image[q] - minus[1].image[q]) / (2 * h);
      worst = std::max(worst, std::abs(fd - (ux * base[1].grad_x[q] + uy * base[1].grad_y[q])));
      scale = std::max(scale, std::abs(fd));
      unmoved = std::max(unmoved, double(std::abs(plus[0].image[q] - minus[0].image[q])));
    }
    EXPECT_LT(worst, 2e-3 * scale);
    EXPECT_EQ(unmoved, 0.0);
  }
}

TEST(StackingModel, GaussianProbeSigmaGrowsWithTheSourceSize) {
  sim::ProbeSpec probe = windows::rhenium_conditions().probe();
  probe.aberrations.C1 = 0, probe.source_size_A = 0;
  const double bare = analysis::gaussian_probe_sigma_A(probe);
  // An aberration-free probe's central disc: FWHM ~ 0.51 lambda / alpha (0.47 A at 300 kV, 21.3 mrad).
  EXPECT_NEAR(bare * 2.3548, 0.51 * 0.019687 / 0.0213, 0.1);
  probe.source_size_A = 0.6;
  EXPECT_NEAR(analysis::gaussian_probe_sigma_A(probe), std::hypot(bare, 0.6), 0.05);
}

TEST(StackingFit, RecoversPlantedSlipsFromAStartOffByTwoTenthsOfAnAngstrom) {
  struct Case {
    const char* material;
    const char* stacking;
    std::vector<std::pair<double, double>> slips;  // cell fractions per interface
    WindowConditions conditions;
    int n;
  };
  const std::vector<Case> cases{
      {"ReS2", "AA", {{0.37, 0.21}}, windows::rhenium_conditions(), 167},
      {"ReS2", "AA", {{0.37, 0.21}, {-0.18, 0.33}}, windows::rhenium_conditions(), 167},
      {"MoS2", "2H", {{0.27, -0.12}}, windows::mos2_conditions(), 251},
      {"MoS2", "2H", {{0.27, -0.12}, {0.1, 0.3}}, windows::mos2_conditions(), 251},
  };
  for (const Case& c : cases) {
    StackTruth t;
    t.material = c.material, t.stacking = c.stacking, t.layers = int(c.slips.size()) + 1;
    set_slips(t, c.slips);
    t.origin_x_A = 1.3, t.origin_y_A = -0.8;
    const auto window = windows::simulate_window(t, c.conditions, c.n);
    const auto fit = analysis::fit_stacking_window(window.data(), c.n, c.conditions.pixel_A, model_for(t, c.conditions),
                                                   start_near(t, analysis::gaussian_probe_sigma_A(c.conditions.probe())));
    const std::string what = std::string(c.material) + " " + std::to_string(t.layers) + " layers";
    EXPECT_TRUE(fit.converged) << what;
    for (std::size_t k = 0; k < c.slips.size(); ++k)
      EXPECT_LT(std::hypot(fit.params.slip_x_A[k] - t.slip_x_A[k], fit.params.slip_y_A[k] - t.slip_y_A[k]), 0.02) << what << " interface " << k;
    EXPECT_LT(origin_error(t.material, fit.params.origin_x_A - t.origin_x_A, fit.params.origin_y_A - t.origin_y_A), 0.02) << what;
    EXPECT_EQ(fit.params.bottom_rotation_deg, 0.0) << what;
    EXPECT_GT(fit.confidence, 0.9) << what;
    EXPECT_GT(fit.r2, 0.99) << what;
  }
}

TEST(StackingFit, RecoversOriginAndATwoPercentDistortion) {
  const WindowConditions c = windows::rhenium_conditions();
  StackTruth t;
  set_slips(t, {{0.62, 0.41}});
  t.origin_x_A = -2.1, t.origin_y_A = 1.7;
  const double affine[4] = {1.02, 0.008, -0.012, 0.985};
  std::copy(affine, affine + 4, t.affine);
  const auto window = windows::simulate_window(t, c, 167);
  const auto fit = analysis::fit_stacking_window(window.data(), 167, c.pixel_A, model_for(t, c), start_near(t, 0.5));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(fit.params.affine[i], affine[i], 0.002) << "affine entry " << i;
  EXPECT_NEAR(fit.distortion, 0.02, 0.005);
  EXPECT_LT(std::hypot(fit.params.slip_x_A[0] - t.slip_x_A[0], fit.params.slip_y_A[0] - t.slip_y_A[0]), 0.02);
  // Under the distortion, a lattice translation of the origin is A times a cell vector.
  const double dx = fit.params.origin_x_A - t.origin_x_A, dy = fit.params.origin_y_A - t.origin_y_A;
  const double det = affine[0] * affine[3] - affine[1] * affine[2];
  const double ux = (affine[3] * dx - affine[1] * dy) / det, uy = (-affine[2] * dx + affine[0] * dy) / det;
  EXPECT_LT(origin_error(t.material, ux, uy), 0.02);
  // The window's units do not matter (the network's windows are normalised): intensity and
  // background absorb them.
  std::vector<float> scaled(window);
  for (float& v : scaled) v = 37 * v - 5;
  const auto same = analysis::fit_stacking_window(scaled.data(), 167, c.pixel_A, model_for(t, c), start_near(t, 0.5));
  EXPECT_NEAR(same.params.slip_x_A[0], fit.params.slip_x_A[0], 1e-3);
  EXPECT_NEAR(same.params.slip_y_A[0], fit.params.slip_y_A[0], 1e-3);
  EXPECT_NEAR(same.confidence, fit.confidence, 0.01);
  EXPECT_NEAR(same.params.background, 37 * fit.params.background - 5, 1e-3 * 37 * fit.params.layer_intensity[0]);
}

TEST(StackingFit, FindsTheReversedPolarityOfAnMx2Window) {
  // The canonical frame knows an MX2 lattice modulo 60 deg: a window whose bottom layer is at
  // phi = 90 is fitted with the model turned by 60 deg, with the slip as the trainset labels it.
  // (3R: a 2H bilayer at phi = 90 is the phi = 30 one upside down, which a slip change also fits.)
  WindowConditions c = windows::mos2_conditions();
  c.pixel_A = 0.1;
  StackTruth t;
  t.material = "MoS2", t.stacking = "3R", t.bottom_rotation_deg = 60;
  set_slips(t, {{0.21, 0.08}});
  const auto window = windows::simulate_window(t, c, 151);
  const auto fit = analysis::fit_stacking_window(window.data(), 151, c.pixel_A, model_for(t, c), start_near(t, 0.45));
  EXPECT_EQ(fit.params.bottom_rotation_deg, 60.0);
  EXPECT_LT(std::hypot(fit.params.slip_x_A[0] - t.slip_x_A[0], fit.params.slip_y_A[0] - t.slip_y_A[0]), 0.02);
  EXPECT_GT(fit.confidence, 0.9);
  analysis::FitOptions fixed;
  fixed.find_orientation = false;
  const auto wrong = analysis::fit_stacking_window(window.data(), 151, c.pixel_A, model_for(t, c), start_near(t, 0.45), fixed);
  EXPECT_LT(wrong.confidence, 0.5);
}

TEST(StackingFit, RecoversTheTwistOfAnMx2Bilayer) {
  WindowConditions c = windows::mos2_conditions();
  c.pixel_A = 0.1;
  StackTruth t;
  t.material = "MoS2", t.stacking = "AA", t.twist_deg = 2.0;
  t.slip_x_A = {0.4}, t.slip_y_A = {0.7};
  t.origin_x_A = 0.3, t.origin_y_A = -0.2;
  const auto window = windows::simulate_window(t, c, 151);
  // build_stack turns layer 1 about its metal site nearest the field centre (here the slip itself,
  // d), the model about the window centre (o from the field centre): the model's slip is the
  // builder's + (R^-1 - I)(o + d).
  const double th = t.twist_deg * M_PI / 180, vx = t.origin_x_A + 0.4, vy = t.origin_y_A + 0.7;
  const double ex = 0.4 + (std::cos(th) - 1) * vx + std::sin(th) * vy, ey = 0.7 - std::sin(th) * vx + (std::cos(th) - 1) * vy;
  analysis::StackingParams start;
  start.slip_x_A = {ex + 0.15}, start.slip_y_A = {ey - 0.13}, start.twist_deg = 2.3, start.blur_A = 0.45;
  const auto fit = analysis::fit_stacking_window(window.data(), 151, c.pixel_A, model_for(t, c), start);
  EXPECT_NEAR(fit.params.twist_deg, 2.0, 0.02);
  EXPECT_LT(std::hypot(fit.params.slip_x_A[0] - ex, fit.params.slip_y_A[0] - ey), 0.02);
  // With no slip estimate (a twist network gives none), the slip search finds the local registry.
  analysis::FitOptions search;
  search.search_slip = true;
  start.slip_x_A = {0}, start.slip_y_A = {0};
  const auto searched = analysis::fit_stacking_window(window.data(), 151, c.pixel_A, model_for(t, c), start, search);
  EXPECT_NEAR(searched.params.twist_deg, 2.0, 0.02);
  EXPECT_LT(origin_error("MoS2", searched.params.slip_x_A[0] - ex, searched.params.slip_y_A[0] - ey), 0.02);
}

TEST(StackingFit, ConfidenceSeparatesWindowsTheModelDoesNotExplain) {
  const WindowConditions c = windows::rhenium_conditions();
  const int n = 125;
  StackTruth t;
  set_slips(t, {{0.44, 0.71}});
  t.origin_x_A = 0.9, t.origin_y_A = 0.4;
  auto good = windows::simulate_window(t, c, n);
  windows::add_dose_noise(good, 1e5, c.pixel_A, 3);
  const auto start = start_near(t, 0.7);
  const auto fit = analysis::fit_stacking_window(good.data(), n, c.pixel_A, model_for(t, c), start);
  EXPECT_GT(fit.confidence, 0.7);
  EXPECT_GT(fit.noise_rms, 0);
  // The same window under the MoSe2 model (another lattice and species).
  analysis::StackingParams zero = start;
  zero.slip_x_A = {0}, zero.slip_y_A = {0};
  const auto other = analysis::fit_stacking_window(good.data(), n, c.pixel_A, model_for(t, c, "MoSe2"), zero);
  EXPECT_LT(other.confidence, 0.2);
  EXPECT_GT(other.misfit, 0.5);
  // Pure noise: nothing the model knows.
  std::vector<float> noise(good.size());
  sim::rng::Stream g(sim::rng::key(5, 5));
  for (float& v : noise) v = float(0.02 + 0.003 * g.normal());
  const auto nothing = analysis::fit_stacking_window(noise.data(), n, c.pixel_A, model_for(t, c), start);
  EXPECT_LT(nothing.confidence, 0.05);
  // A hole over a quarter of the window.
  StackTruth holed = t;
  holed.hole_radius_A = n * c.pixel_A * std::sqrt(0.5 / M_PI), holed.hole_x_A = 0.5 * n * c.pixel_A;
  auto hole = windows::simulate_window(holed, c, n);
  windows::add_dose_noise(hole, 1e5, c.pixel_A, 4);
  EXPECT_LT(analysis::fit_stacking_window(hole.data(), n, c.pixel_A, model_for(t, c), start).confidence, 0.2);
}

TEST(StackingFit, RefusesBadInputs) {
  analysis::StackingModelSpec spec;
  spec.material = "ReS2";
  analysis::StackingParams p;
  p.slip_x_A = {0}, p.slip_y_A = {0};
  std::vector<float> window(64 * 64, 1.0f);
  window[100] = NAN;
  EXPECT_THROW(analysis::fit_stacking_window(window.data(), 64, 0.12, spec, p), InputError);
  window[100] = 1;
  analysis::StackingParams short_slips;
  EXPECT_THROW(analysis::fit_stacking_window(window.data(), 64, 0.12, spec, short_slips), ConfigError);
  analysis::StackingModelSpec bad = spec;
  bad.stacking = "2H";  // 1T'' stacks are AA
  EXPECT_THROW(analysis::fit_stacking_window(window.data(), 64, 0.12, bad, p), ConfigError);
  bad = spec;
  bad.material = "MoS3";
  EXPECT_THROW(analysis::fit_stacking_window(window.data(), 64, 0.12, bad, p), ConfigError);
  bad = spec;
  bad.material = "MoS2", bad.layers = 3, bad.twist = true;  // twisted stacks are bilayers
  EXPECT_THROW(analysis::fit_stacking_window(window.data(), 64, 0.12, bad, p), ConfigError);
  EXPECT_THROW(analysis::fit_stacking_window(window.data(), 4, 0.12, spec, p), ConfigError);
}

TEST(StackingFit, TellsTheTwistsSignAndSixtyMinusThetaApart) {
  // The labels fold theta ~ -theta (mirror images), but a window is not mirrored: in the canonical
  // frame the other layer is at +theta or -theta. A fit started at the wrong sign, or at 60 - theta,
  // stays there and explains the window badly; from the right one it explains it down to the noise.
  WindowConditions c = windows::mos2_conditions();
  c.pixel_A = 0.2;
  analysis::FitOptions o;
  o.search_slip = true;
  for (const double theta : {-38.0, 12.0, 45.0}) {
    StackTruth t;
    t.material = "MoS2", t.stacking = "AA", t.twist_deg = theta;
    t.slip_x_A = {0.4}, t.slip_y_A = {0.7};
    t.origin_x_A = 0.3, t.origin_y_A = -0.2;
    auto window = windows::simulate_window(t, c, 96);
    windows::add_dose_noise(window, 1e5, c.pixel_A, 3);
    analysis::StackingWindowFitter fitter(model_for(t, c), 96, c.pixel_A, o);
    const double sign = theta > 0 ? 1 : -1;
    for (const double start_deg : {theta, -theta, sign * (60 - std::abs(theta)), -sign * (60 - std::abs(theta))}) {
      analysis::StackingParams start;
      start.slip_x_A = {0}, start.slip_y_A = {0}, start.twist_deg = start_deg + 0.5, start.blur_A = 0.45;
      const auto f = fitter.fit(window.data(), start);
      if (start_deg == theta) {
        EXPECT_GT(f.confidence, 0.9) << "theta " << theta;
        EXPECT_NEAR(f.params.twist_deg, theta, 0.05) << "theta " << theta;
      } else {
        EXPECT_LT(f.confidence, 0.3) << "theta " << theta << ", started at " << start_deg;
      }
    }
    // twist_branches: from the folded theta in [0, 60] the fit finds the window's own branch.
    analysis::FitOptions branches = o;
    branches.twist_branches = true;
    analysis::StackingWindowFitter searcher(model_for(t, c), 96, c.pixel_A, branches);
    for (const double folded : {std::abs(theta), 60 - std::abs(theta)}) {
      analysis::StackingParams start;
      start.slip_x_A = {0}, start.slip_y_A = {0}, start.twist_deg = folded + 0.3, start.blur_A = 0.45;
      const auto f = searcher.fit(window.data(), start);
      EXPECT_GT(f.confidence, 0.9) << "theta " << theta << ", started at " << folded;
      EXPECT_NEAR(f.params.twist_deg, theta, 0.05) << "theta " << theta << ", started at " << folded;
    }
  }
}
