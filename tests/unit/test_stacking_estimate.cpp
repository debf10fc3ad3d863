// Whole-image statistics of stacking labels on their quotient space (analysis/stacking_estimate.hpp)
// and TED-Gen's (Da, Db) convention against the values their own code gives (tedgen_reported_labels.csv).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "common/testing.hpp"
#include "tmdflow/analysis/stacking_estimate.hpp"
#include "tmdflow/core/error.hpp"

using namespace tmdflow;

namespace {

/// A bilayer slip symmetry by hand: y = (a, b) fractions of a hexagonal cell of 3.16 A, y = -y,
/// both periodic with period 1 (the group that label_symmetry gives MX2 AA-like stacks).
sim::LabelSymmetry hexagonal_pm(double a = 3.16) {
  sim::LabelSymmetry s;
  s.size = 2;
  s.maps = {{1, 0, 0, 1}, {-1, 0, 0, -1}};
  s.offsets = {{0, 0}, {0, 0}};
  s.task = "slip";
  s.period = {1, 1};
  // Metric of fractions of a1 = (a, 0), a2 = (a/2, a sqrt(3)/2): G = A^T A.
  s.metric = {a * a, a * a / 2, a * a / 2, a * a};
  return s;
}

}  // namespace

TEST(StackingEstimate, RobustCentreIgnoresFoldsAndOutliers) {
  const auto s = hexagonal_pm();
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 0.01);
  std::uniform_int_distribution<int> shift(-2, 2), sign(0, 1);
  // 90 windows near (0.02, 0.5) written as random equivalents, 10 outliers anywhere.
  std::vector<std::vector<double>> labels;
  for (int k = 0; k < 90; ++k) {
    double a = 0.02 + noise(rng), b = 0.5 + noise(rng);
    if (sign(rng)) a = -a, b = -b;
    labels.push_back({a + shift(rng), b + shift(rng)});
  }
  std::uniform_real_distribution<double> any(0, 1);
  for (int k = 0; k < 10; ++k) labels.push_back({any(rng), any(rng)});
  labels.push_back({std::nan(""), 0.1});  // skipped
  const auto c = analysis::robust_centre(s, labels, 0.3);
  EXPECT_EQ(c.count, 100);
  EXPECT_LT(sim::label_distance(s, c.label, {0.02, 0.5}), 0.01);
  EXPECT_GT(c.inliers, 0.85);
  EXPECT_LT(c.spread, 0.05);
  // All missing: NaN centre.
  const auto none = analysis::robust_centre(s, {{std::nan(""), 0.0}}, 0.3);
  EXPECT_EQ(none.count, 0);
  EXPECT_TRUE(std::isnan(none.label[0]));
}

TEST(StackingEstimate, ConfidenceWeightsLetExplainedWindowsOutvoteTheRest) {
  // The twisted image of the issue: three windows fitted at 60 - theta from a poor start (confidence
  // near 0), one fitted at theta (confidence 1). Unweighted, the three win; weighted, the one.
  const sim::LabelSymmetry t = sim::label_symmetry("MoS2", 2, "AA", "twist");
  const std::vector<std::vector<double>> twists = {{50.78}, {51.17}, {50.84}, {9.02}};
  EXPECT_NEAR(analysis::robust_centre(t, twists, 2.0).label[0], 50.9, 0.3);
  EXPECT_NEAR(analysis::robust_centre(t, twists, 2.0, 256, {0.004, 0.124, 0.084, 1.0}).label[0], 9.02, 0.01);
  // A window with weight 0 counts for nothing; all-zero weights count as equal weights.
  EXPECT_NEAR(analysis::robust_centre(t, twists, 2.0, 256, {0, 0, 0, 0.3}).label[0], 9.02, 0.01);
  EXPECT_NEAR(analysis::robust_centre(t, twists, 2.0, 256, {0, 0, 0, 0}).label[0],
              analysis::robust_centre(t, twists, 2.0).label[0], 1e-12);
  // Equal weights give the unweighted centre exactly, on slips with folds and outliers too.
  const auto s = hexagonal_pm();
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0.0, 0.02);
  std::vector<std::vector<double>> slips;
  for (int k = 0; k < 41; ++k) slips.push_back({-0.3 + noise(rng), 0.2 + noise(rng) + (k % 3)});
  for (int k = 0; k < 8; ++k) slips.push_back({0.5 + noise(rng), 0.5 + noise(rng)});
  const auto plain = analysis::robust_centre(s, slips, 0.3);
  const auto equal = analysis::robust_centre(s, slips, 0.3, 256, std::vector<double>(slips.size(), 2.5));
  EXPECT_DOUBLE_EQ(plain.label[0], equal.label[0]);
  EXPECT_DOUBLE_EQ(plain.label[1], equal.label[1]);
  EXPECT_EQ(plain.spread, equal.spread);
  // Weights that favour the minority move the centre to it; spread and inliers still count all.
  std::vector<double> favour(slips.size(), 0.01);
  for (std::size_t k = 41; k < slips.size(); ++k) favour[k] = 1;
  const auto minority = analysis::robust_centre(s, slips, 0.3, 256, favour);
  EXPECT_LT(sim::label_distance(s, minority.label, {0.5, 0.5}), 0.1);  // A: 8 labels of 0.06 A noise
  EXPECT_NEAR(minority.inliers, 8.0 / 49.0, 1e-9);
  // Bad weights are refused.
  EXPECT_THROW(analysis::robust_centre(t, twists, 2.0, 256, {1, 1}), ConfigError);
  EXPECT_THROW(analysis::robust_centre(t, twists, 2.0, 256, {1, -1, 1, 1}), ConfigError);
}

TEST(StackingEstimate, BoundaryCellsFollowAPlantedBoundary) {
  const auto s = hexagonal_pm();
  const std::int64_t rows = 6, cols = 8;
  std::vector<std::vector<double>> labels;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) labels.push_back(j < 5 ? std::vector<double>{0.1, 0.1} : std::vector<double>{-0.1 + 1, 0.4});
  // An equivalent written differently is no boundary.
  labels[0] = {-0.1, -0.1};
  const auto b = analysis::boundary_cells(s, labels, rows, cols, 0.3);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) EXPECT_EQ(b[std::size_t(i * cols + j)], (j == 4 || j == 5) ? 1 : 0) << i << "," << j;
}

TEST(StackingEstimate, TedGenConventionMatchesTheirCode) {
  // The csv holds, for the six tedgen_drit images, dx, dy and the (Da, Db) that TED-Gen's own
  // shift_trans gives for them.
  std::ifstream in(tmdflow::testing::shared_data("stem-images/tedgen_reported_labels.csv"));
  ASSERT_TRUE(in.good());
  std::map<std::string, std::map<std::string, double>> v;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    // file,material,layers,source,label_status,quantity,value,... with quoted fields.
    std::vector<std::string> f;
    std::string cur;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') quoted = !quoted;
      else if (ch == ',' && !quoted) f.push_back(cur), cur.clear();
      else cur += ch;
    }
    f.push_back(cur);
    if (f.size() < 7 || f[0].find("tedgen_drit/drit_") != 0) continue;
    v[f[0]][f[5]] = std::stod(f[6]);
  }
  ASSERT_EQ(v.size(), 6u);
  for (const auto& [file, q] : v) {
    const auto d = analysis::tedgen_da_db(q.at("dx"), q.at("dy"));
    EXPECT_NEAR(d[0], q.at("Da"), 2e-3) << file;
    EXPECT_NEAR(d[1], q.at("Db"), 2e-3) << file;
  }
}
