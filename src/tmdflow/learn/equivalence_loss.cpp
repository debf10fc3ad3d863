#include "tmdflow/learn/equivalence_loss.hpp"

#include <limits>
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::learn {
namespace {

torch::Tensor to_tensor(const std::vector<double>& v, std::vector<std::int64_t> shape) {
  return torch::tensor(std::vector<float>(v.begin(), v.end()), torch::kFloat).reshape(shape);
}

// The shifts (S, K) of -1, 0, +1 periods on every periodic value (3^m rows; the zero shift included).
torch::Tensor period_shifts(const TargetSymmetry& s) {
  const auto K = s.values;
  std::vector<float> rows(static_cast<std::size_t>(K), 0.0f);
  std::int64_t count = 1;
  for (std::int64_t i = 0; i < K; ++i) {
    const double p = s.period[std::size_t(i)];
    if (!(p > 0)) continue;
    std::vector<float> grown;
    for (int step : {-1, 0, 1})
      for (std::int64_t r = 0; r < count; ++r) {
        for (std::int64_t j = 0; j < K; ++j) grown.push_back(rows[std::size_t(r * K + j)]);
        grown[grown.size() - std::size_t(K) + std::size_t(i)] += float(step * p);
      }
    rows = std::move(grown);
    count *= 3;
  }
  return torch::tensor(rows, torch::kFloat).reshape({count, K});
}

// Per sample and shift, the error components of prediction p (n, K) against candidate values
// v (n, K): d = p - v wrapped into half a period per periodic value, plus each shift, times E^T.
torch::Tensor shifted_errors(const TargetSymmetry& s, const torch::Tensor& p, const torch::Tensor& v) {
  const torch::Tensor period = to_tensor(s.period, {1, s.values});
  const torch::Tensor periodic = period > 0;
  torch::Tensor d = p - v;
  const torch::Tensor safe = torch::where(periodic, period, torch::ones_like(period));
  d = torch::where(periodic, d - safe * torch::round(d / safe), d);  // no gradient through round
  torch::Tensor e = d.unsqueeze(0) + period_shifts(s).unsqueeze(1);  // (S, n, K)
  if (!s.error_matrix.empty()) e = torch::matmul(e, to_tensor(s.error_matrix, {s.values, s.values}).t());
  return e;
}

torch::Tensor cost_of(const torch::Tensor& e, double l1_weight) { return e.pow(2).mean(-1) + l1_weight * e.abs().mean(-1); }

// The candidates of every class: (n, K + 1) each, its values M y + c and a last column 1 where the
// sample belongs to that class (0 elsewhere).
std::vector<torch::Tensor> candidates_of(const TargetSymmetry& s, const torch::Tensor& target) {
  const auto K = s.values;
  if (target.dim() != 2 || target.size(1) != K + 1)
    throw InputError("equivalence loss: expected targets (n, " + std::to_string(K + 1) + ") (" + std::to_string(K) +
                     " values and a class index), found " + std::to_string(target.dim() == 2 ? target.size(1) : -1) + " columns");
  const torch::Tensor y = target.narrow(1, 0, K), klass = target.narrow(1, K, 1).round();
  std::vector<torch::Tensor> out;
  for (std::size_t c = 0; c < s.classes.size(); ++c) {
    const torch::Tensor member = (klass == double(c)).to(torch::kFloat);
    for (const auto& g : s.classes[c])
      out.push_back(torch::cat({torch::matmul(y, to_tensor(g.M, {K, K}).t()) + to_tensor(g.c, {1, K}), member}, 1));
  }
  return out;
}

}  // namespace

void TargetSymmetry::validate() const {
  const std::string who = "target symmetry: ";
  if (values < 1) throw ConfigError(who + "expected at least 1 value, found " + std::to_string(values));
  const auto K = std::size_t(values);
  if (period.size() != K) throw ConfigError(who + "period: expected " + std::to_string(K) + " values, found " + std::to_string(period.size()));
  if (!error_matrix.empty() && error_matrix.size() != K * K)
    throw ConfigError(who + "error matrix: expected " + std::to_string(K * K) + " values, found " + std::to_string(error_matrix.size()));
  if (classes.empty()) throw ConfigError(who + "expected at least one class");
  for (std::size_t c = 0; c < classes.size(); ++c) {
    bool identity = false;
    for (const auto& g : classes[c]) {
      if (g.M.size() != K * K || g.c.size() != K)
        throw ConfigError(who + "class " + std::to_string(c) + ": expected maps of " + std::to_string(K) + "x" + std::to_string(K) +
                          " and offsets of " + std::to_string(K) + ", found " + std::to_string(g.M.size()) + " and " + std::to_string(g.c.size()));
      bool is_identity = true;
      for (std::size_t i = 0; i < K; ++i) {
        is_identity = is_identity && g.c[i] == 0;
        for (std::size_t j = 0; j < K; ++j) is_identity = is_identity && g.M[i * K + j] == (i == j ? 1.0 : 0.0);
      }
      identity = identity || is_identity;
    }
    if (!identity) throw ConfigError(who + "class " + std::to_string(c) + ": expected the identity among its maps, found none");
  }
}

torch::Tensor equivalence_errors(const TargetSymmetry& s, const torch::Tensor& prediction, const torch::Tensor& target, double l1_weight) {
  const torch::Tensor p = prediction.reshape({prediction.size(0), -1});
  torch::Tensor best_cost, best_error;
  for (const torch::Tensor& candidate : candidates_of(s, target)) {
    const torch::Tensor e = shifted_errors(s, p, candidate.narrow(1, 0, s.values));  // (S, n, K)
    torch::Tensor cost = cost_of(e, l1_weight);                                      // (S, n)
    cost = torch::where(candidate.narrow(1, s.values, 1).t() > 0.5, cost, torch::full_like(cost, std::numeric_limits<float>::infinity()));
    const auto [c, at] = cost.min(0);
    const torch::Tensor chosen = e.gather(0, at.view({1, -1, 1}).expand({1, e.size(1), e.size(2)})).squeeze(0);
    if (!best_cost.defined()) {
      best_cost = c, best_error = chosen;
      continue;
    }
    const torch::Tensor better = c < best_cost;
    best_cost = torch::where(better, c, best_cost);
    best_error = torch::where(better.unsqueeze(1), chosen, best_error);
  }
  return best_error;
}

Loss equivalence_loss(TargetSymmetry s, double l1_weight) {
  s.validate();
  auto per_sample = [s, l1_weight](const torch::Tensor& prediction, const torch::Tensor& candidate) {
    const torch::Tensor p = prediction.reshape({prediction.size(0), -1});
    const torch::Tensor cost = std::get<0>(cost_of(shifted_errors(s, p, candidate.narrow(1, 0, s.values)), l1_weight).min(0));  // (n)
    return torch::where(candidate.select(1, s.values) > 0.5, cost, torch::full_like(cost, std::numeric_limits<float>::infinity()));
  };
  return min_over_equivalents([s](const torch::Tensor& target) { return candidates_of(s, target); }, per_sample);
}

}  // namespace tmdflow::learn
