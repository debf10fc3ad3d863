// Campaign statistics of window slips on a sliding-energy landscape (analysis/landscape/basins,
// slip_density, campaign_tally; io/plot_contours): basins of planted landscapes whose minima and
// passes are known, the fold under the label symmetry, histograms and kernel densities of planted
// distributions, TED-Gen's plane inverted, and the tally of windows that must add up across ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tmdflow/analysis/landscape/basins.hpp"
#include "tmdflow/analysis/landscape/campaign_tally.hpp"
#include "tmdflow/analysis/landscape/slip_density.hpp"
#include "tmdflow/analysis/stacking_estimate.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/io/plot_contours.hpp"

using namespace tmdflow;

namespace {

const double kPi = 3.14159265358979323846;

/// A periodic well of depth `depth` at fractions m (a von Mises bump).
double well(double a, double b, std::array<double, 2> m, double depth) {
  return -depth * std::exp(3 * (std::cos(2 * kPi * (a - m[0])) + std::cos(2 * kPi * (b - m[1])) - 2));
}

struct Well {
  std::array<double, 2> at;
  double depth;
};

analysis::EnergyGrid planted(const std::vector<Well>& wells, int n) {
  analysis::EnergyGrid g;
  g.na = g.nb = n;
  g.a1_A = {6.352, 0}, g.a2_A = {3.12213044, 5.63943415};
  for (int ib = 0; ib < n; ++ib)
    for (int ia = 0; ia < n; ++ia) {
      double e = 100;
      for (const Well& w : wells) e += well(double(ia) / n, double(ib) / n, w.at, w.depth);
      g.energy_meV.push_back(e);
    }
  return g;
}

double periodic_distance(std::array<double, 2> p, std::array<double, 2> q) {
  double d = 0;
  for (int c = 0; c < 2; ++c) {
    const double x = p[std::size_t(c)] - q[std::size_t(c)];
    d = std::max(d, std::abs(x - std::round(x)));
  }
  return d;
}

/// The steepest-descent sink of a grid point (8-neighbours, periodic): what an attraction basin is.
int sink(const analysis::EnergyGrid& g, int p) {
  for (;;) {
    int best = p;
    const int ia = p % g.na, ib = p / g.na;
    for (int db = -1; db <= 1; ++db)
      for (int da = -1; da <= 1; ++da) {
        const int q = ((ib + db + g.nb) % g.nb) * g.na + (ia + da + g.na) % g.na;
        if (g.energy_meV[std::size_t(q)] < g.energy_meV[std::size_t(best)]) best = q;
      }
    if (best == p) return p;
    p = best;
  }
}

sim::LabelSymmetry plus_minus() { return sim::label_symmetry("ReS2", 2, "AA", "slip"); }

}  // namespace

TEST(LandscapeBasins, AreTheAttractionBasinsOfThePlantedMinima) {
  const std::vector<Well> wells = {{{0.25, 0.25}, 60}, {{0.62, 0.30}, 40}, {{0.38, 0.70}, 30}};
  const auto g = planted(wells, 60);
  const auto b = analysis::watershed_basins(g, 0.5);
  ASSERT_EQ(b.count(), 3);
  for (int k = 0; k < 3; ++k) {
    EXPECT_LT(periodic_distance({b.minimum[std::size_t(k)].slip_a, b.minimum[std::size_t(k)].slip_b}, wells[std::size_t(k)].at), 0.02) << k;
    EXPECT_EQ(b.regions[std::size_t(k)], 1);
  }
  EXPECT_LT(b.minimum[0].energy_meV, b.minimum[1].energy_meV);
  // Every point whose steepest descent is unambiguous (its sink one of the minima) lies in that basin.
  int agree = 0, total = 0;
  for (int p = 0; p < g.na * g.nb; ++p) {
    const int s = sink(g, p);
    const std::int32_t expected = b.label[std::size_t(s)];
    ++total;
    agree += b.label[std::size_t(p)] == expected;
  }
  EXPECT_GT(double(agree) / total, 0.99) << agree << " of " << total;
  // The escape of the shallowest well: its pass to a neighbour lies below the flat level (100) and
  // above its own minimum by less than its depth.
  const double escape = b.escape_meV(2);
  EXPECT_GT(escape, 5);
  EXPECT_LT(escape, 30.5);
  EXPECT_EQ(b.at(0.25, 0.25), 0);
  EXPECT_EQ(b.at(1.62, -0.70), 1);  // periodic
}

