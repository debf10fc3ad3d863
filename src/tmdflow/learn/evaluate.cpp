#include "tmdflow/learn/evaluate.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::learn {

Evaluation evaluate(const par::Comm& comm, Network& network, TrainsetStream& data, const Loss& loss,
                    const decltype(TrainerOptions::metrics)& metrics, std::int64_t batch) {
  const par::Range mine = par::block_partition(data.size(), comm.size(), comm.rank());
  const bool was_training = network.is_training();
  network.eval();
  double loss_sum = 0, count = 0;
  std::map<std::string, double> sums;
  par::collectively(comm, [&] {
    torch::NoGradGuard no_grad;
    for (std::int64_t first = mine.begin; first < mine.end; first += batch) {
      std::vector<std::int64_t> indices(std::size_t(std::min(batch, mine.end - first)));
      std::iota(indices.begin(), indices.end(), first);
      const Batch b = data.read(indices);
      const torch::Tensor prediction = network.forward(batch_inputs(b)), target = batch_targets(b);
      loss_sum += loss(prediction, target).item<double>() * double(b.count);
      count += double(b.count);
      if (metrics)
        for (const auto& [name, value] : metrics(prediction, target)) sums[name] += value * double(b.count);
    }
  });
  network.train(was_training);
  // Rank 0 holds samples whenever any rank does: its metric names are the list.
  std::vector<std::string> names;
  for (const auto& kv : sums) names.push_back(kv.first);
  names = str::split(comm.bcast_string(str::join(names, "\n"), 0), '\n');
  std::vector<double> totals{loss_sum, count};
  for (const auto& n : names) totals.push_back(sums.count(n) ? sums[n] : 0.0);
  comm.allreduce_inplace(totals.data(), totals.size(), par::Op::sum);
  Evaluation e;
  e.samples = std::int64_t(totals[1]);
  e.loss = totals[0] / std::max(totals[1], 1.0);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!names[i].empty()) e.metrics[names[i]] = totals[2 + i] / std::max(totals[1], 1.0);
  return e;
}

}  // namespace tmdflow::learn
