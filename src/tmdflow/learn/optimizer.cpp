#include "tmdflow/learn/optimizer.hpp"

#include <cmath>

#include "tmdflow/core/error.hpp"

namespace tmdflow::learn {

OptimizerKind optimizer_kind(const std::string& name) {
  if (name == "adam") return OptimizerKind::adam;
  if (name == "adamw") return OptimizerKind::adamw;
  if (name == "sgd") return OptimizerKind::sgd;
  throw ConfigError("optimizer: expected adam, adamw or sgd, found '" + name + "'");
}

ScheduleKind schedule_kind(const std::string& name) {
  if (name == "constant") return ScheduleKind::constant;
  if (name == "linear") return ScheduleKind::warmup_linear;
  if (name == "cosine") return ScheduleKind::cosine;
  throw ConfigError("schedule: expected constant, linear or cosine, found '" + name + "'");
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters, const OptimizerOptions& o) {
  if (!(o.learning_rate > 0)) throw ConfigError("learning rate: expected > 0, found " + std::to_string(o.learning_rate));
  if (!(o.weight_decay >= 0)) throw ConfigError("weight decay: expected >= 0, found " + std::to_string(o.weight_decay));
  switch (o.kind) {
    case OptimizerKind::adam:
      return std::make_unique<torch::optim::Adam>(
          parameters, torch::optim::AdamOptions(o.learning_rate).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    case OptimizerKind::adamw:
      return std::make_unique<torch::optim::AdamW>(
          parameters, torch::optim::AdamWOptions(o.learning_rate).betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay));
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGD>(
          parameters,
          torch::optim::SGDOptions(o.learning_rate).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay));
  }
  throw ConfigError("optimizer: unknown kind");
}

double scheduled_rate(const ScheduleOptions& s, double peak, std::int64_t step, std::int64_t total) {
  if (s.kind == ScheduleKind::constant) return peak;
  const double final_rate = peak * s.final_fraction;
  if (step < s.warmup_steps) return peak * double(step + 1) / double(s.warmup_steps);
  const std::int64_t decay_steps = std::max<std::int64_t>(1, total - s.warmup_steps - 1);
  const double t = std::clamp(double(step - s.warmup_steps) / double(decay_steps), 0.0, 1.0);
  if (s.kind == ScheduleKind::warmup_linear) return peak + (final_rate - peak) * t;
  return final_rate + 0.5 * (peak - final_rate) * (1 + std::cos(3.141592653589793 * t));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double rate) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(rate);
}

}  // namespace tmdflow::learn
