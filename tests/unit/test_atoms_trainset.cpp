// Training patches of the site network (sim/atoms_trainset, issue #17): patches are a function of
// (seed, index); every site's class is what its column holds; each class's heat map peaks at 1 on
// its sites and nowhere else; the images show what the classes mean (Z^1.7: W brighter than Mo,
// Se2 > SSe > S2, one atom dimmer than two, empty sites dark); the composition drawn is the one built.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/atoms_trainset.hpp"

using namespace tmdflow::sim;

TEST(AtomsTrainset, SiteClassOfAColumn) {
  const AlloyElements e;  // Mo, W, S, Se
  Column m;
  m.sublattice = Sublattice::metal;
  m.Z[0] = 42;
  EXPECT_EQ(site_class(m, e), host_metal);
  m.Z[0] = 74;
  EXPECT_EQ(site_class(m, e), alloy_metal);
  m.Z[0] = 0;
  EXPECT_EQ(site_class(m, e), metal_vacancy_site);
  m.Z[0] = 41;
  EXPECT_EQ(site_class(m, e), -1);
  Column x;
  x.sublattice = Sublattice::chalcogen;
  x.capacity = 2;
  const std::map<std::pair<int, int>, int> expect = {{{16, 16}, host_pair},  {{16, 34}, mixed_pair},  {{34, 16}, mixed_pair},
                                                     {{34, 34}, alloy_pair}, {{16, 0}, host_single},  {{0, 34}, alloy_single},
                                                     {{0, 0}, chalcogen_vacancy_site}};
  for (const auto& [z, cls] : expect) {
    x.Z[0] = z.first, x.Z[1] = z.second;
    EXPECT_EQ(site_class(x, e), cls) << z.first << "," << z.second;
  }
  const auto names = site_class_names(e);
  EXPECT_EQ(names, (std::vector<std::string>{"Mo", "W", "V_M", "S2", "SSe", "Se2", "S", "Se", "V_X2"}));
  EXPECT_NEAR(alloy_lattice_constant(e, 0, 0), material("MoS2").a, 1e-12);
  EXPECT_NEAR(alloy_lattice_constant(e, 1, 1), material("WSe2").a, 1e-12);
  EXPECT_NEAR(alloy_lattice_constant(e, 0, 0.5), 0.5 * (material("MoS2").a + material("MoSe2").a), 1e-12);
}

TEST(AtomsTrainset, DeterministicPatchesWithHeatMapsOnTheirSites) {
  AtomsTrainsetSpec s;
  s.count = 12;
  s.patch_px = 64;
  s.scan.dose = {0, 0};  // noise-free: the contrast checks are exact
  s.scan.contamination = {0, 0};
  s.metal_vacancy = {0.04, 0.05};
  s.single_vacancy = {0.1, 0.12};
  s.double_vacancy = {0.04, 0.05};
  s.metal_alloy = {0.3, 0.7};
  s.chalcogen_alloy = {0.3, 0.7};
  s.end_member = 0;
  AtomsTrainsetGenerator gen(s);
  const int P = s.patch_px;
  std::vector<float> a(std::size_t(P * P)), b(a.size()), maps(std::size_t(kSiteClasses * P * P)), maps2(maps.size());
  std::vector<std::vector<double>> brightness(kSiteClasses);
  double w_sites = 0, expected_w = 0, variance_w = 0;
  for (std::int64_t k = 0; k < s.count; ++k) {
    std::vector<PatchSite> sites;
    const auto L = gen.patch(k, a.data(), maps.data(), &sites);
    gen.patch(k, b.data(), maps2.data());
    EXPECT_EQ(a, b) << "patch " << k << " is a function of (seed, index)";
    EXPECT_EQ(maps, maps2);
    EXPECT_EQ(double(sites.size()), L.sites);
    EXPECT_GE(L.native_pixel_A, 0.08 - 1e-3);
    EXPECT_LE(L.native_pixel_A, 0.2 + 1e-3);
    EXPECT_NEAR(L.lattice_A, alloy_lattice_constant(s.elements, L.metal_alloy, L.chalcogen_alloy), 0.031 * L.lattice_A);
    double patch_metals = 0;
    for (const auto& site : sites) {
      const int j = int(std::lround(site.x_px)), i = int(std::lround(site.y_px));
      if (i < 4 || j < 4 || i >= P - 4 || j >= P - 4) continue;
      // The class's map peaks near 1 within a pixel of the site; the other classes' maps are ~0 there.
      float best = 0;
      for (int di = -1; di <= 1; ++di)
        for (int dj = -1; dj <= 1; ++dj) best = std::max(best, maps[std::size_t(site.site_class * P * P + (i + di) * P + j + dj)]);
      EXPECT_GT(best, 0.8f) << "class " << site.site_class;
      for (int c = 0; c < kSiteClasses; ++c) {
        if (c != site.site_class) {
          EXPECT_LT(maps[std::size_t(c * P * P + i * P + j)], 0.05f);
        }
      }
      // The image's mean over a 0.3 A disk: what the class holds.
      double sum = 0;
      int n = 0;
      for (int di = -2; di <= 2; ++di)
        for (int dj = -2; dj <= 2; ++dj)
          if (di * di + dj * dj <= 2) sum += a[std::size_t((i + di) * P + j + dj)], ++n;
      brightness[std::size_t(site.site_class)].push_back(sum / n);
      if (is_metal_class(site.site_class) && site.site_class != metal_vacancy_site) patch_metals += 1, w_sites += site.site_class == alloy_metal;
    }
    expected_w += patch_metals * L.metal_alloy;
    variance_w += patch_metals * L.metal_alloy * (1 - L.metal_alloy);
  }
  auto mean = [&](int c) {
    const auto& v = brightness[std::size_t(c)];
    EXPECT_FALSE(v.empty()) << "class " << c << " drawn";
    double t = 0;
    for (double x : v) t += x;
    return v.empty() ? 0.0 : t / double(v.size());
  };
  EXPECT_GT(mean(alloy_metal), 1.5 * mean(host_metal));
  EXPECT_GT(mean(alloy_pair), mean(mixed_pair));
  EXPECT_GT(mean(mixed_pair), mean(host_pair));
  EXPECT_GT(mean(host_pair), mean(host_single));
  EXPECT_GT(mean(mixed_pair), mean(alloy_single));
  EXPECT_GT(mean(alloy_single), mean(host_single));
  EXPECT_LT(mean(metal_vacancy_site), 0.5 * mean(host_single));
  EXPECT_LT(mean(chalcogen_vacancy_site), 0.5 * mean(host_single));
  // The alloy built is the alloy drawn: W sites within 4 binomial standard deviations of the
  // count each patch's x predicts.
  EXPECT_NEAR(w_sites, expected_w, 4 * std::sqrt(variance_w));
}

