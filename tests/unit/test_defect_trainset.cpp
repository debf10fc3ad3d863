// Training patches of the defect detector (sim/defect_trainset): the bilinear resampling is the
// detector inference's (a 2x reduction averages 2 x 2 pixels), patches are a function of (seed,
// index), every defect's heat map peaks at 1 where its class's channel says, and the images show
// what the classes mean (a dopant's column darker than the host metal's, a vacancy's column darker
// than a full chalcogen column).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/defect_trainset.hpp"

using namespace tmdflow::sim;

TEST(DefectTrainset, BilinearResamplingAsTheDetectorsInference) {
  std::vector<float> in(16);
  for (int k = 0; k < 16; ++k) in[std::size_t(k)] = float(k * k % 7);
  std::vector<float> half(4), same(16);
  resample_bilinear(in.data(), 4, 4, half.data(), 2, 2);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      const double box = (in[std::size_t(8 * i + 2 * j)] + in[std::size_t(8 * i + 2 * j + 1)] + in[std::size_t(8 * i + 4 + 2 * j)] +
                          in[std::size_t(8 * i + 4 + 2 * j + 1)]) / 4;
      EXPECT_NEAR(half[std::size_t(2 * i + j)], box, 1e-5);
    }
  resample_bilinear(in.data(), 4, 4, same.data(), 4, 4);
  EXPECT_EQ(same, in);
}

TEST(DefectTrainset, DeterministicPatchesWithHeatMapsOnTheirDefects) {
  DefectTrainsetSpec s;
  s.count = 16;
  s.patch_px = 48;
  s.scan.dose = {0, 0};  // noise-free: the contrast checks below are exact
  s.dopant_fraction = {0.08, 0.1};
  s.single_vacancy = {0.08, 0.1};
  s.double_vacancy = {0.02, 0.03};
  s.scan.contamination = {0, 0};
  DefectTrainsetGenerator gen(s);
  const int P = s.patch_px;
  std::vector<float> a(std::size_t(P * P)), b(a.size()), maps(std::size_t(kDefectClasses * P * P)), maps2(maps.size());
  int peaks = 0, dark_dopants = 0, dopants = 0, dark_vacancies = 0, vacancies = 0;
  for (std::int64_t k = 0; k < s.count; ++k) {
    std::vector<PatchDefect> defects;
    const auto L = gen.patch(k, a.data(), maps.data(), &defects);
    gen.patch(k, b.data(), maps2.data());
    EXPECT_EQ(a, b) << "patch " << k << " is a function of (seed, index)";
    EXPECT_EQ(maps, maps2);
    EXPECT_GE(L.native_pixel_A, 0.1 - 1e-3);
    EXPECT_LE(L.native_pixel_A, 0.2 + 1e-3);
    EXPECT_GE(L.voltage_kV, 80);
    EXPECT_LE(L.voltage_kV, 100);
    const double mean = std::accumulate(a.begin(), a.end(), 0.0) / double(a.size());
    for (const auto& d : defects) {
      const int j = int(std::lround(d.x_px)), i = int(std::lround(d.y_px));
      if (i < 3 || j < 3 || i >= P - 3 || j >= P - 3) continue;
      // The class's heat map peaks near 1 within a pixel of the defect; no other class's does.
      float best = 0;
      for (int di = -1; di <= 1; ++di)
        for (int dj = -1; dj <= 1; ++dj) best = std::max(best, maps[std::size_t((d.defect_class * P + i + di) * P + j + dj)]);
      EXPECT_GT(best, 0.85f) << "patch " << k << " class " << d.defect_class;
      EXPECT_LT(best, 1.3f);
      ++peaks;
      const float v = a[std::size_t(i * P + j)];
      if (d.defect_class == 2) ++dopants, dark_dopants += v < 0.8 * *std::max_element(a.begin(), a.end());
      if (d.defect_class == 1) ++vacancies, dark_vacancies += v < mean;
    }
  }
  EXPECT_GT(peaks, 20);
  EXPECT_GT(dopants, 3);
  EXPECT_EQ(dark_dopants, dopants) << "a Mo column is darker than the brightest W column";
  EXPECT_GT(vacancies, 2);
  EXPECT_EQ(dark_vacancies, vacancies) << "an empty chalcogen column is darker than the mean";
}

TEST(DefectTrainset, RejectsBadSpecs) {
  DefectTrainsetSpec s;
  s.material = "ReS2";
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = {};
  s.dopant_Z = 74;  // the host metal of WS2
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = {};
  s.scan.inner_mrad = {60, 200};
  s.scan.outer_mrad = {150, 250};
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = {};
  s.scan.dose = {0, 1e5};
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
}
