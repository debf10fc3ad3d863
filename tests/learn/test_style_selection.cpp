// The style translator's data selection and column-shift measure (learn/style_selection.hpp): on
// two kinds of simulated lattices (fine and sharp, coarse and soft) and experiments of the first
// kind, the selection keeps the simulations of the experiments' kind, nearest first, fills up to
// select-min with the nearest others, and every rank agrees; a lattice moved by a known distance
// gives that distance as its column shift; the blur keeps a constant image (replicated edges).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/style_selection.hpp"
#include "tmdflow/par/runtime.hpp"

namespace learn = tmdflow::learn;
using tmdflow::par::Runtime;

namespace {

// A hexagonal lattice of spacing a px of Gaussian columns of sigma s px, shifted by (dx, dy), with
// Gaussian noise of sd `noise` (a background of 0.2).
learn::TrainingImage lattice(std::int64_t n, double a, double s, double dx, double dy, double noise, std::uint64_t seed) {
  learn::TrainingImage im;
  im.ny = im.nx = n;
  im.pixels.assign(std::size_t(n * n), 0.f);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  const int rows = int(double(n) / (a * std::sqrt(3.0) / 2)) + 4, cols = int(double(n) / a) + 4;
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x) {
      double v = 0.2;
      for (int j = -2; j < rows; ++j)
        for (int i = -2; i < cols; ++i) {
          const double cy = dy + j * a * std::sqrt(3.0) / 2, cx = dx + i * a + (j % 2 ? a / 2 : 0);
          const double r2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
          if (r2 < 36 * s * s) v += std::exp(-r2 / (2 * s * s));
        }
      im.pixels[std::size_t(y * n + x)] = float(v + noise * g(rng));
    }
  return im;
}

}  // namespace

TEST(StyleSelection, KeepsTheExperimentsKindNearestFirst) {
  const auto& comm = Runtime::world_comm();
  std::vector<learn::TrainingImage> sims, exps;
  for (int k = 0; k < 6; ++k) sims.push_back(lattice(96, 10, 1.2, 0.7 * k, 1.1 * k, 0.0, 1 + k));  // the experiments' kind
  for (int k = 0; k < 6; ++k) sims.push_back(lattice(96, 16, 3.0, 1.3 * k, 0.4 * k, 0.0, 11 + k));
  for (int k = 0; k < 2; ++k) exps.push_back(lattice(96, 10, 1.4, 2.0 * k, 3.0 * k, 0.05, 21 + k));
  learn::StyleSelectionSpec spec;
  spec.pixel_A = 0.3, spec.select_min = 2, spec.select_max = 5, spec.seed = 4;
  const learn::StyleSelection sel = learn::select_for_style(comm, sims, exps, spec);
  ASSERT_EQ(sel.coords.size(), 14u);
  ASSERT_EQ(sel.selected.size(), 12u);
  ASSERT_EQ(sel.distance.size(), 12u);
  EXPECT_EQ(sel.cluster[12], sel.experiment_cluster);
  EXPECT_EQ(sel.cluster[13], sel.experiment_cluster);
  int kept = 0;
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(sel.cluster[std::size_t(k)], sel.experiment_cluster) << "simulation " << k << " of the experiments' kind";
    EXPECT_NE(sel.cluster[std::size_t(k + 6)], sel.experiment_cluster) << "simulation " << k + 6 << " of the other kind";
    EXPECT_EQ(sel.selected[std::size_t(k + 6)], 0);
    kept += sel.selected[std::size_t(k)];
  }
  EXPECT_EQ(kept, 5) << "at most select-max of the cluster";
  // the one of the cluster left out is its farthest from the experiments
  double farthest_kept = 0, left_out = 0;
  for (int k = 0; k < 6; ++k) (sel.selected[std::size_t(k)] ? farthest_kept : left_out) = std::max(sel.selected[std::size_t(k)] ? farthest_kept : left_out, sel.distance[std::size_t(k)]);
  EXPECT_LE(farthest_kept, left_out);
  // select-min above the cluster's size fills up with the nearest of the others
  spec.select_min = 8, spec.select_max = 10;
  const learn::StyleSelection more = learn::select_for_style(comm, sims, exps, spec);
  int in_cluster = 0, others = 0;
  for (int k = 0; k < 12; ++k) (k < 6 ? in_cluster : others) += more.selected[std::size_t(k)];
  EXPECT_EQ(in_cluster, 6);
  EXPECT_EQ(others, 2);
  // every rank the same
  double s = 0;
  for (int k = 0; k < 12; ++k) s += more.selected[std::size_t(k)] * (k + 1) + more.distance[std::size_t(k)];
  EXPECT_DOUBLE_EQ(comm.allreduce(s, tmdflow::par::Op::sum), s * comm.size());
  EXPECT_THROW(learn::select_for_style(comm, sims, {}, spec), tmdflow::InputError);
}

TEST(StyleSelection, ColumnShiftMeasuresAKnownDisplacement) {
  const double pixel_A = 0.1;  // spacing 40 px = 4 A, columns of sigma 0.4 A
  const learn::TrainingImage a = lattice(160, 40, 4, 3, 5, 0.0, 1), b = lattice(160, 40, 4, 3 + 1.5, 5 - 0.5, 0.0, 1);
  const learn::ColumnShift same = learn::column_shift(a.pixels, a.pixels, 160, 160, pixel_A);
  EXPECT_GT(same.columns, 8);
  EXPECT_EQ(same.matched, same.columns);
  EXPECT_NEAR(same.mean_A, 0.0, 1e-9);
  const learn::ColumnShift moved = learn::column_shift(a.pixels, b.pixels, 160, 160, pixel_A);
  EXPECT_EQ(moved.matched, moved.columns);
  const double expected = std::hypot(1.5, 0.5) * pixel_A;
  EXPECT_NEAR(moved.mean_A, expected, 0.02) << "columns moved by " << expected << " A";
  EXPECT_NEAR(moved.p95_A, expected, 0.03);
  EXPECT_NEAR(moved.median_A, expected, 0.02);
  EXPECT_THROW(learn::column_shift(a.pixels, std::vector<float>(10), 160, 160, pixel_A), tmdflow::InputError);
}

TEST(StyleSelection, GaussianBlurEdges) {
  const torch::Tensor c = torch::full({1, 1, 20, 24}, 3.0f);
  const torch::Tensor r = learn::gaussian_blur(c, 1.5, learn::BlurEdge::replicate), z = learn::gaussian_blur(c, 1.5, learn::BlurEdge::zeros);
  EXPECT_EQ(r.sizes(), c.sizes());
  EXPECT_TRUE(torch::allclose(r, c, 1e-5, 1e-5)) << "replicated edges keep a constant image";
  EXPECT_NEAR(z[0][0][10][12].item<float>(), 3.0f, 1e-5) << "the interior is kept";
  EXPECT_LT(z[0][0][0][0].item<float>(), 2.0f) << "zeros beyond the edges darken the corner";
  // a point spreads into a Gaussian of the given sigma (unit sum away from the edges)
  torch::Tensor p = torch::zeros({1, 1, 31, 31});
  p[0][0][15][15] = 1.0f;
  const torch::Tensor g = learn::gaussian_blur(p, 2.0, learn::BlurEdge::zeros);
  EXPECT_NEAR(g.sum().item<float>(), 1.0f, 1e-4);
  const double var = (g[0][0][15] * (torch::arange(31) - 15).pow(2)).sum().item<double>() / g[0][0][15].sum().item<double>();
  EXPECT_NEAR(var, 4.0, 0.1);
}