TEST(LandscapeBasins, ShallowDipsMergeIntoTheirNeighbour) {
  // A 1 meV dimple on the plateau beside a deep well: its own basin without merging, none with 2 meV.
  const auto g = planted({{{0.3, 0.3}, 60}, {{0.8, 0.8}, 1}}, 80);
  const auto all = analysis::watershed_basins(g, 0.0);
  const auto merged = analysis::watershed_basins(g, 2.0);
  EXPECT_GE(all.count(), 2);
  EXPECT_EQ(merged.count(), 1);
  EXPECT_TRUE(std::isinf(merged.escape_meV(0)));
}

TEST(LandscapeBasins, FoldedLandscapeIsSymmetricAndItsBasinsComeInClasses) {
  // E(s) != E(-s): wells at M1 (deep) and -M1 (shallow), M2 alone.
  const std::array<double, 2> m1 = {0.25, 0.25}, m2 = {0.62, 0.30};
  const auto g = planted({{m1, 60}, {{-m1[0], -m1[1]}, 20}, {m2, 40}}, 48);
  const auto sym = plus_minus();
  const auto f = analysis::fold_landscape(g, sym);
  for (int ib = 0; ib < g.nb; ++ib)
    for (int ia = 0; ia < g.na; ++ia) {
      EXPECT_EQ(f.at(ia, ib), f.at(-ia, -ib));
      EXPECT_EQ(f.at(ia, ib), std::min(g.at(ia, ib), g.at(-ia, -ib)));
    }
  const auto raw = analysis::watershed_basins(f, 1.0);
  EXPECT_EQ(raw.count(), 4);  // +-M1, +-M2
  const auto classes = analysis::merge_equivalent_basins(raw, sym);
  ASSERT_EQ(classes.count(), 2);
  EXPECT_EQ(classes.regions[0], 2);
  EXPECT_EQ(classes.regions[1], 2);
  EXPECT_EQ(classes.at(0.25, 0.25), 0);
  EXPECT_EQ(classes.at(0.75, 0.75), 0);  // -M1 folded: the energy of M1
  EXPECT_EQ(classes.at(0.62, 0.30), 1);
  EXPECT_EQ(classes.at(0.38, 0.70), 1);
  EXPECT_NEAR(classes.minimum[1].energy_meV - classes.minimum[0].energy_meV, 20, 1.0);
  // The pass between the classes is lower than between two members of one class? Either way the
  // class's escape is to the other class.
  EXPECT_GT(classes.escape_meV(1), 5);
  // A symmetry that is not a bilayer slip's is refused.
  EXPECT_THROW(analysis::fold_landscape(g, sim::label_symmetry("ReS2", 3, "AA", "slip")), ConfigError);
}

TEST(LandscapeBasins, ResamplingKeepsGridPointsAndInterpolatesBetween) {
  const auto g = planted({{{0.3, 0.4}, 50}}, 24);
  const auto r = analysis::resample_landscape(g, 72, 72);
  for (int ib = 0; ib < 24; ++ib)
    for (int ia = 0; ia < 24; ++ia) EXPECT_NEAR(r.at(3 * ia, 3 * ib), g.at(ia, ib), 1e-9);
  EXPECT_NEAR(r.at(1, 0), g.interpolate(1.0 / 72, 0), 1e-12);
}

TEST(SlipDensity, HistogramCountsWholeWindowsAndWrapsPeriodicPlanes) {
  auto h = analysis::fraction_histogram(10, 10, {6.352, 0}, {3.12213044, 5.63943415});
  EXPECT_TRUE(h.add(0.05, 0.05));
  EXPECT_TRUE(h.add(1.05, -0.95));  // the same bin
  EXPECT_TRUE(h.add(-0.01, 0.999));  // wraps to the last bin of both
  EXPECT_FALSE(h.add(NAN, 0.1));
  EXPECT_EQ(h.counts[0], 2);
  EXPECT_EQ(h.counts[99], 1);
  EXPECT_EQ(h.total(), 3);
  EXPECT_NEAR(h.bin_area_A2(), 6.352 * 5.63943415 / 100, 1e-9);
  auto t = analysis::tedgen_histogram(0.1);
  EXPECT_FALSE(t.add(t.x0 - 0.01, t.y0 + 1));
  EXPECT_TRUE(t.add(t.x0 + 0.01, t.y0 + 1));
  EXPECT_EQ(t.x_edges().size(), std::size_t(t.nx + 1));
}

