// Augmentation: the eight dihedral transforms are distinct, and the vector map of a transform
// moves a bright pixel where the image transform moves it; draws are keyed by (seed, epoch,
// index) alone; noise reaches the PSNR it is asked for (Gaussian and Poisson); vacancies darken,
// contamination brightens, masks flatten, crops and scales keep the map aligned with the image.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/augment.hpp"

namespace learn = tmdflow::learn;

namespace {

learn::Sample ramp_sample(std::int64_t index, std::int64_t h, std::int64_t w) {
  learn::Sample s;
  s.index = index;
  s.height = h;
  s.width = w;
  s.input.resize(std::size_t(h * w));
  for (std::int64_t i = 0; i < h * w; ++i) s.input[std::size_t(i)] = float(i);
  s.target_kind = learn::TargetKind::map;
  s.target = s.input;
  return s;
}

double psnr_db(const std::vector<float>& clean, const std::vector<float>& noisy) {
  const auto [lo, hi] = std::minmax_element(clean.begin(), clean.end());
  double mse = 0;
  for (std::size_t i = 0; i < clean.size(); ++i) mse += (noisy[i] - clean[i]) * (noisy[i] - clean[i]);
  mse /= double(clean.size());
  return 10 * std::log10(double(*hi - *lo) * double(*hi - *lo) / mse);
}

TEST(Augment, DihedralTransformsAreDistinctAndVectorsFollowPixels) {
  std::set<std::vector<float>> images;
  const std::int64_t n = 7, cy = 3, cx = 3;
  for (int k = 0; k < 4; ++k)
    for (bool flip : {false, true}) {
      learn::Dihedral d{k, flip};
      std::int64_t h = n, w = n;
      images.insert(learn::apply_dihedral(d, ramp_sample(0, n, n).input, 1, h, w));
      // A bright pixel at the centre + (2, 1) goes to the centre + the mapped vector.
      std::vector<float> img(std::size_t(n * n), 0.0f);
      img[std::size_t((cy + 1) * n + cx + 2)] = 1.0f;
      const auto out = learn::apply_dihedral(d, img, 1, h, w);
      double dx = 2, dy = 1;
      d.map_vector(dx, dy);
      EXPECT_EQ(out[std::size_t((cy + std::int64_t(dy)) * n + cx + std::int64_t(dx))], 1.0f) << "rotations " << k << " flip " << flip;
    }
  EXPECT_EQ(images.size(), 8u);
  // A non-square image: odd rotations swap the sides.
  learn::Dihedral quarter{1, false};
  std::int64_t h = 3, w = 5;
  learn::apply_dihedral(quarter, std::vector<float>(15, 0.0f), 1, h, w);
  EXPECT_EQ(h, 5);
  EXPECT_EQ(w, 3);
}

TEST(Augment, DrawsAreKeyedBySeedEpochAndIndex) {
  learn::AugmentOptions o;
  o.dihedral = true;
  o.noise_probability = 1.0;
  o.vacancies_max = 3;
  auto a = ramp_sample(5, 16, 16), b = ramp_sample(5, 16, 16), c = ramp_sample(6, 16, 16), d = ramp_sample(5, 16, 16);
  c.index = 5;  // same key as a, made separately
  learn::augment(a, o, 1, 2);
  learn::augment(b, o, 1, 2);
  learn::augment(c, o, 1, 2);
  learn::augment(d, o, 1, 3);
  EXPECT_EQ(a.input, b.input);
  EXPECT_NE(a.input, d.input);
  auto e = ramp_sample(7, 16, 16);
  learn::augment(e, o, 1, 2);
  EXPECT_NE(a.input, e.input);
}

TEST(Augment, NoiseReachesTheRequestedPsnr) {
  for (double poisson : {0.0, 1.0}) {
    learn::AugmentOptions o;
    o.noise_probability = 1.0;
    o.psnr_min_db = o.psnr_max_db = 20.0;
    o.poisson_fraction = poisson;
    double sum = 0;
    for (int i = 0; i < 8; ++i) {
      learn::Sample s;
      s.index = i;
      s.height = s.width = 64;
      s.input.assign(64 * 64, 0.0f);
      for (std::size_t p = 0; p < s.input.size(); ++p) s.input[p] = float(p % 2);  // half at the peak, half at zero
      const auto clean = s.input;
      learn::augment(s, o, 3, 0);
      sum += psnr_db(clean, s.input);
    }
    // Gaussian: exactly the PSNR on average; Poisson: the peak's PSNR, the dark half adds no noise (+3 dB).
    EXPECT_NEAR(sum / 8, poisson > 0 ? 23.0 : 20.0, 0.5) << "Poisson fraction " << poisson;
  }
}

TEST(Augment, SpotsMasksCropsAndScales) {
  auto flat = [](std::int64_t index) {
    learn::Sample s;
    s.index = index;
    s.height = s.width = 32;
    s.input.assign(32 * 32, 1.0f);
    s.input[0] = 0.0f;  // a range of 1
    return s;
  };
  auto mean = [](const learn::Sample& s) { return std::accumulate(s.input.begin(), s.input.end(), 0.0) / double(s.input.size()); };
  learn::AugmentOptions vac;
  vac.vacancies_max = 5;
  learn::AugmentOptions dirt;
  dirt.contamination_max = 3;
  learn::AugmentOptions mask;
  mask.mask_probability = 1.0;
  int darker = 0, brighter = 0, masked = 0;
  for (int i = 0; i < 40; ++i) {
    auto a = flat(i), b = flat(i), c = flat(i);
    const double m0 = mean(a);
    learn::augment(a, vac, 1, 0);
    learn::augment(b, dirt, 1, 0);
    learn::augment(c, mask, 1, 0);
    darker += mean(a) < m0 - 1e-4;
    brighter += mean(b) > m0 + 1e-4;
    masked += std::count(c.input.begin(), c.input.end(), float(m0)) > 0;
    EXPECT_LE(mean(a), m0 + 1e-9);
    EXPECT_GE(mean(b), m0 - 1e-9);
  }
  EXPECT_GE(darker, 24);
  EXPECT_GE(brighter, 24);
  EXPECT_EQ(masked, 40);

  learn::AugmentOptions geo;
  geo.crop_px = 12;
  geo.scale_min = 0.8;
  geo.scale_max = 1.25;
  auto s = ramp_sample(3, 20, 20);
  learn::augment(s, geo, 9, 1);
  ASSERT_EQ(s.height, 12);
  ASSERT_EQ(s.input.size(), 144u);
  ASSERT_EQ(s.target.size(), 144u);
  // Bilinear image against nearest map of a ramp: within one pixel step of the ramp (20 per row).
  for (std::size_t i = 0; i < 144; ++i) EXPECT_NEAR(s.input[i], s.target[i], 21.0f);

  learn::AugmentOptions bad;
  bad.crop_px = 40;
  auto t = ramp_sample(0, 20, 20);
  EXPECT_THROW(learn::augment(t, bad, 1, 0), tmdflow::ConfigError);
  bad = {};
  bad.noise_probability = 2;
  EXPECT_THROW(bad.validate(), tmdflow::ConfigError);
}

}  // namespace
