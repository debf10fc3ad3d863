#pragma once
// Loss and metrics as means over samples held by several ranks (the validation set in training,
// a held-out test set after it), and a trained network measured on a whole trainset product:
// every sample once, sharded over the ranks, without augmentation. The means are the same for any
// rank count, up to float rounding.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tmdflow/learn/losses.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/learn/trainset_stream.hpp"

namespace tmdflow::par {
class Comm;
}

namespace tmdflow::learn {

/// Metrics of a batch share: means over its samples, by name (the same names on every rank).
using Metrics = std::function<std::map<std::string, double>(const torch::Tensor& prediction, const torch::Tensor& target)>;

/// "mae_<name>": the mean absolute error of each output value (regression targets (n, K)).
Metrics mae_per_output(std::vector<std::string> names);
/// "pixel_accuracy": the fraction of pixels whose most likely class (logits (n, C, H, W)) is the target's.
Metrics pixel_accuracy();
/// "mae": the mean absolute error over all values (maps).
Metrics mean_absolute_error();

struct Evaluation {
  std::int64_t samples = 0;
  double loss = 0;
  std::map<std::string, double> metrics;
};

/// Sums of per-sample loss and metrics on this rank, reduced to means over all ranks.
class SampleMeans {
 public:
  /// A batch share of `count` samples (its loss and metrics are means over them).
  void add(const torch::Tensor& prediction, const torch::Tensor& target, const Loss& loss, const Metrics& metrics, std::int64_t count);
  /// Collective. Rank 0 must hold samples whenever any rank does: its metric names are the list.
  Evaluation reduce(const par::Comm& comm) const;

 private:
  double loss_sum_ = 0, count_ = 0;
  std::map<std::string, double> metric_sums_;
};

/// Collective on comm. `data` is opened for this rank (its split and augmentation are ignored:
/// every sample is read, normalised as the stream's options say).
Evaluation evaluate(const par::Comm& comm, Network& network, TrainsetStream& data, const Loss& loss, const Metrics& metrics,
                    std::int64_t batch = 64);

}  // namespace tmdflow::learn
