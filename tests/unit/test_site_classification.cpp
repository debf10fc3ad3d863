// Site classification under the sublattice constraint (analysis/atoms/site_classification.hpp,
// issue #17) on a honeycomb with known classes: the network's evidence made to confuse sites across
// sublattices (an S+Se pair looking like Mo), sites the network missed, the field's edge, and the
// composition maps against counts done by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tmdflow/analysis/atoms/site_classification.hpp"
#include "tmdflow/core/error.hpp"

using namespace tmdflow;
using namespace tmdflow::analysis::atoms;

namespace {

struct Site {
  double x, y;
  int cls;  // true class
};

/// A honeycomb of bond `bond` pixels turned by 11 degrees filling size x size, classes drawn: metal
/// Mo/W 60/40, chalcogen S2/SSe/Se2/S/Se in 40/30/20/5/5, with a few empty sites of each sublattice.
std::vector<Site> honeycomb(double bond, double size, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const double a = bond * std::sqrt(3.0), rot = 11 * M_PI / 180, c = std::cos(rot), s = std::sin(rot);
  std::vector<Site> out;
  const int span = int(2 * size / a) + 2;
  for (int i = -span; i <= span; ++i)
    for (int j = -span; j <= span; ++j)
      for (int sub = 0; sub < 2; ++sub) {
        const double U = i * a + j * a / 2 + (sub ? a / 2 : 0), V = j * a * std::sqrt(3.0) / 2 + (sub ? a / (2 * std::sqrt(3.0)) : 0);
        const double X = c * U - s * V + size / 2, Y = s * U + c * V + size / 2;
        if (X < 0 || X >= size || Y < 0 || Y >= size) continue;
        const double r = u(rng);
        int cls;
        if (sub == 0) cls = r < 0.03 ? 2 : r < 0.6 ? 0 : 1;
        else cls = r < 0.03 ? 8 : r < 0.4 ? 3 : r < 0.7 ? 4 : r < 0.9 ? 5 : r < 0.95 ? 6 : 7;
        out.push_back({X, Y, cls});
      }
  return out;
}

}  // namespace

TEST(SiteClassification, ConstraintMendsCrossSublatticeConfusionsAndFillsMissedSites) {
  const double bond = 9, size = 300;
  const auto truth = honeycomb(bond, size, 4);
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<SiteEvidence> evidence;
  std::vector<int> true_class, confused;
  int missed_metal = 0, missed_chalcogen = 0;
  for (const auto& t : truth) {
    // The network finds every atom column and half of the empty ones (the others: missed).
    const bool empty = t.cls == 2 || t.cls == 8;
    if (empty && u(rng) < 0.5) {
      const bool inside = t.x > 2 * bond && t.y > 2 * bond && t.x < size - 2 * bond && t.y < size - 2 * bond;
      if (inside) (t.cls == 2 ? missed_metal : missed_chalcogen) += 1;
      continue;
    }
    SiteEvidence e;
    e.x = t.x, e.y = t.y;
    for (auto& v : e.scores) v = float(0.05 * u(rng));
    e.scores[std::size_t(t.cls)] = float(0.7 + 0.3 * u(rng));
    // A fifth of the S+Se pairs look more like Mo (similar Z^1.7 intensity) to the network.
    const bool confuse = t.cls == 4 && u(rng) < 0.2;
    if (confuse) e.scores[0] = e.scores[4] + 0.1f;
    evidence.push_back(e);
    true_class.push_back(t.cls);
    confused.push_back(confuse);
  }
  ClassificationSpec spec;
  spec.graph.width_px = size, spec.graph.height_px = size;
  const Classification c = classify_sites(evidence, spec);
  ASSERT_GE(c.sites.size(), evidence.size());
  int right = 0, right_unconstrained = 0, n_confused = 0, mended = 0;
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    const auto& s = c.sites[i];
    EXPECT_TRUE(s.found);
    right += s.site_class == true_class[i];
    right_unconstrained += s.unconstrained_class == true_class[i];
    double total = 0;
    for (int k = 0; k < kClasses; ++k) {
      total += s.probability[std::size_t(k)];
      if (class_sublattice(k) != s.sublattice) EXPECT_EQ(s.probability[std::size_t(k)], 0.0f) << "probability off the sublattice";
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
    if (confused[i]) {
      ++n_confused;
      EXPECT_EQ(s.unconstrained_class, 0) << "the network alone calls the confused pair Mo";
      mended += s.site_class == 4;
    }
  }
  ASSERT_GT(n_confused, 10);
  EXPECT_EQ(mended, n_confused) << "the constraint gives every confused S+Se pair back its class";
  EXPECT_GE(double(right) / double(evidence.size()), 0.995);
  EXPECT_LT(right_unconstrained, right);
  // The missed empty sites come back from the graph, on the right sublattice.
  int added_metal = 0, added_chalcogen = 0;
  for (std::size_t i = evidence.size(); i < c.sites.size(); ++i) {
    const auto& s = c.sites[i];
    EXPECT_FALSE(s.found);
    EXPECT_EQ(s.unconstrained_class, -1);
    EXPECT_EQ(s.site_class, s.sublattice == Sublattice::metal ? 2 : 8);
    EXPECT_FLOAT_EQ(s.probability[std::size_t(s.site_class)], 1.0f);
    // Each added site lies on a missed true empty site of its sublattice.
    double best = 1e9;
    int cls = -1;
    for (const auto& t : truth) {
      const double d = std::hypot(t.x - s.x, t.y - s.y);
      if (d < best) best = d, cls = t.cls;
    }
    EXPECT_LT(best, 0.3 * bond);
    EXPECT_EQ(cls, s.site_class);
    (s.site_class == 2 ? added_metal : added_chalcogen) += 1;
  }
  EXPECT_GE(added_metal, missed_metal);
  EXPECT_GE(added_chalcogen, missed_chalcogen);
  EXPECT_GT(missed_metal + missed_chalcogen, 3);
}

