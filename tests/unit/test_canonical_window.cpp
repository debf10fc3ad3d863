// Canonical-frame windows (analysis/lattice_finder.hpp): a window resampled from an image of a
// rotated, mirrored or stretched layer equals the image simulated directly in the canonical
// orientation; the sampler's fast and general paths, the one-window function and the edge
// reflection agree with plain reference computations.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "lattice_test_images.hpp"
#include "tmdflow/analysis/lattice_finder.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/sim/realism.hpp"

using namespace tmdflow;
using tmdflow::testing::TestImage;

namespace {

using tmdflow::testing::correlation;

/// The image of `structure` on an n x n grid of `pixel_A` whose geometric centre is the structure
/// point (cx, cy): what a canonical window centred there should show.
std::vector<float> direct_window(const sim::Structure& structure, const std::string& material, double cx, double cy, int n, double pixel_A) {
  const double c = 0.5 * (n - 1) * pixel_A;
  sim::AdfSimulator simulator(tmdflow::testing::adf_spec(material, n, pixel_A, cx - c, cy - c));
  std::vector<float> out(std::size_t(n) * n);
  simulator.image(structure, out.data());
  return out;
}

std::vector<float> window_of(const TestImage& t, const analysis::FoundLattice& f, const std::string& material, int n, double pixel_A) {
  std::vector<float> out(std::size_t(n) * n);
  analysis::sample_canonical_window(t.pixels.data(), t.size, t.size, analysis::canonical_frame(f, material), t.centre_row, t.centre_col, n,
                                    pixel_A, out.data());
  return out;
}

analysis::FoundLattice find(const TestImage& t, const std::string& material, int layers = 0) {
  analysis::LatticeOptions o;
  o.pixel_A = t.pixel_A;
  o.material = material;
  o.layers = layers;
  return analysis::find_lattice(t.pixels.data(), t.size, t.size, o);
}

}  // namespace

TEST(CanonicalWindow, Mx2MonolayerMatchesTheCanonicalSimulation) {
  // phi = 30 + 60 k + delta: the canonical window shows the layer at phi 30 or 90 (its polarity is
  // the label symmetry's business), about the metal site at the field's centre.
  for (const double phi : {47.3, 101.9, 12.5}) {
    sim::StackSpec s;
    s.material = "MoS2";
    s.phi_deg = phi;
    const TestImage t = tmdflow::testing::mx2_image(s, 320, 0.07);
    const auto f = find(t, "MoS2");
    const int n = 72;
    const double out_px = 0.12;  // downsampling by 1.7: the prefilter runs
    const auto window = window_of(t, f, "MoS2", n, out_px);
    double best = -1;
    for (const double canonical_phi : {30.0, 90.0}) {
      sim::StackSpec c = s;
      c.phi_deg = canonical_phi;
      c.extent_x = c.extent_y = 40;
      best = std::max(best, correlation(window, direct_window(sim::build_stack(c), "MoS2", 20, 20, n, out_px)));
    }
    EXPECT_GT(best, 0.999) << "phi " << phi << ": " << f.describe();
  }
}

