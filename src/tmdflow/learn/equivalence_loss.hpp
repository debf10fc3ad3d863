#pragma once
// Regression targets known only up to a symmetry (a task's equivalent labels, e.g. the stacking
// labels of data_schema/stacking.md): the loss of a prediction is its loss against the nearest
// equivalent of the target, so a network is never asked to tell apart inputs that are identical.
// learn knows no physics: the symmetry comes in as plain numbers (the stage converts the task's).
// Includes torch's headers: for learn/ sources and the .cpp of stages that train.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "tmdflow/learn/losses.hpp"

namespace tmdflow::learn {

/// Targets of K values: y is equivalent to M y + c + k * period (k integer per value) for each
/// (M, c) of its class's group. A target row holds its K values and then its class index (a
/// float; 0 when there is one class): the group may depend on something the input shows but the
/// label does not say (e.g. a stack's polarity).
struct TargetSymmetry {
  struct Map {
    std::vector<double> M;  // K*K, row-major
    std::vector<double> c;  // K
  };
  std::int64_t values = 0;                 // K
  std::vector<std::vector<Map>> classes;   // each class's group, the identity among them
  std::vector<double> period;              // K (0: not periodic)
  /// K*K: the error's components e = E (prediction - equivalent) in the units the loss and the
  /// metrics are in (e.g. fractions of a lattice -> Cartesian Angstrom). Empty: the identity.
  std::vector<double> error_matrix;

  /// ConfigError naming what is inconsistent (sizes, no identity, an empty class).
  void validate() const;
};

/// (n, K): the error components e of each sample's prediction against the equivalent of its target
/// that minimises mean(e^2) + l1_weight * mean(|e|) (periodic values wrapped, then moved by -1, 0,
/// +1 periods to find the nearest lattice translation of a reduced 2-D basis). prediction (n, K),
/// target (n, K + 1).
torch::Tensor equivalence_errors(const TargetSymmetry& s, const torch::Tensor& prediction, const torch::Tensor& target,
                                 double l1_weight = 0.5);

/// The mean over samples of min over equivalents of mean(e^2) + l1_weight * mean(|e|) (TED-Gen's
/// MSE + 0.5 L1 on the physical error), through min_over_equivalents: the gradient flows to the
/// nearest equivalent only.
Loss equivalence_loss(TargetSymmetry s, double l1_weight = 0.5);

}  // namespace tmdflow::learn