TEST(SiteClassification, NoEmptySitesWithinTheEdgeMargin) {
  const double bond = 9, size = 200, edge = 3 * bond;
  std::vector<SiteEvidence> evidence;
  for (const auto& t : honeycomb(bond, size, 5)) {
    // Nothing is reported within the margin (as segment-atoms), and every column inside is found.
    if (t.x < edge || t.y < edge || t.x > size - edge || t.y > size - edge || t.cls == 2 || t.cls == 8) continue;
    SiteEvidence e;
    e.x = t.x, e.y = t.y;
    e.scores[std::size_t(t.cls)] = 1;
    evidence.push_back(e);
  }
  ClassificationSpec spec;
  spec.graph.width_px = size, spec.graph.height_px = size;
  const auto without = classify_sites(evidence, spec);
  spec.graph.edge_px = edge;
  const auto with = classify_sites(evidence, spec);
  std::size_t near_edge = 0;
  for (std::size_t i = evidence.size(); i < without.sites.size(); ++i) {
    const auto& s = without.sites[i];
    near_edge += s.x < edge || s.y < edge || s.x > size - edge || s.y > size - edge;
  }
  EXPECT_GE(near_edge, 3u) << "without the margin the graph calls the unsearched border empty";
  for (std::size_t i = evidence.size(); i < with.sites.size(); ++i) {
    const auto& s = with.sites[i];
    EXPECT_FALSE(s.x < edge || s.y < edge || s.x > size - edge || s.y > size - edge) << "an empty site within the margin at " << s.x << ", " << s.y;
  }
}