TEST(CanonicalWindow, TriclinicStacksRotatedAndMirroredMatchTheCanonicalSimulation) {
  // Rotations with a1 at [-90, 90) in the image, so the canonical a1 is the builder's (not -a1).
  struct Case {
    std::string material;
    double rotation;
    bool mirror;
    std::vector<std::array<double, 2>> slips;  // image frame, before the mirror
  };
  const Case cases[] = {{"ReS2", 23.0, false, {{0, 0}}},
                        {"ReSe2", -61.0, true, {{0, 0}}},
                        {"ReS2", 77.0, true, {{0, 0}, {1.3, -2.1}}},
                        {"ReS2", -14.0, false, {{0, 0}, {-0.7, 2.6}, {2.2, 1.1}}}};
  for (const auto& c : cases) {
    TestImage t = tmdflow::testing::triclinic_image(c.material, c.rotation, c.slips, 336, 0.09);
    if (c.mirror) tmdflow::testing::mirror_rows(t);
    const auto f = find(t, c.material, int(c.slips.size()));
    ASSERT_EQ(f.mirrored, c.mirror) << f.describe();
    const int n = 80;
    const double out_px = 0.12;
    const auto window = window_of(t, f, c.material, n, out_px);
    // The same stack built in the canonical orientation: the slips turned with the layer.
    sim::TriclinicSpec spec;
    spec.material = c.material;
    spec.extent_x = spec.extent_y = 60;
    const sim::Structure layer = sim::build_1t_double_prime(spec);
    std::vector<float> direct(std::size_t(n) * n, 0.0f);
    const double turn = -c.rotation * 3.14159265358979323846 / 180;
    for (const auto& slip : c.slips) {
      const double sx = std::cos(turn) * slip[0] - std::sin(turn) * slip[1], sy = std::sin(turn) * slip[0] + std::cos(turn) * slip[1];
      const auto one = direct_window(layer, c.material, 30 - sx, 30 - sy, n, out_px);
      for (std::size_t p = 0; p < one.size(); ++p) direct[p] += one[p];
    }
    EXPECT_GT(correlation(window, direct), 0.999) << c.material << " rotation " << c.rotation << ": " << f.describe();
  }
}

TEST(CanonicalWindow, ShearedNonSquareCalibrationIsUndone) {
  // A MoS2 layer imaged finely (0.04 A), then resampled on a 300 x 360 grid whose pixels are 7 %
  // taller than wide and sheared by 3 % (drift): the canonical frame carries the affine map, so the
  // windows of both images agree, and the finder reports the anisotropy.
  sim::StackSpec s;
  s.material = "MoS2";
  s.phi_deg = 47;
  const TestImage fine = tmdflow::testing::mx2_image(s, 900, 0.04);
  const int rows = 300, cols = 360;
  const double step = 0.09, stretch = 1.07, shear = 0.03;
  const sim::Grid grid{fine.size, fine.size, 0.04, 0.04, 0, 0};
  // J pixel (i, j) shows the fine image's point (x, y) = origin + (j step + i step shear, i step stretch).
  const double ox = fine.centre_col * 0.04 - 0.5 * cols * step - 0.5 * rows * step * shear, oy = fine.centre_row * 0.04 - 0.5 * rows * step * stretch;
  std::vector<double> xs, ys;
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) xs.push_back(ox + j * step + i * step * shear), ys.push_back(oy + i * step * stretch);
  std::vector<float> sheared(xs.size());
  sim::resample_bicubic(fine.pixels.data(), grid, xs.data(), ys.data(), xs.size(), sheared.data());
  // The metal site at the fine image's centre, in J's pixels.
  const double ci = (fine.centre_row * 0.04 - oy) / (step * stretch), cj = (fine.centre_col * 0.04 - ox - ci * step * shear) / step;

  analysis::LatticeOptions o;
  o.material = "MoS2";
  o.pixel_A = step * std::sqrt(stretch);  // the pixel of the same area, as a square-pixel calibration would say
  const auto f = analysis::find_lattice(sheared.data(), rows, cols, o);
  EXPECT_NEAR(f.scale, 1, 0.002) << f.describe();
  EXPECT_NEAR(f.anisotropy, 1.0764, 0.003) << f.describe();  // singular values of [[1, 0.03], [0, 1.07]]: 1.0732 / 0.9970
  const auto reference = find(fine, "MoS2");
  const int n = 64;
  std::vector<float> a(std::size_t(n) * n), b(a.size());
  analysis::sample_canonical_window(sheared.data(), rows, cols, analysis::canonical_frame(f, "MoS2"), ci, cj, n, 0.1, a.data());
  analysis::sample_canonical_window(fine.pixels.data(), fine.size, fine.size, analysis::canonical_frame(reference, "MoS2"), fine.centre_row,
                                    fine.centre_col, n, 0.1, b.data());
  EXPECT_GT(correlation(a, b), 0.995) << f.describe();
}

