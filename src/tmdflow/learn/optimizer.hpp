#pragma once
// Optimisers (torch::optim Adam, AdamW, SGD with momentum) and learning-rate schedules. The
// trainer sets the rate of every parameter group before each step from the schedule, a pure
// function of the step: nothing to save for it in a checkpoint but the step.
// Includes torch's headers: for learn/ sources and the .cpp of stages that train.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tmdflow::learn {

enum class OptimizerKind { adam, adamw, sgd };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::adam;
  double learning_rate = 1e-3;  // the peak rate of the schedule
  double weight_decay = 0.0;    // AdamW: decoupled; Adam and SGD: L2 added to the gradient
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam, AdamW
  double momentum = 0.9;        // SGD
  bool nesterov = false;        // SGD
};

enum class ScheduleKind {
  constant,
  warmup_linear,  // linear 0 -> peak over warmup_steps, then linear peak -> final over the rest
  cosine,         // linear warm-up, then cosine peak -> final
};

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  std::int64_t warmup_steps = 0;
  double final_fraction = 0.0;  // the rate at the last step, as a fraction of the peak
};

/// "adam" | "adamw" | "sgd"; "constant" | "linear" | "cosine": ConfigError otherwise.
OptimizerKind optimizer_kind(const std::string& name);
ScheduleKind schedule_kind(const std::string& name);

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters, const OptimizerOptions& options);

/// The rate at step `step` (0-based) of `total_steps`.
double scheduled_rate(const ScheduleOptions& schedule, double peak, std::int64_t step, std::int64_t total_steps);

/// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double rate);

}  // namespace tmdflow::learn