TEST(SiteClassification, CompositionMapsCountAtomsWithinTheRadius) {
  std::vector<ClassifiedSite> sites;
  auto add = [&](double x, double y, int cls) {
    ClassifiedSite s;
    s.x = x, s.y = y, s.site_class = cls;
    sites.push_back(s);
  };
  // Around (5, 5): metals Mo, W, W, V_M (empty: not counted); chalcogens S2, SSe, Se (one atom), V_X2.
  add(4, 5, 0), add(6, 5, 1), add(5, 4, 1), add(5, 6, 2);
  add(4, 4, 3), add(6, 6, 4), add(4, 6, 7), add(6, 4, 8);
  add(95, 95, 5);  // far away: only in its own neighbourhood
  const CompositionMaps m = composition_maps(sites, 100, 100, 3, 10);
  ASSERT_EQ(m.ny, 10);
  ASSERT_EQ(m.nx, 10);
  EXPECT_NEAR(m.x[0], 2.0 / 3.0, 1e-6);             // W / (Mo + W)
  EXPECT_NEAR(m.y[0], (0 + 1 + 1) / 5.0, 1e-6);     // Se atoms / chalcogen atoms: S2 0/2, SSe 1/2, Se 1/1
  EXPECT_TRUE(std::isnan(m.x[55]));
  EXPECT_TRUE(std::isnan(m.x[99]));
  EXPECT_NEAR(m.y[99], 1.0, 1e-6);
  EXPECT_THROW(composition_maps(sites, 100, 100, 0, 10), ConfigError);
  EXPECT_THROW(classify_sites({{0, 0, {}}, {1, 0, {}}}, ClassificationSpec{}), ConfigError);
}

TEST(SiteClassification, IntensityModelCalibratedOnTheImageTellsSeFromSSe) {
  // Additive column intensities (k per element from another code's physics: not Z^1.7), noise 4 %
  // of an S+Se pair; the network calls every single Se an S+Se pair (the error of a detector trained
  // elsewhere), and is right about everything else.
  const double bond = 9, size = 300, b = 0.3;
  const double k[4] = {10.0, 28.0, 2.3, 7.9};  // Mo, W, S, Se
  const auto truth = honeycomb(bond, size, 6);
  std::mt19937 rng(12);
  std::normal_distribution<double> noise(0, 0.4);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<SiteEvidence> evidence;
  std::vector<int> true_class;
  int singles_se = 0;
  for (const auto& t : truth) {
    SiteEvidence e;
    e.x = t.x, e.y = t.y;
    const auto a = atoms_of_class(t.cls);
    e.intensity = b + a[0] * k[0] + a[1] * k[1] + a[2] * k[2] + a[3] * k[3] + noise(rng);
    for (auto& v : e.scores) v = float(0.03 * u(rng));
    const int called = t.cls == 7 ? 4 : t.cls;  // Se -> SSe
    e.scores[std::size_t(called)] = float(0.85 + 0.1 * u(rng));
    singles_se += t.cls == 7;
    evidence.push_back(e);
    true_class.push_back(t.cls);
  }
  ASSERT_GT(singles_se, 15);
  ClassificationSpec spec;
  spec.graph.width_px = size, spec.graph.height_px = size;
  const Classification with = classify_sites(evidence, spec);
  spec.intensity_model = false;
  const Classification without = classify_sites(evidence, spec);
  ASSERT_TRUE(with.intensity.fitted);
  EXPECT_FALSE(without.intensity.fitted);
  EXPECT_NEAR(with.intensity.background, b, 0.25);
  for (int e = 0; e < 4; ++e) EXPECT_NEAR(with.intensity.k[std::size_t(e)], k[e], 0.05 * k[e] + 0.1) << "element " << e;
  int se_with = 0, se_without = 0, right_with = 0, right_without = 0;
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    se_with += true_class[i] == 7 && with.sites[i].site_class == 7;
    se_without += true_class[i] == 7 && without.sites[i].site_class == 7;
    right_with += with.sites[i].site_class == true_class[i];
    right_without += without.sites[i].site_class == true_class[i];
    EXPECT_EQ(with.sites[i].network_class, without.sites[i].site_class) << "network_class is the class without the intensity model";
  }
  EXPECT_EQ(se_without, 0);
  EXPECT_GE(se_with, singles_se - 1) << "the image's own intensities recover the single Se columns";
  EXPECT_GE(right_with, right_without + singles_se - 2) << "and break nothing the network had right";
  // Too few sites: no model, the network decides.
  const std::vector<SiteEvidence> few(evidence.begin(), evidence.begin() + 12);
  spec.intensity_model = true;
  EXPECT_FALSE(classify_sites(few, spec).intensity.fitted);
}
