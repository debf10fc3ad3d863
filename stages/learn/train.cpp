// Stage train: a network (learn/models) trained on a trainset product, data-parallel over the
// ranks (learn/trainer.hpp). Writes the model (a model file and manifest.json in a model folder,
// models/README.md), a training_log/1 product (loss and metric curves per epoch) and a PNG of the
// curves. A checkpoint beside the model lets a killed run continue (--resume).
#include <filesystem>
#include <fstream>

#include "stage.hpp"
#include "stage_list.hpp"
#include "train_support.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/model_catalog.hpp"
#include "tmdflow/learn/evaluate.hpp"
#include "tmdflow/learn/losses.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/par/failure.hpp"

namespace fs = std::filesystem;

namespace tmdflow::stages {
namespace {

class Train : public Stage {
 public:
  std::string name() const override { return "train"; }
  std::string summary() const override { return learn_stage_catalogue().front().summary; }
  std::string description() const override {
    return "Trains a network on a trainset product (make-trainset, or any HDF5 group with inputs (N, [C,] H, W) and either\n"
           "scalar label datasets (N) or target maps (N, [C,] H, W)), data-parallel over the ranks: every rank its share of\n"
           "each global batch, gradients averaged over all ranks each step, so the result does not depend on the rank count.\n"
           "Networks (--network, sizes in --network-params k=v,...): resnet (layout=18|34|50, width, head), unet (levels,\n"
           "base, classes), autoencoder (latent), detector (classes). Inputs and outputs sizes default from the trainset.\n"
           "Writes the model folder (--model-dir; by default the folder named by --model-name in a folder 'models' beside the\n"
           "output file) with "
           "model.pt and manifest.json (architecture, input, normalisation, the commands that made the data and the model,\n"
           "metrics on the validation set, sha256), a training_log/1 product (loss, learning rate, metrics per epoch) and\n"
           "figures/NAME_training.png. A checkpoint in the model folder is written every epoch and at an interruption;\n"
           "--resume continues from it. See data_schema/training.md.";
  }
  std::string product_schema() const override { return "training_log/1"; }
  std::string default_group() const override { return "/training_log"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override { cfg_.declare(o); }

  void validate(const StageContext& ctx) override { plan_ = cfg_.plan(ctx); }

  std::vector<std::string> read_locations(const StageContext&) const override {
    std::vector<std::string> out{plan_.source.file + ":" + plan_.source.group};
    if (plan_.test) out.push_back(plan_.test->file + ":" + plan_.test->group);
    return out;
  }

  std::vector<std::string> extra_inputs() const override {
    return plan_.test ? std::vector<std::string>{plan_.test->file + ":" + plan_.test->group} : std::vector<std::string>{};
  }

  void run(const StageContext& ctx, io::ProductWriter& out) override {
    const learn::ThreadSettings threads = learn::configure_threads(ctx.comm, cfg_.threads);
    if (ctx.comm.is_root()) log::info("train: ", threads.summary());
    learn::TrainsetStream data(plan_.source, plan_.stream, ctx.comm.rank(), ctx.comm.size());
    // Initial weights from --seed (rank 0's are broadcast by the trainer): the same run for any rank count.
    torch::manual_seed(plan_.trainer.seed);
    std::shared_ptr<learn::Network> network = learn::make_network(plan_.spec);
    if (ctx.comm.is_root())
      log::info("train: ", learn::spec_text(plan_.spec), " (", count_parameters(*network), " parameters) on ", data.train_size(),
                " samples (", data.validation_size(), " for validation), global batch ", plan_.stream.global_batch, ", ",
                ctx.comm.size(), " rank(s)");
    learn::TrainerOptions options = plan_.trainer;
    options.metrics = plan_.metrics;
    // The model folder holds the checkpoint while training runs (it survives a failure, for --resume).
    par::collectively(ctx.comm, [&] {
      if (ctx.comm.is_root()) fs::create_directories(plan_.model_dir);
    });
    learn::Trainer trainer(ctx.comm, network, data, plan_.loss, options);
    const bool resume = cfg_.resume && fs::exists(plan_.trainer.checkpoint);
    if (resume && ctx.comm.is_root()) log::info("train: resuming from ", plan_.trainer.checkpoint);
    const learn::TrainingResult result = resume ? trainer.resume(plan_.trainer.checkpoint) : trainer.fit();
    if (!result.completed)
      throw ConfigError("train: stopped after " + std::to_string(result.steps) + " steps (--stop-after-steps) before the last epoch; "
                        "the checkpoint " + plan_.trainer.checkpoint + " holds the run: rerun with --resume true to finish it");

    // The held-out test set, if any, then the model and its manifest (rank 0), the log and the figure.
    std::optional<learn::Evaluation> test;
    if (plan_.test) {
      learn::StreamOptions o = plan_.stream;
      o.validation_fraction = 0;
      o.augment = {};
      learn::TrainsetStream test_data(*plan_.test, o, ctx.comm.rank(), ctx.comm.size());
      test = learn::evaluate(ctx.comm, *network, test_data, plan_.loss, plan_.metrics, plan_.stream.global_batch);
      if (ctx.comm.is_root()) log::info("train: test set of ", test->samples, " samples: loss ", test->loss);
    }
    io::ModelManifest manifest = make_manifest(ctx, plan_, result, data, test);
    std::string sha;
    par::collectively(ctx.comm, [&] {
      if (!ctx.comm.is_root()) return;
      manifest = learn::save_model(*network, manifest, plan_.model_dir, learn::SaveModelOptions{cfg_.half, "model.pt"});
      sha = manifest.sha256;
    });
    sha = ctx.comm.bcast_string(sha, 0);
    write_training_log(out, plan_, result, manifest.name, plan_.model_dir, sha, threads.summary(), ctx.comm.size());
    par::collectively(ctx.comm, [&] {
      if (ctx.comm.is_root()) write_training_figure(ctx.output.file, manifest.name, result, plan_);
    });
    // The run is complete: its checkpoint has served (a rerun starts afresh, or is skipped).
    par::collectively(ctx.comm, [&] {
      if (ctx.comm.is_root()) fs::remove(plan_.trainer.checkpoint);
    });
    if (ctx.comm.is_root())
      log::info("train: model ", manifest.name, " written to ", plan_.model_dir, " (sha256 ", sha.substr(0, 12), ")");
  }

 private:
  TrainConfig cfg_;
  TrainPlan plan_;
};

}  // namespace

std::unique_ptr<Stage> make_train_stage() { return std::make_unique<Train>(); }

}  // namespace tmdflow::stages