TEST(SlipDensity, KernelDensityOfAPlantedGaussianHasItsMeanMassAndWidth) {
  // Slips drawn from an isotropic Gaussian of sigma0 (Cartesian) around a point of the cell.
  const std::array<double, 2> a1 = {6.352, 0}, a2 = {3.12213044, 5.63943415};
  auto h = analysis::fraction_histogram(96, 96, a1, a2);
  const double sigma0 = 0.25, bandwidth = 0.2;
  const std::array<double, 2> centre = {0.3, 0.6};
  std::mt19937 rng(7);
  std::normal_distribution<double> n(0, sigma0);
  const double det = a1[0] * a2[1] - a1[1] * a2[0];
  for (int k = 0; k < 20000; ++k) {
    const double dx = n(rng), dy = n(rng);
    h.add(centre[0] + (dx * a2[1] - dy * a2[0]) / det, centre[1] + (a1[0] * dy - a1[1] * dx) / det);
  }
  const auto d = analysis::kernel_density(h, bandwidth);
  double mass = 0, mx = 0, my = 0, var = 0;
  for (int i = 0; i < h.ny; ++i)
    for (int j = 0; j < h.nx; ++j) {
      const double w = d[std::size_t(i) * h.nx + j] * h.bin_area_A2();
      const double fa = (j + 0.5) / h.nx - centre[0], fb = (i + 0.5) / h.ny - centre[1];
      const double x = fa * a1[0] + fb * a2[0], y = fa * a1[1] + fb * a2[1];
      mass += w, mx += w * x, my += w * y, var += w * (x * x + y * y) / 2;
    }
  EXPECT_NEAR(mass, 1.0, 1e-9);
  EXPECT_NEAR(mx, 0, 0.01);
  EXPECT_NEAR(my, 0, 0.01);
  // Per axis: sigma0^2 + bandwidth^2 + what the bins add (binning twice: width^2 / 12 each, about).
  const double bin = 6.4 / 96;
  EXPECT_NEAR(var, sigma0 * sigma0 + bandwidth * bandwidth + bin * bin / 6, 0.004);
  // The peak density of the sum of Gaussians: 1 / (2 pi (sigma0^2 + h^2)).
  EXPECT_NEAR(*std::max_element(d.begin(), d.end()), 1 / (2 * kPi * (sigma0 * sigma0 + bandwidth * bandwidth)), 0.08);
}

TEST(SlipDensity, TedgenPlaneInvertsTheirConvention) {
  const auto box = analysis::tedgen_histogram(0.1);
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-4, 4);
  int inside = 0;
  for (int k = 0; k < 400; ++k) {
    const double dx = u(rng), dy = u(rng);
    const auto d = analysis::tedgen_da_db(dx, dy);
    if (!std::isfinite(d[0])) continue;
    ++inside;
    EXPECT_TRUE(analysis::in_tedgen_cell(d[0], d[1])) << dx << ", " << dy;
    // Their (x, y) is the slip or its inverse, turned to y up, modulo their lattice.
    const auto xy = analysis::tedgen_xy(d[0], d[1]);
    bool found = false;
    for (int sg : {-1, 1})
      for (int i = -2; i <= 2; ++i)
        for (int j = -2; j <= 2; ++j) {
          const double x = sg * -dx + 6.42 * i - 3.21 * j, y = sg * dy + 5.71 * j;
          found = found || std::hypot(x - xy[0], y - xy[1]) < 1e-9;
        }
    EXPECT_TRUE(found) << dx << ", " << dy;
    EXPECT_GE(d[0], box.x0);
    EXPECT_LE(d[0], box.x0 + box.nx * box.dx);
    EXPECT_GE(d[1], box.y0);
    EXPECT_LE(d[1], box.y0 + box.ny * box.dy);
  }
  EXPECT_GT(inside, 380);
  EXPECT_FALSE(analysis::in_tedgen_cell(box.x0 + box.nx * box.dx, box.y0 + box.ny * box.dy));  // the far corner of the box
}

