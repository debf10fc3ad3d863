// Matching found labels to the ground truth (analysis/label_matching.hpp): the Hungarian assignment
// against brute force over all permutations, and a planted permutation of a noisy label map.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "tmdflow/analysis/label_matching.hpp"
#include "tmdflow/core/error.hpp"

using namespace tmdflow::analysis;

namespace {

double cost_of(const std::vector<double>& c, int cols, const std::vector<int>& col_of_row) {
  double s = 0;
  for (std::size_t r = 0; r < col_of_row.size(); ++r)
    if (col_of_row[r] >= 0) s += c[r * std::size_t(cols) + std::size_t(col_of_row[r])];
  return s;
}

/// The best cost over every one-to-one assignment of min(rows, cols) pairs.
double brute_force(const std::vector<double>& c, int rows, int cols) {
  const int n = std::max(rows, cols);
  std::vector<int> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  double best = 1e300;
  do {
    double s = 0;
    for (int r = 0; r < rows; ++r)
      if (perm[std::size_t(r)] < cols) s += c[std::size_t(r) * cols + std::size_t(perm[std::size_t(r)])];
    best = std::min(best, s);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

}  // namespace

TEST(LabelMatching, HungarianAssignmentIsOptimal) {
  // A case where greedy choice (the smallest entry first) is wrong.
  const std::vector<double> c{1, 2, 9, 2, 9, 9, 9, 9, 1};
  const auto a = min_cost_assignment(c, 3, 3);
  EXPECT_EQ(a, (std::vector<int>{1, 0, 2}));
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(-5.0, 5.0);
  for (auto [rows, cols] : {std::pair{6, 6}, {4, 7}, {7, 4}, {1, 5}, {5, 1}}) {
    for (int trial = 0; trial < 5; ++trial) {
      std::vector<double> m(std::size_t(rows * cols));
      for (auto& v : m) v = u(gen);
      const auto col = min_cost_assignment(m, rows, cols);
      ASSERT_EQ(col.size(), std::size_t(rows));
      std::vector<int> used;
      for (int v : col)
        if (v >= 0) used.push_back(v);
      EXPECT_EQ(int(used.size()), std::min(rows, cols));
      std::sort(used.begin(), used.end());
      EXPECT_TRUE(std::adjacent_find(used.begin(), used.end()) == used.end()) << "a column used twice";
      EXPECT_NEAR(cost_of(m, cols, col), brute_force(m, rows, cols), 1e-9) << rows << " x " << cols;
    }
  }
  EXPECT_THROW(min_cost_assignment({1, 2, 3}, 2, 2), tmdflow::ConfigError);
  EXPECT_TRUE(min_cost_assignment({}, 0, 0).empty());
}

TEST(LabelMatching, RecoversAPlantedPermutation) {
  // Truth: 8 vertical stripes of unequal width on a 40 x 64 map; found: the same ids permuted,
  // 5% of pixels relabelled at random, some undetermined, and a ninth found id on a few pixels.
  const int h = 40, w = 64;
  const std::vector<int> edges{0, 5, 14, 20, 31, 38, 44, 55, 64};
  const std::vector<std::int32_t> perm{5, 2, 7, 0, 3, 6, 1, 4};  // found id of true id t
  std::mt19937 gen(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::int32_t> truth(std::size_t(h * w)), found(std::size_t(h * w));
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) {
      const std::size_t k = std::size_t(i * w + j);
      int t = 0;
      while (j >= edges[std::size_t(t + 1)]) ++t;
      truth[k] = t;
      found[k] = perm[std::size_t(t)];
      const double r = u(gen);
      if (r < 0.05) found[k] = std::int32_t(gen() % 8);
      else if (r < 0.08) found[k] = -1;
      if (i < 3 && j < 3) found[k] = 8;
      if (i == h - 1 && j == w - 1) truth[k] = -1;
    }
  const LabelMatch m = match_labels(found, truth);
  ASSERT_EQ(m.truth_of_found.size(), 9u);
  for (int t = 0; t < 8; ++t) EXPECT_EQ(m.truth_of_found[std::size_t(perm[std::size_t(t)])], t) << "true id " << t;
  EXPECT_EQ(m.truth_of_found[8], -1);  // more found than true domains: the extra one stays unmatched
  EXPECT_EQ(m.truth_ids, 8);
  EXPECT_GT(double(m.agreeing) / double(m.compared), 0.93);
  std::int64_t both = 0;
  for (std::size_t k = 0; k < found.size(); ++k) both += found[k] >= 0 && truth[k] >= 0;
  EXPECT_EQ(m.compared, both);
  const auto ids = m.display_ids();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(ids[std::size_t(perm[std::size_t(t)])], t);
  EXPECT_EQ(ids[8], 8);  // a colour of its own, above every true id
  EXPECT_THROW(match_labels({0, 1}, {0}), tmdflow::InputError);
  EXPECT_EQ(match_labels({-1, -1}, {0, 1}).truth_of_found.size(), 0u);
}
