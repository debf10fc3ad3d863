// The lattice graph of MX2 atom columns (analysis/atoms/lattice_graph.hpp, issue #17): sublattices
// and empty sites on honeycombs that are rotated, strained, noisy, split into two grains and
// missing columns, against the sites they were made from.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tmdflow/analysis/atoms/lattice_graph.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"

using namespace tmdflow;
using namespace tmdflow::analysis::atoms;

namespace {

using tmdflow::units::pi;

struct TrueSite {
  double x, y;
  bool metal;
  bool present;
};

struct Honeycomb {
  double bond = 10;          // pixels (a / sqrt(3))
  double rotation_deg = 17;  // of the lattice
  double strain_x = 0;       // uniaxial strain along x
  double noise = 0;          // position noise [fraction of the bond]
  double missing = 0;        // fraction of columns removed
  double size = 400;         // field [pixels]
  double metal_intensity = 2.6, chalcogen_intensity = 1.0, intensity_noise = 0.1;
  // Two grains: x > size/2 rotated by this much more (0: one grain).
  double second_grain_deg = 0;
  unsigned seed = 3;
};

std::vector<TrueSite> make_sites(const Honeycomb& h) {
  std::mt19937 rng(h.seed);
  std::normal_distribution<double> gauss(0, 1);
  std::uniform_real_distribution<double> uni(0, 1);
  const double a = h.bond * std::sqrt(3.0);
  std::vector<TrueSite> sites;
  for (int grain = 0; grain < (h.second_grain_deg != 0 ? 2 : 1); ++grain) {
    const double rot = (h.rotation_deg + grain * h.second_grain_deg) * pi / 180;
    const double c = std::cos(rot), s = std::sin(rot);
    const int span = int(2 * h.size / a) + 2;
    for (int i = -span; i <= span; ++i)
      for (int j = -span; j <= span; ++j)
        for (int sub = 0; sub < 2; ++sub) {
          // a1 = (a, 0), a2 = (a/2, a sqrt3/2); chalcogen at (a1 + a2) / 3.
          double u = i * a + j * a / 2 + (sub ? a / 2 : 0), v = j * a * std::sqrt(3.0) / 2 + (sub ? a / (2 * std::sqrt(3.0)) : 0);
          double X = c * u - s * v + h.size / 2, Y = s * u + c * v + h.size / 2;
          X = h.size / 2 + (X - h.size / 2) * (1 + h.strain_x);
          if (X < 0 || X >= h.size || Y < 0 || Y >= h.size) continue;
          if (h.second_grain_deg != 0 && ((X < h.size / 2) != (grain == 0))) continue;
          sites.push_back({X + h.noise * h.bond * gauss(rng), Y + h.noise * h.bond * gauss(rng), sub == 0, uni(rng) >= h.missing});
        }
  }
  return sites;
}

struct Result {
  double sublattice_accuracy = 0;  // found columns with a known sublattice that match
  double unknown_fraction = 0;
  double empty_recall = 0, empty_precision = 0, empty_sublattice_accuracy = 0;
  double worst_empty_error = 0;    // [fraction of the bond]
};

Result score(const Honeycomb& h, const LatticeGraphSpec& spec, double margin, LatticeGraph* out = nullptr) {
  std::mt19937 rng(h.seed + 100);
  std::normal_distribution<double> gauss(0, 1);
  const auto truth = make_sites(h);
  std::vector<double> x, y, in;
  std::vector<const TrueSite*> found, removed;
  for (const auto& t : truth) {
    if (!t.present) {
      removed.push_back(&t);
      continue;
    }
    x.push_back(t.x), y.push_back(t.y);
    in.push_back((t.metal ? h.metal_intensity : h.chalcogen_intensity) * (1 + h.intensity_noise * gauss(rng)));
    found.push_back(&t);
  }
  const LatticeGraph g = build_lattice_graph(x, y, in, spec);
  Result r;
  int right = 0, known = 0;
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto sub = g.sites[i].sublattice;
    if (sub == Sublattice::unknown) continue;
    ++known;
    right += (sub == Sublattice::metal) == found[i]->metal;
  }
  r.sublattice_accuracy = known ? double(right) / known : 0;
  r.unknown_fraction = 1 - double(known) / double(found.size());
  // Empty sites against the removed columns away from the edges.
  auto inside = [&](double X, double Y) { return X > margin && Y > margin && X < h.size - margin && Y < h.size - margin; };
  int removed_inside = 0, recovered = 0, empties_inside = 0, true_empties = 0, empty_sub_right = 0;
  std::vector<char> matched(g.sites.size(), 0);
  for (const TrueSite* t : removed) {
    if (!inside(t->x, t->y)) continue;
    ++removed_inside;
    for (std::size_t k = std::size_t(g.columns); k < g.sites.size(); ++k) {
      const double d = std::hypot(g.sites[k].x - t->x, g.sites[k].y - t->y);
      if (d < 0.4 * h.bond) {
        ++recovered;
        matched[k] = 1;
        r.worst_empty_error = std::max(r.worst_empty_error, d / h.bond);
        empty_sub_right += (g.sites[k].sublattice == Sublattice::metal) == t->metal;
        break;
      }
    }
  }
  for (std::size_t k = std::size_t(g.columns); k < g.sites.size(); ++k) {
    if (!inside(g.sites[k].x, g.sites[k].y)) continue;
    ++empties_inside;
    true_empties += matched[k];
  }
  r.empty_recall = removed_inside ? double(recovered) / removed_inside : 1;
  r.empty_precision = empties_inside ? double(true_empties) / empties_inside : 1;
  r.empty_sublattice_accuracy = recovered ? double(empty_sub_right) / recovered : 1;
  if (out) *out = g;
  return r;
}

}  // namespace

