#pragma once
// A trained network measured on a whole trainset product held out from training (a test set):
// every sample once, sharded over the ranks, without augmentation; the loss and the metrics are
// means over all samples (the same numbers for any rank count, up to float rounding).
#include <map>
#include <string>

#include "tmdflow/learn/losses.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/learn/trainset_stream.hpp"

namespace tmdflow::learn {

struct Evaluation {
  std::int64_t samples = 0;
  double loss = 0;
  std::map<std::string, double> metrics;
};

/// Collective on comm. `data` is opened for this rank (its split and augmentation are ignored:
/// every sample is read, normalised as the stream's options say).
Evaluation evaluate(const par::Comm& comm, Network& network, TrainsetStream& data, const Loss& loss,
                    const decltype(TrainerOptions::metrics)& metrics, std::int64_t batch = 64);

}  // namespace tmdflow::learn
