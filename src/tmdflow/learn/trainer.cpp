#include "tmdflow/learn/trainer.hpp"

#include "tmdflow/learn/evaluate.hpp"
#include "tmdflow/learn/memory_format.hpp"

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/learn/data_parallel.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "tmdflow/par/progress.hpp"
#include "tmdflow/par/random.hpp"

namespace tmdflow::learn {
namespace {

constexpr std::uint64_t kTorchStream = 0x746f72;  // "tor"

std::vector<torch::Tensor> float_buffers(const Network& network) {
  std::vector<torch::Tensor> out;
  for (const auto& b : network.buffers(true))
    if (b.scalar_type() == torch::kFloat) out.push_back(b);
  return out;
}

// With one rank an interruption arrives as par::Interrupted; with several, as the CollectiveError
// of the agreement, carrying the signal's exit code.
bool is_interruption(const Error& e) {
  const ExitCode c = e.code();
  return c == ExitCode::hangup || c == ExitCode::interrupt || c == ExitCode::terminate;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

torch::Tensor batch_inputs(const Batch& b) {
  return torch::from_blob(const_cast<float*>(b.inputs.data()), {b.count, b.channels, b.height, b.width}, torch::kFloat);
}

torch::Tensor batch_targets(const Batch& b) {
  if (b.target_kind == TargetKind::map && b.target_channels > 1)
    return torch::from_blob(const_cast<float*>(b.targets.data()), {b.count, b.target_channels, b.height, b.width}, torch::kFloat);
  if (b.target_kind == TargetKind::map)
    return torch::from_blob(const_cast<float*>(b.targets.data()), {b.count, b.height, b.width}, torch::kFloat);
  return torch::from_blob(const_cast<float*>(b.targets.data()), {b.count, b.target_values}, torch::kFloat);
}

Trainer::Trainer(const par::Comm& comm, std::shared_ptr<Network> network, TrainsetStream& data, Loss loss, TrainerOptions options)
    : comm_(comm), network_(std::move(network)), data_(data), loss_(std::move(loss)), options_(std::move(options)) {
  if (data_.rank() != comm_.rank() || data_.ranks() != comm_.size())
    throw ConfigError("trainer: the trainset stream was opened for rank " + std::to_string(data_.rank()) + " of " +
                      std::to_string(data_.ranks()) + ", this is rank " + std::to_string(comm_.rank()) + " of " + std::to_string(comm_.size()));
  if (options_.epochs <= 0) throw ConfigError("epochs: expected >= 1, found " + std::to_string(options_.epochs));
  if (options_.patience < 0) throw ConfigError("patience: expected >= 0 epochs, found " + std::to_string(options_.patience));
  if (options_.schedule.warmup_steps < 0) throw ConfigError("warm-up: expected >= 0 steps");
  // Channels-last weights take oneDNN's faster convolutions on CPU (learn/memory_format.hpp); set
  // before the optimiser sees the parameters.
  use_channels_last(*network_);
  parameters_ = network_->parameters(true);
  optimizer_ = make_optimizer(parameters_, options_.optimizer);
  sync_ = std::make_unique<GradientSync>(comm_, parameters_);
}

Trainer::~Trainer() = default;

std::int64_t Trainer::total_steps() const { return options_.epochs * data_.batches_per_epoch(); }

TrainingResult Trainer::fit() {
  sync_->broadcast_parameters(0);
  std::vector<torch::Tensor> buffers = float_buffers(*network_);
  if (!buffers.empty()) {  // buffers too: rank 0's, not an average of random ones
    torch::Tensor flat = flatten_tensors(buffers);
    comm_.bcast(flat.data_ptr<float>(), std::size_t(flat.numel()), 0);
    unflatten_into(flat, buffers);
  }
  state_ = TrainingState{};
  state_.seed = data_.options().seed;
  state_.ranks = comm_.size();
  state_.global_batch = data_.options().global_batch;
  state_.train_size = data_.train_size();
  best_weights_ = torch::Tensor();
  return run();
}

TrainingResult Trainer::resume(const std::string& checkpoint) {
  TrainingState loaded;
  torch::Tensor best;
  par::collectively(comm_, [&] {
    load_checkpoint(checkpoint, *network_, *optimizer_, loaded, best);
    auto same = [&](const char* what, std::int64_t theirs, std::int64_t ours) {
      if (theirs != ours)
        throw InputError::at(checkpoint, "state", "checkpoint", std::string(what) + " " + std::to_string(ours) + " (this run)",
                             std::to_string(theirs));
    };
    same("training samples", loaded.train_size, data_.train_size());
    same("global batch", loaded.global_batch, data_.options().global_batch);
    same("data seed", std::int64_t(loaded.seed), std::int64_t(data_.options().seed));
  });
  if (loaded.ranks != comm_.size())
    log::warn("resuming a checkpoint written by ", loaded.ranks, " ranks with ", comm_.size(),
              ": same data order, results differ from an uninterrupted run by float rounding only");
  state_ = std::move(loaded);
  state_.ranks = comm_.size();
  best_weights_ = best;
  return run();
}

void Trainer::train_step(std::int64_t epoch, std::int64_t batch) {
  Batch b;
  double local_loss = 0.0;
  // Local work (read, forward, backward) may fail on one rank only: agree before the collectives.
  // The agreement is also where an interruption stops every rank, before the step changes anything.
  par::collectively(comm_, [&] {
    b = data_.train_batch(epoch, batch);
    network_->zero_grad();
    if (b.count == 0) return;
    torch::manual_seed(par::rng::key(options_.seed, kTorchStream, std::uint64_t(state_.global_step), std::uint64_t(comm_.rank())));
    const torch::Tensor loss = loss_(network_->forward(batch_inputs(b)), batch_targets(b));
    if (loss.numel() != 1) throw ConfigError("loss: expected a scalar, found " + std::to_string(loss.numel()) + " values");
    loss.backward();
    local_loss = loss.item<double>();
    if (!std::isfinite(local_loss))
      throw InputError("training diverged: the loss of epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch) + " is " +
                       std::to_string(local_loss) + " (lower the learning rate?)");
  });
  sync_->allreduce_gradients(b.count, b.global_count);
  rate_ = scheduled_rate(options_.schedule, options_.optimizer.learning_rate, state_.global_step, total_steps());
  set_learning_rate(*optimizer_, rate_);
  optimizer_->step();
  state_.epoch_loss_sum += comm_.allreduce(local_loss * double(b.count), par::Op::sum);
  state_.epoch_samples += b.global_count;
  ++state_.step_in_epoch;
  ++state_.global_step;
}

void Trainer::validate(EpochRecord& record) {
  GradientSync::average_buffers(comm_, float_buffers(*network_));
  if (data_.validation_size() == 0) return;
  network_->eval();
  SampleMeans means;
  par::collectively(comm_, [&] {
    torch::NoGradGuard no_grad;
    for (std::int64_t vb = 0; vb < data_.validation_batches(); ++vb) {
      const Batch b = data_.validation_batch(vb);
      if (b.count == 0) continue;
      means.add(network_->forward(batch_inputs(b)), batch_targets(b), loss_, options_.metrics, b.count);
    }
  });
  network_->train();
  // Rank 0 always holds samples (it takes the first part of every batch).
  const Evaluation e = means.reduce(comm_);
  record.validation_loss = e.loss;
  record.metrics = e.metrics;
}

void Trainer::end_epoch(EpochRecord& record) {
  const double monitored = std::isnan(record.validation_loss) ? record.train_loss : record.validation_loss;
  if (monitored < state_.best_loss - options_.min_delta) {
    state_.best_loss = monitored;
    state_.best_epoch = record.epoch;
    state_.epochs_without_improvement = 0;
    if (options_.restore_best) best_weights_ = flatten_tensors(parameters_);
  } else {
    ++state_.epochs_without_improvement;
    if (options_.patience > 0 && state_.epochs_without_improvement >= options_.patience) state_.stopped_early = true;
  }
  state_.history.push_back(record);
  const double eta = record.seconds * double(options_.epochs - record.epoch - 1);
  log::info("epoch ", record.epoch + 1, "/", options_.epochs, ": train loss ", number(record.train_loss),
            std::isnan(record.validation_loss) ? std::string() : ", validation loss " + number(record.validation_loss), ", ",
            std::llround(record.samples_per_s), " samples/s, lr ", number(record.learning_rate), ", ", format_duration(record.seconds),
            state_.stopped_early ? std::string(", early stop (best epoch ") + std::to_string(state_.best_epoch + 1) + ")"
                                 : (record.epoch + 1 < options_.epochs ? ", ETA " + format_duration(eta) : std::string()));
}

void Trainer::write_checkpoint() {
  if (options_.checkpoint.empty()) return;
  par::collectively(comm_, [&] {
    if (comm_.is_root()) save_checkpoint(options_.checkpoint, *network_, *optimizer_, state_, best_weights_);
  });
}

TrainingResult Trainer::run() {
  TrainingResult result;
  const std::int64_t batches = data_.batches_per_epoch();
  network_->train();
  try {
    while (state_.epoch < options_.epochs && !state_.stopped_early) {
      const std::int64_t epoch = state_.epoch;
      {
        par::Progress progress(comm_, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options_.epochs),
                               std::uint64_t(data_.train_size()), "samples", options_.progress);
        Stopwatch clock;
        while (state_.step_in_epoch < batches) {
          const std::int64_t done_before = state_.epoch_samples;
          train_step(epoch, state_.step_in_epoch);
          progress.advance(std::uint64_t(comm_.is_root() ? state_.epoch_samples - done_before : 0));
          const bool stop = options_.stop_after_steps > 0 && state_.global_step >= options_.stop_after_steps;
          if (stop || (options_.checkpoint_every_steps > 0 && state_.global_step % options_.checkpoint_every_steps == 0)) {
            state_.epoch_seconds += clock.seconds();
            clock = Stopwatch();
            write_checkpoint();
          }
          if (stop) {
            progress.finish();
            result.history = state_.history;
            result.steps = state_.global_step;
            result.best_epoch = state_.best_epoch;
            result.best_loss = state_.best_loss;
            return result;
          }
        }
        progress.finish();
        state_.epoch_seconds += clock.seconds();
      }
      EpochRecord record;
      record.epoch = epoch;
      record.train_loss = state_.epoch_loss_sum / double(std::max<std::int64_t>(state_.epoch_samples, 1));
      record.learning_rate = rate_;
      record.seconds = state_.epoch_seconds;
      record.samples_per_s = double(state_.epoch_samples) / std::max(record.seconds, 1e-9);
      validate(record);
      end_epoch(record);
      ++state_.epoch;
      state_.step_in_epoch = 0;
      state_.epoch_loss_sum = 0.0;
      state_.epoch_samples = 0;
      state_.epoch_seconds = 0.0;
      write_checkpoint();
      if (options_.on_epoch) options_.on_epoch(record);
    }
  } catch (const Error& e) {
    if (!is_interruption(e)) throw;
    // Every rank stopped at the same agreement, between two steps: the state is a step boundary.
    // No agreement here (it would throw again): rank 0 writes, the others wait at a barrier.
    if (!options_.checkpoint.empty()) {
      if (comm_.is_root()) {
        try {
          save_checkpoint(options_.checkpoint, *network_, *optimizer_, state_, best_weights_);
          log::info("interrupted: checkpoint of epoch ", state_.epoch + 1, ", step ", state_.step_in_epoch, " written to ",
                    options_.checkpoint);
        } catch (const std::exception& e) {
          log::warn("interrupted: no checkpoint written: ", e.what());
        }
      }
      comm_.barrier();
    }
    throw;
  }
  if (options_.restore_best && best_weights_.defined()) unflatten_into(best_weights_, parameters_);
  result.history = state_.history;
  result.best_epoch = state_.best_epoch;
  result.best_loss = state_.best_loss;
  result.stopped_early = state_.stopped_early;
  result.completed = true;
  result.steps = state_.global_step;
  return result;
}

}  // namespace tmdflow::learn