TEST(CanonicalWindow, SamplerPathsAgreeAndEdgesReflect) {
  const int h = 37, w = 53;
  std::vector<float> image(std::size_t(h) * w);
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) image[std::size_t(i) * w + j] = float(std::sin(0.3 * i) + std::cos(0.17 * j + 0.05 * i * j / 10) + 0.01 * i * j);
  // The identity frame at 1 A per pixel: window pixels fall on image pixels, so a window is a copy
  // of the image with half-sample reflection outside (-1 -> 0, -2 -> 1, h -> h - 1).
  const analysis::CanonicalFrame identity{{{1, 0}, {0, 1}}};
  const int n = 7;
  std::vector<float> out(std::size_t(n) * n);
  analysis::CanonicalSampler copy(image.data(), h, w, identity, n, 1.0);
  EXPECT_EQ(copy.prefilter_sigma_px(), 0);
  auto reflect = [](int i, int n) { return i < 0 ? -i - 1 : i >= n ? 2 * n - 1 - i : i; };
  for (const auto& [r0, c0] : {std::pair<int, int>{0, 0}, {h - 1, 2}, {18, w - 2}, {5, 30}}) {
    copy.sample(r0, c0, out.data());
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        EXPECT_FLOAT_EQ(out[std::size_t(i) * n + j], image[std::size_t(reflect(r0 + i - 3, h)) * w + reflect(c0 + j - 3, w)])
            << "centre " << r0 << ", " << c0 << " pixel " << i << ", " << j;
  }
  // A rotated, downsampling frame: the precomputed path (whole-pixel centres), the general path
  // (centres off the pixel grid by a hair) and the one-window function give the same values.
  const analysis::CanonicalFrame turned{{{1.2, -0.9}, {0.7, 1.4}}};
  const int m = 9;
  analysis::CanonicalSampler sampler(image.data(), h, w, turned, m, 1.1);
  EXPECT_GT(sampler.downsampling(), 1.3);
  EXPECT_GT(sampler.prefilter_sigma_px(), 0);
  std::vector<float> fast(std::size_t(m) * m), general(fast.size()), single(fast.size());
  for (const auto& [r0, c0] : {std::pair<int, int>{18, 26}, {2, 3}, {h - 1, w - 1}}) {
    sampler.sample(r0, c0, fast.data());
    sampler.sample(r0 + 1e-7, c0 - 1e-7, general.data());
    analysis::sample_canonical_window(image.data(), h, w, turned, r0, c0, m, 1.1, single.data());
    for (std::size_t p = 0; p < fast.size(); ++p) {
      EXPECT_NEAR(fast[p], general[p], 1e-4);
      EXPECT_NEAR(fast[p], single[p], 1e-4);
    }
  }
  EXPECT_THROW(analysis::CanonicalSampler(image.data(), h, w, analysis::CanonicalFrame{{{1, 2}, {2, 4}}}, 8, 1.0), ConfigError);
  EXPECT_THROW(analysis::CanonicalSampler(image.data(), h, w, identity, 0, 1.0), ConfigError);
}

TEST(CanonicalWindow, ThroughputOfManyWindows) {
  // Windows per second for the window sizes a stacking model uses (printed; the speed goal is
  // measured by benchmarks/bench_lattice, here only that thousands of windows take well under a second).
  sim::StackSpec s;
  s.material = "MoS2";
  s.phi_deg = 41;
  const TestImage t = tmdflow::testing::mx2_image(s, 768, 0.06);
  const auto f = find(t, "MoS2");
  const auto frame = analysis::canonical_frame(f, "MoS2");
  for (const int n : {64, 96, 128}) {
    analysis::CanonicalSampler sampler(t.pixels.data(), t.size, t.size, frame, n, 0.12);
    std::vector<float> out(std::size_t(n) * n);
    Stopwatch clock;
    int count = 0;
    for (int r = 140; r < 628; r += 15)
      for (int c = 140; c < 628; c += 15, ++count) sampler.sample(r, c, out.data());
    const double rate = count / clock.seconds();
    std::printf("canonical windows %d x %d (downsampling %.2f): %.0f windows/s\n", n, n, sampler.downsampling(), rate);
    EXPECT_GT(rate, 200) << n;
  }
}
