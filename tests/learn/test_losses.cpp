// Losses against hand computations: class-weighted cross-entropy (a mean over terms, not torch's
// weighted mean), focal with gamma 0 = cross-entropy, Dice of a perfect and of a wrong
// prediction, weighted sums, the peak-weighted MSE of heat maps, and a task loss: the minimum over
// symmetry-equivalent labels.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/evaluate.hpp"
#include "tmdflow/learn/losses.hpp"
#include "tmdflow/learn/optimizer.hpp"

namespace learn = tmdflow::learn;

namespace {

TEST(Losses, CrossEntropyWithClassWeightsIsAMeanOverTerms) {
  const torch::Tensor logits = torch::tensor({2.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});  // 2 samples, 2 classes
  const torch::Tensor target = torch::tensor({0.0f, 1.0f});
  const double l0 = -std::log(std::exp(2.0) / (std::exp(2.0) + 1.0)), l1 = -std::log(std::exp(1.0) / (1.0 + std::exp(1.0)));
  EXPECT_NEAR(learn::cross_entropy()(logits, target).item<double>(), 0.5 * (l0 + l1), 1e-6);
  EXPECT_NEAR(learn::cross_entropy({1.0, 3.0})(logits, target).item<double>(), 0.5 * (l0 + 3 * l1), 1e-6);
  EXPECT_NEAR(learn::focal_loss(0.0)(logits, target).item<double>(), 0.5 * (l0 + l1), 1e-6);
  EXPECT_LT(learn::focal_loss(2.0)(logits, target).item<double>(), 0.5 * (l0 + l1));
  // Per pixel: (n, C, H, W) logits against (n, H, W) classes.
  const torch::Tensor maps = logits.t().reshape({1, 2, 1, 2});
  EXPECT_NEAR(learn::cross_entropy()(maps, target.view({1, 1, 2})).item<double>(), 0.5 * (l0 + l1), 1e-6);
}

TEST(Losses, DiceAndSums) {
  torch::Tensor target = torch::zeros({1, 4, 4});
  target.index_put_({0, torch::indexing::Slice(0, 2)}, 1.0f);
  const torch::Tensor perfect = torch::stack({(1 - target) * 50, target * 50}, 1);  // confident logits
  EXPECT_NEAR(learn::dice_loss(1e-6)(perfect, target).item<double>(), 0.0, 1e-4);
  EXPECT_NEAR(learn::dice_loss(1e-6)(-perfect, target).item<double>(), 1.0, 1e-4);
  const torch::Tensor p = torch::tensor({1.0f, 3.0f}), t = torch::tensor({0.0f, 1.0f});
  EXPECT_NEAR(learn::mse_loss()(p, t).item<double>(), 2.5, 1e-6);
  EXPECT_NEAR(learn::l1_loss()(p, t).item<double>(), 1.5, 1e-6);
  EXPECT_NEAR(learn::weighted_sum({{2.0, learn::mse_loss()}, {0.5, learn::l1_loss()}})(p, t).item<double>(), 5.75, 1e-6);
  EXPECT_THROW(learn::loss_by_name("hinge"), tmdflow::ConfigError);
}

// A task whose label is defined up to sign (an axis, not a direction): the loss is the minimum
// of the squared error to +t and to -t, per sample.
learn::Loss axis_loss() {
  return learn::min_over_equivalents([](const torch::Tensor& t) { return std::vector<torch::Tensor>{t, -t}; },
                                     [](const torch::Tensor& p, const torch::Tensor& t) { return (p - t).pow(2).sum(1); });
}

TEST(Losses, PeakWeightedMseOfHeatMaps) {
  // Two channels of 1 x 2 pixels: each squared error weighted by 1 + w[c] * target.
  const torch::Tensor t = torch::tensor({0.0f, 1.0f, 0.5f, 0.0f}).view({1, 2, 1, 2});
  const torch::Tensor p = torch::tensor({0.5f, 0.0f, 0.0f, 1.0f}).view({1, 2, 1, 2});
  const double plain = (0.25 + 1.0 + 0.25 + 1.0) / 4;
  EXPECT_NEAR(learn::peak_weighted_mse({0.0, 0.0})(p, t).item<double>(), plain, 1e-6);
  EXPECT_NEAR(learn::peak_weighted_mse({10.0, 4.0})(p, t).item<double>(), (0.25 + 11 * 1.0 + 3 * 0.25 + 1.0) / 4, 1e-6);
  EXPECT_NEAR(learn::peak_weighted_mse()(p, t).item<double>(), (0.25 + 2 * 1.0 + 1.5 * 0.25 + 1.0) / 4, 1e-6);
  EXPECT_THROW(learn::peak_weighted_mse({1.0})(p, t), tmdflow::ConfigError);
  EXPECT_NEAR(learn::loss_by_name("peak-mse")(p, t).item<double>(), (0.25 + 2 * 1.0 + 1.5 * 0.25 + 1.0) / 4, 1e-6);
}

TEST(Losses, MinimumOverSymmetryEquivalentLabels) {
  const torch::Tensor t = torch::tensor({1.0f, 0.0f, 0.0f, 2.0f}).view({2, 2});
  const torch::Tensor p = torch::tensor({-1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});  // sample 0: exactly -t
  EXPECT_NEAR(axis_loss()(p, t).item<double>(), 0.5 * (0.0 + 1.0), 1e-6);
  // The gradient flows through the chosen equivalent only.
  torch::Tensor q = p.clone().requires_grad_(true);
  axis_loss()(q, t).backward();
  EXPECT_NEAR(q.grad()[0][0].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(q.grad()[1][1].item<double>(), 0.5 * 2 * (1.0 - 2.0), 1e-6);
}

TEST(Schedules, WarmUpThenLinearOrCosineDecay) {
  learn::ScheduleOptions s;
  s.kind = learn::ScheduleKind::warmup_linear;
  s.warmup_steps = 4;
  s.final_fraction = 0.1;
  EXPECT_DOUBLE_EQ(learn::scheduled_rate(s, 1.0, 0, 14), 0.25);
  EXPECT_DOUBLE_EQ(learn::scheduled_rate(s, 1.0, 3, 14), 1.0);
  EXPECT_DOUBLE_EQ(learn::scheduled_rate(s, 1.0, 4, 14), 1.0);
  EXPECT_NEAR(learn::scheduled_rate(s, 1.0, 13, 14), 0.1, 1e-12);
  s.kind = learn::ScheduleKind::cosine;  // 15 steps: 4 of warm-up, 10 decay intervals
  EXPECT_NEAR(learn::scheduled_rate(s, 1.0, 14, 15), 0.1, 1e-12);
  EXPECT_NEAR(learn::scheduled_rate(s, 1.0, 9, 15), 0.55, 1e-12);
  torch::Tensor w = torch::zeros({2}, torch::requires_grad());
  auto opt = learn::make_optimizer({w}, {});
  learn::set_learning_rate(*opt, 0.125);
  EXPECT_DOUBLE_EQ(opt->param_groups()[0].options().get_lr(), 0.125);
}

}  // namespace

TEST(Metrics, MeanAbsoluteErrorsAndPixelAccuracy) {
  const torch::Tensor pred = torch::tensor({{1.0f, 2.0f}, {3.0f, 6.0f}}), target = torch::tensor({{0.0f, 2.0f}, {3.0f, 2.0f}});
  const auto per_output = tmdflow::learn::mae_per_output({"a", "b"})(pred, target);
  EXPECT_NEAR(per_output.at("mae_a"), 0.5, 1e-6);
  EXPECT_NEAR(per_output.at("mae_b"), 2.0, 1e-6);
  EXPECT_NEAR(tmdflow::learn::mean_absolute_error()(pred, target).at("mae"), 1.25, 1e-6);
  // Two classes on a 1 x 2 image: pixel 0 says class 1, pixel 1 class 0; the target is 1, 1.
  const torch::Tensor logits = torch::tensor({0.0f, 3.0f, 1.0f, -1.0f}).reshape({1, 2, 1, 2});
  EXPECT_NEAR(tmdflow::learn::pixel_accuracy()(logits, torch::ones({1, 1, 2})).at("pixel_accuracy"), 0.5, 1e-9);
}
