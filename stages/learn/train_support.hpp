#pragma once
// The train stage's parts: its options and what they resolve to (the trainset, the network, the
// loss, the trainer), and what it writes besides the model (training log, figure, manifest).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "stage.hpp"
#include "tmdflow/io/model_catalog.hpp"
#include "tmdflow/learn/evaluate.hpp"
#include "tmdflow/learn/losses.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/learn/trainset_stream.hpp"

namespace tmdflow::stages {

/// Everything train runs with, resolved and checked before any work.
struct TrainPlan {
  learn::TrainsetSource source;
  learn::StreamOptions stream;
  learn::NetworkSpec spec;
  learn::TrainerOptions trainer;
  learn::Loss loss;
  std::string loss_name;
  learn::Metrics metrics;
  std::string model_dir, model_name, figures_dir;
  // Facts of the trainset for the manifest.
  std::int64_t channels = 1, height = 0, width = 0, samples = 0;
  double pixel_A = 0;
  std::string data_command, data_hash, material;
  std::string conditions_json = "{}";  // the trainset's recorded conditions (make-trainset's attributes)
  std::vector<std::string> label_names;  // regression targets, in output order
  std::string target_map;
  std::vector<std::string> class_names;  // of the map channels, when the trainset names them (class_names)
  /// A held-out test set (--test-input): same datasets as the trainset.
  std::optional<learn::TrainsetSource> test;
};

/// The stage's options.
struct TrainConfig {
  std::string network = "resnet", network_params, inputs = "patches", labels, target_map, loss = "mse", class_weights;
  std::string optimizer = "adamw", schedule = "cosine", normalisation = "per-sample";
  std::string model_dir, model_name = "model", figures = "auto", task, noise_psnr, scale_range, test_input;
  double learning_rate = 1e-3, weight_decay = 1e-4, final_fraction = 0.01, validation_fraction = 0.1, min_delta = 0;
  double blur_px = 0, mask_probability = 0;
  std::int64_t epochs = 10, batch = 64, warmup_steps = 0, stop_after_steps = 0, crop_px = 0;
  std::int64_t contamination = 0, vacancies = 0;
  std::uint64_t seed = 1;
  int patience = 0, threads = 0;
  bool resume = false, half = false, restore_best = true, dihedral = false, labels_invariant = false;

  void declare(Options& o);
  /// Checks the options and the trainset (shapes, targets) and resolves everything; ConfigError /
  /// InputError naming the option or dataset.
  TrainPlan plan(const StageContext& ctx) const;

  // The parts that every training stage shares (train, train-stacking).
  /// The options of training itself (network, optimiser, schedule, augmentation but the dihedral
  /// one, test set, model folder, resume), with a stage's own defaults.
  void declare_training(Options& o, const std::string& default_network_params, const std::string& default_model_name);
  /// ConfigError for numbers out of range and a bad model name (before any file is opened).
  void check_numbers() const;
  /// Batch, split, normalisation and augmentation.
  learn::StreamOptions stream_options() const;
  /// Fills the targets of a trainset source (train-stacking: computed from its labels), for the
  /// trainset and for a --test-input alike.
  using TargetsOf = std::function<void(learn::TrainsetSource&)>;
  /// Opens the trainset of --input (p.stream set) with its targets, and a --test-input: shapes,
  /// facts and conditions into p; returns the open trainset.
  learn::TrainsetStream read_trainset(const StageContext& ctx, TrainPlan& p, const TargetsOf& targets_of) const;
  /// Trainer options, the model folder (refusing to overwrite a model without --force) and figures.
  void plan_trainer(const StageContext& ctx, TrainPlan& p) const;
};

/// A trained network and how its training went.
struct TrainedNetwork {
  std::shared_ptr<learn::Network> network;
  learn::TrainingResult result;
};

/// Builds the network from --seed (the same run for any rank count), trains it on `data` (or resumes
/// from the model folder's checkpoint with --resume) and throws ConfigError when --stop-after-steps
/// ended it before the last epoch. `who` names the stage in messages. Collective.
TrainedNetwork train_network(const StageContext& ctx, const TrainConfig& cfg, const TrainPlan& plan, learn::TrainsetStream& data,
                             const std::string& who);

/// Saves the model and its manifest (rank 0) into the model folder and returns the manifest as
/// saved (with its sha256 on every rank). Collective.
io::ModelManifest save_trained_model(const StageContext& ctx, const TrainConfig& cfg, const TrainPlan& plan, const learn::Network& network,
                                     io::ModelManifest manifest);

/// After the training log is written: the figure of the curves, the checkpoint removed (the run is
/// complete: a rerun starts afresh, or is skipped), and the closing log line. Collective.
void finish_training(const StageContext& ctx, const TrainPlan& plan, const learn::TrainingResult& result, const io::ModelManifest& manifest,
                     const std::string& who);

/// "a=1,b=x" -> {a: 1, b: x}; ConfigError naming network-params for an item without '='.
std::map<std::string, std::string> network_params_of(const std::string& text);

std::int64_t count_parameters(learn::Network& network);

/// The manifest of the trained model (models/README.md); save_model fills the file and sha256.
io::ModelManifest make_manifest(const StageContext& ctx, const TrainPlan& plan, const learn::TrainingResult& result,
                                const learn::TrainsetStream& data, const std::optional<learn::Evaluation>& test);

/// The training_log/1 product (collective).
void write_training_log(io::ProductWriter& out, const TrainPlan& plan, const learn::TrainingResult& result, const std::string& model_name,
                        const std::string& model_dir, const std::string& sha256, const std::string& threads, int ranks);

/// figures/NAME_training.png: loss curves (log scale) and the validation metrics per epoch.
void write_training_figure(const std::string& output_file, const std::string& model_name, const learn::TrainingResult& result,
                           const TrainPlan& plan);

}  // namespace tmdflow::stages
