#pragma once
// Training checkpoints: one file holding the weights, the optimiser's state, the position in the
// data order and the early-stopping state, written atomically (a temporary file renamed), so a
// run killed at any time leaves the previous checkpoint or the new one, never half of one.
//
// Format (data_schema/training.md): a LibTorch archive (a zip, torch::serialize) with
//   format "tmdflow-checkpoint/1", network (the NetworkSpec as text), parameters ("name shape"
//   lines), weights/w<i> (tensors in module order), optimizer (torch::optim's own archive),
//   state (JSON text of TrainingState) and, when kept, best_weights (one flat tensor).
// No random-generator state is stored: every draw of training is keyed by (seed, epoch, step,
// sample index), so the position is the state.
#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "tmdflow/learn/network.hpp"

namespace tmdflow::learn {

/// One epoch's numbers (also the rows of the training log).
struct EpochRecord {
  std::int64_t epoch = 0;  // 0-based
  double train_loss = 0.0;
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  // NaN without a validation set
  std::map<std::string, double> metrics;  // validation metrics from the trainer's hook
  double learning_rate = 0.0;  // at the epoch's last step
  double seconds = 0.0;
  double samples_per_s = 0.0;
};

/// Where training stands, beyond weights and optimiser.
struct TrainingState {
  std::int64_t epoch = 0;          // the epoch in progress (0-based)
  std::int64_t step_in_epoch = 0;  // its batches done
  std::int64_t global_step = 0;    // optimiser steps done
  std::uint64_t seed = 0;
  int ranks = 1;                   // the rank count that wrote it (informative)
  std::int64_t global_batch = 0;
  std::int64_t train_size = 0;
  double epoch_loss_sum = 0.0;     // sum of per-sample losses of the epoch so far
  std::int64_t epoch_samples = 0;
  double epoch_seconds = 0.0;
  double best_loss = std::numeric_limits<double>::infinity();
  std::int64_t best_epoch = -1;
  std::int64_t epochs_without_improvement = 0;
  bool stopped_early = false;
  std::vector<EpochRecord> history;
};

/// Writes the checkpoint atomically (IoError when it cannot). `best_weights` may be undefined.
void save_checkpoint(const std::string& path, const Network& network, torch::optim::Optimizer& optimizer,
                     const TrainingState& state, const torch::Tensor& best_weights);

/// Loads a checkpoint into `network` and `optimizer` (built as for a fresh run). Refuses with a
/// one-line InputError naming the file a truncated or foreign file and a checkpoint of another
/// network (family, sizes, or any parameter's name or shape); IoError when it is missing.
/// `best_weights` is left undefined when the checkpoint holds none.
void load_checkpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer, TrainingState& state,
                     torch::Tensor& best_weights);

/// "family key=value ..." (sorted keys): how checkpoints and logs name a network.
std::string spec_text(const NetworkSpec& spec);

}  // namespace tmdflow::learn