TEST(AtomsTrainset, BadSpecsAreRejected) {
  AtomsTrainsetSpec s;
  s.elements.metal_alloy_Z = s.elements.metal_Z;
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = AtomsTrainsetSpec{};
  s.elements.metal_Z = 75;  // ReS2 is no MX2 host
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = AtomsTrainsetSpec{};
  s.chalcogen_alloy = {0.5, 1.2};
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = AtomsTrainsetSpec{};
  s.single_vacancy = {0.2, 0.1};
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
}

TEST(AtomsTrainset, BackgroundReadNoiseAndPointSpreadAsDrawn) {
  AtomsTrainsetSpec plain;
  plain.count = 4;
  plain.patch_px = 48;
  plain.scan.dose = {1e5, 1e5};
  AtomsTrainsetSpec styled = plain;
  styled.background = {0.02, 0.02};
  styled.read_noise = {0.5, 0.5};
  styled.psf_A = {0.4, 0.4};
  AtomsTrainsetGenerator a(plain), b(styled);
  const int P = plain.patch_px;
  std::vector<float> x(std::size_t(P * P)), y(x.size());
  for (std::int64_t k = 0; k < plain.count; ++k) {
    const auto La = a.patch(k, x.data(), nullptr);
    const auto Lb = b.patch(k, y.data(), nullptr);
    EXPECT_EQ(La.lattice_A, Lb.lattice_A) << "the realism is drawn after every other condition";
    EXPECT_EQ(La.metal_alloy, Lb.metal_alloy);
    EXPECT_EQ(Lb.background, 0.02);
    EXPECT_EQ(Lb.psf_A, 0.4);
    double mx = 0, my = 0, vx = 0, vy = 0;
    for (std::size_t q = 0; q < x.size(); ++q) mx += x[q], my += y[q];
    mx /= double(x.size()), my /= double(y.size());
    for (std::size_t q = 0; q < x.size(); ++q) vx += (x[q] - mx) * (x[q] - mx), vy += (y[q] - my) * (y[q] - my);
    // The background adds 0.02 of the beam (in electrons at the dose and scan pixel); the spread
    // smooths the columns, so the contrast falls although the background adds noise.
    const double electrons = 1e5 * La.native_pixel_A * La.native_pixel_A;
    EXPECT_NEAR(my - mx, 0.02 * electrons, 0.15 * 0.02 * electrons);
    EXPECT_LT(vy, 0.8 * vx);
  }
  styled.psf_A = {-0.1, 0.2};
  EXPECT_THROW(validate(styled), tmdflow::ConfigError);
  styled.psf_A = {0, 0};
  styled.background = {0, 2};
  EXPECT_THROW(validate(styled), tmdflow::ConfigError);
}
