// The loss over symmetry-equivalent targets (learn/equivalence_loss.hpp), against hand
// computations: a prediction equal to any equivalent (a map, a lattice translation, in the class
// of its sample) costs nothing; otherwise the cost is MSE + 0.5 L1 of the physical error to the
// nearest equivalent, the one the gradient flows to; periodic values find the nearest lattice
// translation of a hexagonal basis, which wrapping each fraction alone misses.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/equivalence_loss.hpp"

namespace learn = tmdflow::learn;

namespace {

constexpr double kA = 3.16;  // a hexagonal lattice: a1 = (a, 0), a2 = a (1/2, sqrt 3 / 2)
const double kS3 = std::sqrt(3.0) / 2;

// A bilayer slip of a hexagonal lattice: class 0 D == t - D, class 1 D == -t - D (a 3R stack on
// its two polarities); errors in Cartesian Angstrom.
learn::TargetSymmetry slip_symmetry() {
  learn::TargetSymmetry s;
  s.values = 2;
  const std::vector<double> I{1, 0, 0, 1}, minus{-1, 0, 0, -1};
  s.classes = {{{I, {0, 0}}, {minus, {1.0 / 3, 1.0 / 3}}}, {{I, {0, 0}}, {minus, {-1.0 / 3, -1.0 / 3}}}};
  s.period = {1, 1};
  s.error_matrix = {kA, kA / 2, 0, kA * kS3};
  return s;
}

torch::Tensor rows(std::vector<float> v, std::int64_t width) { return torch::tensor(v).view({-1, width}); }

TEST(EquivalenceLoss, AnEquivalentPredictionCostsNothing) {
  const auto s = slip_symmetry();
  const auto loss = learn::equivalence_loss(s);
  const float a = 0.13f, b = -0.21f, t = 1.0f / 3;
  // Sample 0 (class 0): t - D moved by a lattice vector; sample 1 (class 1): -t - D; sample 2: D + (1, -2).
  const torch::Tensor target = rows({a, b, 0, a, b, 1, a, b, 0}, 3);
  const torch::Tensor equal = rows({t - a + 1, t - b, -t - a, -t - b - 1, a + 1, b - 2}, 2);
  EXPECT_NEAR(loss(equal, target).item<double>(), 0.0, 1e-6);
  // The other class's equivalent is no equivalent: t - D for a class-1 sample costs.
  const torch::Tensor wrong = rows({t - a, t - b}, 2);
  EXPECT_GT(loss(wrong, rows({a, b, 1}, 3)).item<double>(), 0.1);
  EXPECT_NEAR(loss(wrong, rows({a, b, 0}, 3)).item<double>(), 0.0, 1e-6);
}

TEST(EquivalenceLoss, TheCostIsMsePlusHalfL1OfTheCartesianErrorToTheNearestEquivalent) {
  auto s = slip_symmetry();
  s.classes = {{s.classes[0][0]}};  // lattice translations only
  // d = (0.4, 0.4) fractions: wrapped alone it is 0.4 (a1 + a2), 0.69 a long; the nearest lattice
  // translations give (-0.6, 0.4) or (0.4, -0.6), sqrt(0.28) a = 0.53 a long (the cheaper of the two
  // in MSE + 0.5 L1 is chosen).
  const torch::Tensor p = rows({0.4f, 0.4f}, 2), target = rows({0, 0, 0}, 3);
  const torch::Tensor e = learn::equivalence_errors(s, p, target);
  const double ex = e[0][0].item<double>(), ey = e[0][1].item<double>();
  EXPECT_NEAR(std::hypot(ex, ey), std::sqrt(0.28) * kA, 1e-5);
  auto cost = [](double x, double y) { return (x * x + y * y) / 2 + 0.5 * (std::abs(x) + std::abs(y)) / 2; };
  const double c = cost(ex, ey);
  EXPECT_NEAR(learn::equivalence_loss(s)(p, target).item<double>(), c, 1e-5);
  for (auto [da, db] : {std::pair<double, double>{-0.6, 0.4}, {0.4, -0.6}, {0.4, 0.4}, {-0.6, -0.6}})
    EXPECT_LE(c, cost(kA * (da + 0.5 * db), kA * kS3 * db) + 1e-6) << da << " " << db;
}

TEST(EquivalenceLoss, GradientsFlowToTheNearestEquivalent) {
  const auto s = slip_symmetry();
  // Prediction near t - D (class 0) for sample 0, near D for sample 1.
  const float a = 0.1f, b = 0.05f, t = 1.0f / 3;
  const torch::Tensor target = rows({a, b, 0, a, b, 1}, 3);
  torch::Tensor p = rows({t - a + 0.02f, t - b - 0.01f, a - 0.03f, b + 0.04f}, 2).clone().requires_grad_(true);
  learn::equivalence_loss(s)(p, target).backward();
  // By hand: loss = 1/n sum_i [mean_k e_k^2 + 0.5 mean_k |e_k|], e = E d: dL/dp_i = E^T (e + 0.25 sign e) / n (K = 2).
  const torch::Tensor E = torch::tensor({float(kA), float(kA / 2), 0.0f, float(kA * kS3)}).view({2, 2});
  const torch::Tensor d = torch::tensor({0.02f, -0.01f, -0.03f, 0.04f}).view({2, 2});
  const torch::Tensor e = torch::matmul(d, E.t());
  const torch::Tensor expected = torch::matmul(e + 0.25 * e.sign(), E) / 2;
  EXPECT_LT((p.grad() - expected).abs().max().item<double>(), 1e-5) << p.grad() << expected;
}

TEST(EquivalenceLoss, TwistUpToSignAndPeriod) {
  learn::TargetSymmetry s;
  s.values = 1;
  s.classes = {{{{1}, {0}}, {{-1}, {0}}}};
  s.period = {120};
  const auto loss = learn::equivalence_loss(s);
  const torch::Tensor target = rows({7, 0}, 2);
  for (float equal : {7.0f, -7.0f, 127.0f, 113.0f}) EXPECT_NEAR(loss(rows({equal}, 1), target).item<double>(), 0.0, 1e-4) << equal;
  // 60 - theta is not theta: 46 degrees off.
  EXPECT_NEAR(learn::equivalence_errors(s, rows({53}, 1), target).abs().item<double>(), 46, 1e-4);
  EXPECT_NEAR(loss(rows({53}, 1), target).item<double>(), 46.0 * 46 + 0.5 * 46, 1e-2);
}

TEST(EquivalenceLoss, InconsistentSymmetriesAreConfigErrors) {
  auto s = slip_symmetry();
  s.period = {1};
  EXPECT_THROW(learn::equivalence_loss(s), tmdflow::ConfigError);
  s = slip_symmetry();
  s.classes[1].erase(s.classes[1].begin());  // no identity
  EXPECT_THROW(learn::equivalence_loss(s), tmdflow::ConfigError);
  EXPECT_THROW(learn::equivalence_errors(slip_symmetry(), rows({0, 0}, 2), rows({0, 0}, 2)), tmdflow::InputError);
}

}  // namespace
