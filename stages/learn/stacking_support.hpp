#pragma once
// train-stacking's parts: the task (material, layers, stacking, slip or twist) and its label
// symmetry (sim/stacking_symmetry.hpp) as training targets, computed from a trainset's Cartesian
// labels in the canonical frame (data_schema/stacking.md); the symmetric loss; the metrics.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tmdflow/learn/equivalence_loss.hpp"
#include "tmdflow/learn/evaluate.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/learn/trainset_stream.hpp"
#include "tmdflow/sim/stacking_symmetry.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::par {
class Comm;
}

namespace tmdflow::stages {

struct StackingTask {
  std::string material, stacking, task;  // task: "slip" or "twist"
  int layers = 2;
  /// Patches re-centred on their lattice anchor (make-trainset --anchor): the model's windows must be.
  bool anchor = false;
  sim::LayerCell cell;
  /// One per bottom orientation (the class index of a target row; stacking_symmetry.hpp).
  std::vector<sim::LabelSymmetry> symmetry;
  /// The network's outputs: slip_a_0, slip_b_0[, slip_a_1, slip_b_1] or twist_deg.
  std::vector<std::string> values;

  int interfaces() const { return task == "slip" ? layers - 1 : 0; }
};

/// The task of a trainset: options given ("" / 0: not given) or the trainset's attributes
/// (material, layers, stacking). ConfigError for an unknown material, stacking or task.
StackingTask stacking_task(const std::string& file, const std::string& group, const std::string& task, const std::string& material,
                           int layers, const std::string& stacking);

/// The training targets of every sample of a trainset (N rows of values + class index): slips as
/// fractions of the patch's canonical basis (from slip_x_A.., a1_x_A.., phi_deg) or twist_deg.
/// InputError naming the file and dataset for a missing label, a patch outside the canonical frame
/// (make it with --phi-set-deg), or a trainset of another stack.
std::vector<double> stacking_targets(const StackingTask& t, const std::string& file, const std::string& group);

/// The task's symmetry for the loss: per class the group, periods, and the error matrix that turns
/// fraction errors into Cartesian Angstrom (the canonical basis (a1c a2c), one block per interface).
learn::TargetSymmetry target_symmetry(const StackingTask& t);

/// Validation metrics (means over samples): slip "mean_dD_A" (and per interface "mean_dD_A_k"),
/// "fraction_dD_below_0.05A"; twist "mean_dtheta_deg", "fraction_theta_not_60_minus_theta" (the
/// prediction nearer theta than 60 - theta, both up to the symmetry).
learn::Metrics stacking_metrics(const StackingTask& t, const learn::TargetSymmetry& s);

/// Per-sample errors of a network on the samples `indices` of `data` (all ranks get all of them,
/// each rank computes its block): |dD| per sample and interface (rows of `interfaces` values) in
/// Angstrom, or |dtheta| and whether theta was told from 60 - theta (rows of 2), against the nearest
/// equivalent. Collective.
std::vector<double> stacking_errors(const par::Comm& comm, learn::Network& network, learn::TrainsetStream& data,
                                    const std::vector<std::int64_t>& indices, const StackingTask& t, const learn::TargetSymmetry& s,
                                    std::int64_t batch);

/// The summary of stacking_errors: mean, 95th percentile, fraction below 0.05 A (per interface
/// and overall), or mean |dtheta|, its 95th percentile, the fraction resolved against 60 - theta.
std::map<std::string, double> stacking_summary(const StackingTask& t, const std::vector<double>& errors);

/// The error of the constant prediction that is the mean of `targets` (N rows of values + class)
/// on the rows of `evaluated`: the reference a model must beat.
std::map<std::string, double> constant_prediction_summary(const StackingTask& t, const learn::TargetSymmetry& s,
                                                          const std::vector<double>& targets, const std::vector<double>& evaluated);

}  // namespace tmdflow::stages
