#pragma once
// Training losses. A Loss maps (prediction, target) of one rank's share of a batch to a scalar
// that is the MEAN over that share's samples (of a per-sample quantity), so that the trainer's
// sample-count weighting across ranks gives exactly the loss of the whole global batch; every
// loss here is such a mean (class-weighted cross-entropy included: see cross_entropy). Task losses
// plug in as any callable with that property.
// Includes torch's headers: for learn/ sources and the .cpp of stages that train.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tmdflow::learn {

/// prediction: the network's output for n samples; target: (n, K) values or (n, H, W) maps (float).
using Loss = std::function<torch::Tensor(const torch::Tensor& prediction, const torch::Tensor& target)>;

Loss mse_loss();
Loss l1_loss();
/// sum_i weight_i * loss_i.
Loss weighted_sum(std::vector<std::pair<double, Loss>> terms);
/// Per-pixel (prediction (n, C, H, W), target (n, H, W) class indices) or per-sample (prediction
/// (n, C), target (n) or (n, 1)) cross-entropy, each term weighted by its true class's weight
/// (empty: all 1) and averaged over the terms: sum w[y] * CE / count. (Not torch's weighted
/// mean, which divides by the sum of the weights and so is no mean over samples.)
Loss cross_entropy(std::vector<double> class_weights = {});
/// 1 - soft Dice of the softmax probabilities against the one-hot target, per sample averaged
/// over classes, then averaged over samples. `smooth` keeps empty classes finite.
Loss dice_loss(double smooth = 1.0);
/// Focal loss (Lin et al., ICCV 2017): mean of -alpha[y] (1 - p_y)^gamma log p_y over the terms.
Loss focal_loss(double gamma = 2.0, std::vector<double> alpha = {});

/// Mean squared error of heat maps whose peaks are rare (defects among thousands of background
/// pixels): each pixel's squared error weighted by 1 + w[c] * target, c its channel (prediction and
/// target (n, C, H, W); empty w: all 1). Plain MSE lets a network fit the background and leave faint
/// rare peaks (a chalcogen vacancy) at zero; the weight makes a peak's pixels count like the
/// background's. A mean over samples (every sample has the same number of pixels).
Loss peak_weighted_mse(std::vector<double> peak_weights = {});

/// The loss whose value is, per sample, the minimum over `equivalents(target)` (a list of
/// tensors shaped like the target, e.g. the symmetry-equivalent labels of a task), of the
/// per-sample loss `per_sample(prediction, candidate)` (shape (n)); averaged over samples.
Loss min_over_equivalents(std::function<std::vector<torch::Tensor>(const torch::Tensor& target)> equivalents,
                          std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)> per_sample);

/// A loss by name: "mse", "l1", "cross-entropy", "dice", "focal", "peak-mse"; ConfigError otherwise.
Loss loss_by_name(const std::string& name);

}  // namespace tmdflow::learn
