#include "tmdflow/learn/losses.hpp"

#include "tmdflow/core/error.hpp"

namespace tmdflow::learn {
namespace {

// Flattens (n, C, H, W) logits and (n, H, W) targets to (terms, C) and (terms) int64; also
// accepts (n, C) logits with (n) or (n, 1) targets.
std::pair<torch::Tensor, torch::Tensor> class_terms(const torch::Tensor& logits, const torch::Tensor& target) {
  const auto C = logits.size(1);
  torch::Tensor l = logits.dim() > 2 ? logits.movedim(1, -1).reshape({-1, C}) : logits;
  torch::Tensor t = target.reshape({-1}).round().to(torch::kLong);
  if (l.size(0) != t.size(0))
    throw InputError("cross-entropy: expected one class index per prediction term (" + std::to_string(l.size(0)) + "), found " +
                     std::to_string(t.size(0)));
  return {l, t};
}

torch::Tensor class_weight_of(const std::vector<double>& w, const torch::Tensor& classes, std::int64_t C) {
  if (w.empty()) return torch::ones(classes.sizes(), torch::kFloat);
  if (std::int64_t(w.size()) != C)
    throw ConfigError("class weights: expected " + std::to_string(C) + " values (one per class), found " + std::to_string(w.size()));
  const torch::Tensor table = torch::tensor(std::vector<float>(w.begin(), w.end()));
  return table.index_select(0, classes);
}

}  // namespace

Loss mse_loss() {
  return [](const torch::Tensor& p, const torch::Tensor& t) { return torch::mse_loss(p, t.view_as(p)); };
}

Loss l1_loss() {
  return [](const torch::Tensor& p, const torch::Tensor& t) { return torch::l1_loss(p, t.view_as(p)); };
}

Loss weighted_sum(std::vector<std::pair<double, Loss>> terms) {
  return [terms = std::move(terms)](const torch::Tensor& p, const torch::Tensor& t) {
    torch::Tensor total = torch::zeros({}, p.options());
    for (const auto& [w, loss] : terms) total = total + w * loss(p, t);
    return total;
  };
}

Loss cross_entropy(std::vector<double> class_weights) {
  return [w = std::move(class_weights)](const torch::Tensor& logits, const torch::Tensor& target) {
    auto [l, t] = class_terms(logits, target);
    const torch::Tensor nll = -torch::log_softmax(l, 1).gather(1, t.unsqueeze(1)).squeeze(1);
    return (class_weight_of(w, t, l.size(1)) * nll).mean();
  };
}

Loss dice_loss(double smooth) {
  return [smooth](const torch::Tensor& logits, const torch::Tensor& target) {
    const auto C = logits.size(1);
    const torch::Tensor p = torch::softmax(logits, 1);  // (n, C, H, W)
    const torch::Tensor onehot = torch::one_hot(target.round().to(torch::kLong), C).movedim(-1, 1).to(p.dtype());
    const std::vector<std::int64_t> spatial = {2, 3};
    const torch::Tensor inter = (p * onehot).sum(spatial), total = p.sum(spatial) + onehot.sum(spatial);
    const torch::Tensor dice = (2 * inter + smooth) / (total + smooth);  // (n, C)
    return (1 - dice.mean(1)).mean();
  };
}

Loss focal_loss(double gamma, std::vector<double> alpha) {
  return [gamma, a = std::move(alpha)](const torch::Tensor& logits, const torch::Tensor& target) {
    auto [l, t] = class_terms(logits, target);
    const torch::Tensor logp = torch::log_softmax(l, 1).gather(1, t.unsqueeze(1)).squeeze(1);
    const torch::Tensor focal = -torch::pow(1 - logp.exp(), gamma) * logp;
    return (class_weight_of(a, t, l.size(1)) * focal).mean();
  };
}

Loss peak_weighted_mse(std::vector<double> w) {
  return [w = std::move(w)](const torch::Tensor& p, const torch::Tensor& target) {
    const torch::Tensor t = target.view_as(p);
    if (p.dim() != 4) throw InputError("peak-mse: expected (n, C, H, W) heat maps, found a prediction of " + std::to_string(p.dim()) + " dimensions");
    torch::Tensor weight = torch::ones({p.size(1)}, p.options());
    if (!w.empty()) {
      if (std::int64_t(w.size()) != p.size(1))
        throw ConfigError("class weights: expected " + std::to_string(p.size(1)) + " values (one per heat map), found " + std::to_string(w.size()));
      weight = torch::tensor(std::vector<float>(w.begin(), w.end()), p.options());
    }
    return ((1 + weight.view({1, -1, 1, 1}) * t) * (p - t).square()).mean();
  };
}

Loss min_over_equivalents(std::function<std::vector<torch::Tensor>(const torch::Tensor&)> equivalents,
                          std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)> per_sample) {
  return [equivalents = std::move(equivalents), per_sample = std::move(per_sample)](const torch::Tensor& p, const torch::Tensor& t) {
    std::vector<torch::Tensor> each;
    for (const torch::Tensor& candidate : equivalents(t)) each.push_back(per_sample(p, candidate));
    if (each.empty()) throw ConfigError("min-over-equivalents loss: the task gave no equivalent labels");
    return std::get<0>(torch::stack(each, 0).min(0)).mean();
  };
}

Loss loss_by_name(const std::string& name) {
  if (name == "mse") return mse_loss();
  if (name == "l1") return l1_loss();
  if (name == "cross-entropy") return cross_entropy();
  if (name == "dice") return dice_loss();
  if (name == "focal") return focal_loss();
  if (name == "peak-mse") return peak_weighted_mse();
  throw ConfigError("loss: expected mse, l1, cross-entropy, dice, focal or peak-mse, found '" + name + "'");
}

}  // namespace tmdflow::learn
