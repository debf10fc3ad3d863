#include "tmdflow/learn/evaluate.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::learn {

Metrics mae_per_output(std::vector<std::string> names) {
  return [names = std::move(names)](const torch::Tensor& pred, const torch::Tensor& target) {
    std::map<std::string, double> m;
    const torch::Tensor err = (pred.reshape({pred.size(0), -1}) - target.reshape({target.size(0), -1})).abs().mean(0);
    for (std::size_t k = 0; k < names.size() && std::int64_t(k) < err.size(0); ++k) m["mae_" + names[k]] = err[std::int64_t(k)].item<double>();
    return m;
  };
}

Metrics pixel_accuracy() {
  return [](const torch::Tensor& pred, const torch::Tensor& target) {
    const torch::Tensor correct = pred.argmax(1).eq(target.reshape({target.size(0), pred.size(2), pred.size(3)}).to(torch::kLong));
    return std::map<std::string, double>{{"pixel_accuracy", correct.to(torch::kDouble).mean().item<double>()}};
  };
}

Metrics mean_absolute_error() {
  return [](const torch::Tensor& pred, const torch::Tensor& target) {
    return std::map<std::string, double>{{"mae", (pred - target.reshape(pred.sizes())).abs().mean().item<double>()}};
  };
}

void SampleMeans::add(const torch::Tensor& prediction, const torch::Tensor& target, const Loss& loss, const Metrics& metrics,
                      std::int64_t count) {
  loss_sum_ += loss(prediction, target).item<double>() * double(count);
  count_ += double(count);
  if (metrics)
    for (const auto& [name, value] : metrics(prediction, target)) metric_sums_[name] += value * double(count);
}

Evaluation SampleMeans::reduce(const par::Comm& comm) const {
  std::vector<std::string> names;
  for (const auto& kv : metric_sums_) names.push_back(kv.first);
  names = str::split(comm.bcast_string(str::join(names, "\n"), 0), '\n');
  names.erase(std::remove(names.begin(), names.end(), std::string()), names.end());
  std::vector<double> totals{loss_sum_, count_};
  for (const auto& n : names) {
    const auto it = metric_sums_.find(n);
    totals.push_back(it == metric_sums_.end() ? 0.0 : it->second);
  }
  comm.allreduce_inplace(totals.data(), totals.size(), par::Op::sum);
  Evaluation e;
  e.samples = std::int64_t(totals[1]);
  e.loss = totals[0] / std::max(totals[1], 1.0);
  for (std::size_t i = 0; i < names.size(); ++i) e.metrics[names[i]] = totals[2 + i] / std::max(totals[1], 1.0);
  return e;
}

Evaluation evaluate(const par::Comm& comm, Network& network, TrainsetStream& data, const Loss& loss, const Metrics& metrics,
                    std::int64_t batch) {
  const par::Range mine = par::block_partition(data.size(), comm.size(), comm.rank());
  const bool was_training = network.is_training();
  network.eval();
  SampleMeans means;
  par::collectively(comm, [&] {
    torch::NoGradGuard no_grad;
    for (std::int64_t first = mine.begin; first < mine.end; first += batch) {
      std::vector<std::int64_t> indices(std::size_t(std::min(batch, mine.end - first)));
      std::iota(indices.begin(), indices.end(), first);
      const Batch b = data.read(indices);
      means.add(network.forward(batch_inputs(b)), batch_targets(b), loss, metrics, b.count);
    }
  });
  network.train(was_training);
  return means.reduce(comm);
}

}  // namespace tmdflow::learn
