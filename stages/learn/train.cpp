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
    TrainedNetwork trained = train_network(ctx, cfg_, plan_, data, "train");
    const std::shared_ptr<learn::Network>& network = trained.network;
    const learn::TrainingResult& result = trained.result;

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
    const io::ModelManifest manifest = save_trained_model(ctx, cfg_, plan_, *network, make_manifest(ctx, plan_, result, data, test));
    write_training_log(out, plan_, result, manifest.name, plan_.model_dir, manifest.sha256, threads.summary(), ctx.comm.size());
    finish_training(ctx, plan_, result, manifest, "train");
  }

 private:
  TrainConfig cfg_;
  TrainPlan plan_;
};

}  // namespace

std::unique_ptr<Stage> make_train_stage() { return std::make_unique<Train>(); }

}  // namespace tmdflow::stages
