#pragma once
// Data-parallel training of a learn::Network over MPI ranks.
//
//   TrainsetStream data(source, stream_options, comm.rank(), comm.size());
//   Trainer trainer(comm, network, data, mse_loss(), options);
//   TrainingResult r = options_say_resume ? trainer.resume(path) : trainer.fit();
//
// Each step: every rank runs forward and backward on its share of the global batch (the mean
// loss over its samples), the gradients are summed over ranks in one MPI_Allreduce weighted by
// the sample counts (data_parallel.hpp), and every rank takes the same optimiser step. Weights
// start identical (rank 0's are broadcast). Results are independent of the rank count up to float
// rounding; exceptions: BatchNorm normalises by the statistics of each rank's share (its running
// statistics are averaged over ranks at each epoch's end), and layers drawing random numbers
// (dropout) draw per rank from torch's generator, seeded each step by (seed, step, rank).
// Deterministic for a given seed and rank count; a resumed run repeats an uninterrupted one.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tmdflow/core/progress.hpp"
#include "tmdflow/learn/checkpoint.hpp"
#include "tmdflow/learn/evaluate.hpp"
#include "tmdflow/learn/losses.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/learn/optimizer.hpp"
#include "tmdflow/learn/trainset_stream.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn {

struct TrainerOptions {
  std::int64_t epochs = 10;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  /// Keys torch's generator each step (dropout); the data order and augmentation are keyed by
  /// the stream's own seed (StreamOptions::seed).
  std::uint64_t seed = 1;

  /// Early stopping: stop after `patience` epochs without the validation loss (training loss
  /// without a validation set) falling below best - min_delta; 0: never.
  int patience = 0;
  double min_delta = 0.0;
  /// At the end, put back the weights of the best epoch.
  bool restore_best = false;

  /// Checkpoint file ("": none): written at each epoch's end, every `checkpoint_every_steps`
  /// steps when > 0, and when the run is interrupted (SIGINT/SIGTERM) between two steps.
  std::string checkpoint;
  std::int64_t checkpoint_every_steps = 0;
  /// > 0: stop cleanly after this many optimiser steps in total (the checkpoint written); fit()
  /// then returns with completed = false. For time-boxed jobs and tests.
  std::int64_t stop_after_steps = 0;

  /// Validation metrics: means over the given samples of a batch share, by name (the same names
  /// on every rank); the trainer averages them over all validation samples.
  Metrics metrics;
  /// Called on every rank after each epoch (e.g. to write a training log).
  std::function<void(const EpochRecord&)> on_epoch;
  ProgressMode progress = ProgressMode::automatic;
};

struct TrainingResult {
  std::vector<EpochRecord> history;
  std::int64_t best_epoch = -1;
  double best_loss = 0.0;
  bool stopped_early = false;
  bool completed = false;  // false when stopped by stop_after_steps
  std::int64_t steps = 0;
};

class Trainer {
 public:
  /// `data` must be opened for this comm's rank and size. The network stays on the CPU, float32.
  Trainer(const par::Comm& comm, std::shared_ptr<Network> network, TrainsetStream& data, Loss loss, TrainerOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Collective. Trains from rank 0's current weights. An interruption (par/interrupt.hpp) is
  /// rethrown after the checkpoint is written: par::Interrupted with one rank, a
  /// par::CollectiveError with the signal's exit code (129, 130, 143) with several.
  TrainingResult fit();
  /// Collective. Loads the checkpoint (every rank reads it) and continues where it stopped;
  /// InputError for a checkpoint of another network, trainset size, global batch or seed.
  TrainingResult resume(const std::string& checkpoint);

  Network& network() { return *network_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const TrainingState& state() const { return state_; }

 private:
  TrainingResult run();
  void train_step(std::int64_t epoch, std::int64_t batch);
  void validate(EpochRecord& record);
  void end_epoch(EpochRecord& record);
  void write_checkpoint();
  std::int64_t total_steps() const;

  const par::Comm& comm_;
  std::shared_ptr<Network> network_;
  TrainsetStream& data_;
  Loss loss_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<class GradientSync> sync_;
  TrainingState state_;
  torch::Tensor best_weights_;
  double rate_ = 0.0;
};

/// Tensors of a batch share: inputs (n, C, H, W); targets (n, K) or (n, H, W).
torch::Tensor batch_inputs(const Batch& batch);
torch::Tensor batch_targets(const Batch& batch);

}  // namespace tmdflow::learn