TEST(CampaignTally, ClassifiesWindowsAndAddsUpAcrossShards) {
  const std::array<double, 2> m1 = {0.25, 0.25}, m2 = {0.62, 0.30};
  const auto g = planted({{m1, 60}, {{-m1[0], -m1[1]}, 20}, {m2, 40}, {{-m2[0], -m2[1]}, 30}}, 48);
  const auto sym = plus_minus();
  auto make = [&] {
    const auto folded = analysis::merge_equivalent_basins(analysis::watershed_basins(analysis::fold_landscape(g, sym), 1.0), sym);
    return analysis::CampaignTally(sym, folded, analysis::watershed_basins(g, 1.0),
                                   analysis::fraction_histogram(32, 32, {6.352, 0}, {3.12213044, 5.63943415}), analysis::tedgen_histogram(0.1), 0.5);
  };
  analysis::CampaignTally whole = make(), first = make(), second = make();
  std::mt19937 rng(11);
  std::normal_distribution<double> n(0, 0.02);
  std::uniform_int_distribution<int> sign(0, 1), shift(-1, 1);
  std::vector<std::vector<analysis::CampaignWindow>> images(6);
  std::vector<std::int64_t> planted_count(2, 0);
  for (std::size_t k = 0; k < images.size(); ++k)
    for (int w = 0; w < 20; ++w) {
      const int basin = w < int(4 + 2 * k) ? 0 : 1;
      const auto& m = basin == 0 ? m1 : m2;
      const double sg = sign(rng) ? 1 : -1;
      analysis::CampaignWindow x{sg * (m[0] + n(rng)) + shift(rng), sg * (m[1] + n(rng)) + shift(rng), NAN, NAN, 0.9};
      if (w == 19) x.confidence = 0.1;  // left out
      if (w == 18) x.slip_a = NAN;       // no slip
      if (w < 18) ++planted_count[std::size_t(basin)];
      images[k].push_back(x);
    }
  for (std::size_t k = 0; k < images.size(); ++k) {
    const auto t = whole.add_image(images[k]);
    (k % 2 ? second : first).add_image(images[k]);
    EXPECT_EQ(t.kept, 18);
    EXPECT_EQ(t.low_confidence, 1);
    EXPECT_EQ(t.missing, 1);
    EXPECT_EQ(t.window_basin[19], -1);
    EXPECT_EQ(t.window_basin[18], -1);
    EXPECT_EQ(t.basin_count[0], std::int64_t(4 + 2 * k));
  }
  EXPECT_EQ(whole.basin_count()[0], planted_count[0]);
  EXPECT_EQ(whole.basin_count()[1], planted_count[1]);
  EXPECT_EQ(whole.fractions().total(), 108);
  EXPECT_EQ(whole.outside_tedgen(), 108);  // no (Da, Db) given
  // Pairs of unfolded basins (M1, M2, -M2, -M1 by depth): M1 windows are (0, 3), M2 windows (1, 2).
  const int U = whole.unfolded().count();
  ASSERT_EQ(U, 4);
  EXPECT_EQ(whole.pair_count()[0 * U + 3], planted_count[0]);
  EXPECT_EQ(whole.pair_count()[1 * U + 2], planted_count[1]);
  // Two shards summed are the whole, exactly.
  auto sum = first.counts();
  const auto other = second.counts();
  for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += other[k];
  EXPECT_EQ(sum, whole.counts());
  first.set_counts(sum);
  EXPECT_EQ(first.kept(), whole.kept());
}

TEST(PlotContours, SegmentsLieOnTheLevelAndBordersBetweenRegions) {
  const int n = 40;
  std::vector<float> v(std::size_t(n * n));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) v[std::size_t(i * n + j)] = float(std::hypot(i - 20.0, j - 20.0));
  const auto marks = io::plot::contour_marks(v, n, n, {10.0}, {255, 255, 255}, 1);
  ASSERT_GT(marks.size(), 50u);
  double length = 0;
  for (const auto& m : marks) {
    EXPECT_NEAR(std::hypot(m.x0 - 20, m.y0 - 20), 10, 0.1);
    EXPECT_NEAR(std::hypot(m.x1 - 20, m.y1 - 20), 10, 0.1);
    length += std::hypot(m.x1 - m.x0, m.y1 - m.y0);
  }
  EXPECT_NEAR(length, 2 * kPi * 10, 0.5);  // one closed circle
  // Two regions split at column 10 of a 5 x 20 map: 5 edge segments; -1 pixels draw none.
  std::vector<std::int32_t> labels(100);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 20; ++j) labels[std::size_t(i * 20 + j)] = j < 10 ? 0 : (j < 15 ? 1 : -1);
  const auto borders = io::plot::region_border_marks(labels, 5, 20, {0, 0, 0}, 1);
  ASSERT_EQ(borders.size(), 5u);
  for (const auto& m : borders) EXPECT_DOUBLE_EQ(m.x0, 9.5);
}