TEST(LatticeGraph, RotatedStrainedNoisyHoneycombWithMissingColumns) {
  Honeycomb h;
  h.rotation_deg = 17;
  h.strain_x = 0.03;
  h.noise = 0.04;
  h.missing = 0.05;
  LatticeGraphSpec spec;  // bond length estimated from the columns
  LatticeGraph g;
  const Result r = score(h, spec, 2 * h.bond, &g);
  EXPECT_NEAR(g.bond_px, h.bond, 0.05 * h.bond);
  EXPECT_EQ(g.components, 1);
  EXPECT_GE(r.sublattice_accuracy, 0.999) << r.sublattice_accuracy;
  EXPECT_LE(r.unknown_fraction, 0.002);
  EXPECT_GE(r.empty_recall, 0.97) << r.empty_recall;
  EXPECT_GE(r.empty_precision, 0.97) << r.empty_precision;
  EXPECT_GE(r.empty_sublattice_accuracy, 0.99);
  EXPECT_LT(r.worst_empty_error, 0.25);
}

TEST(LatticeGraph, TheDimmerSublatticeIsTheMetalWhenTheChalcogenPairIsBrighter) {
  // MoSe2: Mo (Z = 42) is dimmer than a Se2 column (2 x 34) in HAADF.
  Honeycomb h;
  h.metal_intensity = 1.0, h.chalcogen_intensity = 1.4;
  LatticeGraphSpec spec;
  spec.metal_brighter = false;
  EXPECT_GE(score(h, spec, 2 * h.bond).sublattice_accuracy, 0.999);
  // Told the wrong physics, it names every column wrongly: the test can fail.
  spec.metal_brighter = true;
  EXPECT_LE(score(h, spec, 2 * h.bond).sublattice_accuracy, 0.001);
}

TEST(LatticeGraph, TwoGrainsAreEachLabelledByTheirOwnColumns) {
  Honeycomb h;
  h.rotation_deg = 5;
  h.second_grain_deg = 21;
  h.noise = 0.03;
  h.missing = 0.03;
  LatticeGraphSpec spec;
  const Result r = score(h, spec, 2 * h.bond);
  // The boundary's columns may take bonds across it; the grains themselves are right.
  EXPECT_GE(r.sublattice_accuracy, 0.98) << r.sublattice_accuracy;
  EXPECT_GE(r.empty_recall, 0.85) << r.empty_recall;
}

TEST(LatticeGraph, QuaternaryAlloyIntensitiesStillNameTheSublattices) {
  // Mo1-xWxS2(1-y)Se2y at x = y = 0.5: per column the intensity overlaps between the sublattices
  // (Mo 573, W 1514; S2 222, SSe 513, Se2 804 in Z^1.7 units), the local means do not.
  Honeycomb h;
  h.noise = 0.03;
  h.missing = 0.04;
  const auto truth = make_sites(h);
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> uni(0, 1);
  std::vector<double> x, y, in;
  std::vector<bool> metal;
  for (const auto& t : truth) {
    if (!t.present) continue;
    x.push_back(t.x), y.push_back(t.y), metal.push_back(t.metal);
    if (t.metal) {
      in.push_back(uni(rng) < 0.5 ? 573 : 1514);
    } else {
      const int se = (uni(rng) < 0.5) + (uni(rng) < 0.5);
      in.push_back(se == 0 ? 222 : se == 1 ? 513 : 804);
    }
  }
  const LatticeGraph g = build_lattice_graph(x, y, in, LatticeGraphSpec{});
  int right = 0, known = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (g.sites[i].sublattice != Sublattice::unknown) ++known, right += (g.sites[i].sublattice == Sublattice::metal) == metal[i];
  EXPECT_GE(double(right) / known, 0.995) << right << " of " << known;
  EXPECT_GE(known, int(0.995 * double(x.size())));
}

TEST(LatticeGraph, BadInputIsAConfigError) {
  LatticeGraphSpec spec;
  EXPECT_THROW(build_lattice_graph({1, 2, 3}, {1, 2}, {1, 1, 1}, spec), ConfigError);
  EXPECT_THROW(build_lattice_graph({1, 2}, {1, 2}, {1, 1}, spec), ConfigError);
  EXPECT_THROW(build_lattice_graph({1, 2, NAN}, {1, 2, 3}, {1, 1, 1}, spec), ConfigError);
  EXPECT_THROW(build_lattice_graph({1, 1, 1}, {2, 2, 2}, {1, 1, 1}, spec), ConfigError);  // no distinct neighbours
  spec.bond_tolerance = 0.7;
  EXPECT_THROW(build_lattice_graph({1, 2, 3}, {1, 2, 3}, {1, 1, 1}, spec), ConfigError);
}
