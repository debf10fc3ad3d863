// Stage train-stacking: a ResNet regressor of interlayer slip or twist trained on a make-trainset
// product of stacks rendered in the canonical frame (data_schema/stacking.md), data-parallel over
// the ranks like `train`. Its targets are computed from the trainset's Cartesian labels (slips as
// fractions of the canonical cell, or the twist), its loss is TED-Gen's MSE + 0.5 L1 of the error in
// Angstrom (degrees) against the nearest label that gives the same image (sim/stacking_symmetry.hpp),
// and its manifest's `output` says what infer-stacking needs to run it.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <numeric>
#include <optional>

#include "stage.hpp"
#include "stage_list.hpp"
#include "stacking_support.hpp"
#include "train_support.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/par/failure.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tmdflow::stages {
namespace {

// A ResNet-18 layout at a quarter of the published width with one small hidden layer: at 96 x 96
// windows it runs well over 1,000 windows/s on 2 CPU cores (data_schema/training.md, train-stacking).
// Group normalisation: the same model for any rank count (BatchNorm normalises per rank's share).
constexpr const char* kDefaultNetwork = "layout=18,width=16,head=64,norm=group,groups=4";

class TrainStacking : public Stage {
 public:
  std::string name() const override { return "train-stacking"; }
  std::string summary() const override {
    for (const auto& e : learn_stage_catalogue())
      if (name() == e.name) return e.summary;
    return "";
  }
  std::string description() const override {
    return "Trains the stacking network (a ResNet regressor; --network-params) on a make-trainset product of bilayers or\n"
           "trilayers rendered in the canonical frame (make-trainset --phi-set-deg 30,90 --phi-jitter-deg 1.5 for MX2). Targets:\n"
           "--task slip: the interface slips (slip_x_A, slip_y_A[, slip_x_A_1, slip_y_A_1]) as fractions (a_0, b_0[, a_1, b_1]) of\n"
           "the canonical cell a1c, a2c of --material (sim::layer_cell), read against each patch's lattice (a1_x_A .. a2_y_A);\n"
           "--task twist: twist_deg. Loss: MSE + 0.5 L1 of the error in Angstrom (degrees), minimised over the labels that\n"
           "give the same image (the label symmetry of the stacking, data_schema/stacking.md). Metrics per epoch and on the\n"
           "held-out set (--test-input, else the validation samples): mean |dD| [A], its 95th percentile, the fraction below\n"
           "0.05 A (twist: mean |dtheta| and the fraction told from 60 - theta), and the same for the constant prediction of\n"
           "the mean target. Writes the model folder (model.pt, manifest.json whose 'output' object holds task, material,\n"
           "layers, stacking, values, frame, a1c_A, a2c_A, window_px, pixel_A), a training_log/1 product and a figure.\n"
           "Dihedral augmentation is not offered: the frame is canonical. Data-parallel over the ranks as `train`.";
  }
  std::string product_schema() const override { return "training_log/1"; }
  std::string default_group() const override { return "/training_log"; }
  bool validate_reads_input() const override { return true; }

  void declare(Options& o) override {
    o.add<std::string>("task", &task_, "slip", "what the model predicts: slip (interface slips) or twist (twist angle of a bilayer)")
        .add<std::string>("material", &material_, "", "the stack's material (default: the trainset's 'material' attribute)")
        .add<int>("layers", &layers_, 0, "layers of the stack, 2 or 3 (default: the trainset's 'layers' attribute)")
        .add<std::string>("stacking", &stacking_, "", "registry: 2H, 3R, AA (MX2), AA (1T''); default: the trainset's 'stacking' attribute");
    cfg_.declare_training(o, kDefaultNetwork, "stacking");
  }

  void validate(const StageContext& ctx) override {
    cfg_.check_numbers();
    if (task_ != "slip" && task_ != "twist") throw ConfigError("task: expected slip or twist, found '" + task_ + "'");
    plan_ = TrainPlan{};
    plan_.stream = cfg_.stream_options();
    const io::Target in = io::parse_target(ctx.input, "/trainset");
    if (!io::h5::File::is_hdf5(in.file)) throw InputError::at(in.file, "", "trainset", "an HDF5 file", "no readable HDF5 file");
    {
      io::h5::File f = io::h5::File::open(in.file, io::h5::Mode::read, nullptr);
      if (f.root().kind(in.group) != io::h5::LinkKind::group) throw InputError::at(in.file, in.group, "trainset", "a product group", "nothing");
    }
    task_spec_ = stacking_task(in.file, in.group, task_, material_, layers_, stacking_);
    symmetry_ = target_symmetry(task_spec_);
    cfg_.read_trainset(ctx, plan_, [&](learn::TrainsetSource& s) {
      s.computed_targets = stacking_targets(task_spec_, s.file, s.group);
      s.computed_width = std::int64_t(task_spec_.values.size()) + 1;
    });
    if (plan_.height != plan_.width)
      throw InputError::at(in.file, in.group + "/" + plan_.source.inputs, "stacking windows", "square patches",
                           std::to_string(plan_.height) + "x" + std::to_string(plan_.width));
    if (!(plan_.pixel_A > 0))
      throw InputError::at(in.file, in.group + "/" + plan_.source.inputs, "pixel size", "patch dims in Angstrom (make-trainset's)", "none");
    plan_.label_names = task_spec_.values;
    plan_.spec.family = cfg_.network;
    plan_.spec.params = network_params_of(cfg_.network_params);
    plan_.spec.params.emplace("in_channels", std::to_string(plan_.channels));
    plan_.spec.params["outputs"] = std::to_string(task_spec_.values.size());
    learn::make_network(plan_.spec);  // a spec that does not build fails here
    plan_.loss = learn::equivalence_loss(symmetry_);
    plan_.loss_name = "mse+0.5l1 over equivalents";
    plan_.metrics = stacking_metrics(task_spec_, symmetry_);
    cfg_.plan_trainer(ctx, plan_);
  }

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
    if (ctx.comm.is_root()) log::info("train-stacking: ", threads.summary());
    learn::TrainsetStream data(plan_.source, plan_.stream, ctx.comm.rank(), ctx.comm.size());
    if (ctx.comm.is_root()) log::info("train-stacking: ", task_spec_.symmetry.front().describe());
    TrainedNetwork trained = train_network(ctx, cfg_, plan_, data, "train-stacking");
    const std::shared_ptr<learn::Network>& network = trained.network;
    const learn::TrainingResult& result = trained.result;

    // The held-out set: --test-input, else the validation samples; and the constant prediction
    // of the mean target on it, the reference the model must beat.
    std::optional<learn::Evaluation> test;
    std::optional<learn::TrainsetStream> test_data;
    std::vector<std::int64_t> held_out = data.validation_indices();
    const std::vector<double>* held_out_targets = &plan_.source.computed_targets;
    if (plan_.test) {
      learn::StreamOptions o = plan_.stream;
      o.validation_fraction = 0;
      o.augment = {};
      test_data.emplace(*plan_.test, o, ctx.comm.rank(), ctx.comm.size());
      test = learn::evaluate(ctx.comm, *network, *test_data, plan_.loss, plan_.metrics, plan_.stream.global_batch);
      held_out.resize(std::size_t(test_data->size()));
      std::iota(held_out.begin(), held_out.end(), 0);
      held_out_targets = &plan_.test->computed_targets;
    }
    const std::size_t W = task_spec_.values.size() + 1;
    auto rows_of = [&](const std::vector<double>& all, const std::vector<std::int64_t>& indices) {
      std::vector<double> r;
      for (std::int64_t i : indices) r.insert(r.end(), all.begin() + std::ptrdiff_t(i * W), all.begin() + std::ptrdiff_t((i + 1) * W));
      return r;
    };
    const auto errors = stacking_errors(ctx.comm, *network, test_data ? *test_data : data, held_out, task_spec_, symmetry_, plan_.stream.global_batch);
    const auto summary = stacking_summary(task_spec_, errors);
    const auto reference = constant_prediction_summary(task_spec_, symmetry_, rows_of(plan_.source.computed_targets, data.training_indices()),
                                                       rows_of(*held_out_targets, held_out));
    const std::string set = plan_.test ? "test" : "validation";
    if (ctx.comm.is_root()) log::info("train-stacking: ", set, " set: ", summary_text(summary), " (constant prediction of the mean: ",
                                      summary_text(reference), ")");

    io::ModelManifest manifest = make_manifest(ctx, plan_, result, data, test);
    complete_manifest(manifest, summary, reference, set);
    manifest = save_trained_model(ctx, cfg_, plan_, *network, manifest);
    write_training_log(out, plan_, result, manifest.name, plan_.model_dir, manifest.sha256, threads.summary(), ctx.comm.size());
    out.group().set_attr("task", task_spec_.task);
    out.group().set_attr("label_symmetry", task_spec_.symmetry.front().describe());
    for (const auto& [k, v] : summary) out.group().set_attr(set + "_" + k, v);
    for (const auto& [k, v] : reference) out.group().set_attr("constant_prediction_" + k, v);
    finish_training(ctx, plan_, result, manifest, "train-stacking");
  }

 private:
  std::string summary_text(const std::map<std::string, double>& m) const {
    if (task_spec_.task == "twist")
      return "mean |dtheta| " + str::number(m.at("mean_dtheta_deg")) + " deg, 95 % below " + str::number(m.at("p95_dtheta_deg")) +
             " deg, theta told from 60 - theta in " + str::number(100 * m.at("fraction_theta_not_60_minus_theta")) + " %";
    return "mean |dD| " + str::number(m.at("mean_dD_A")) + " A, 95 % below " + str::number(m.at("p95_dD_A")) + " A, " +
           str::number(100 * m.at("fraction_dD_below_0.05A")) + " % below 0.05 A";
  }

  // The contract of infer-stacking (data_schema/training.md, train-stacking): what the outputs are and in which
  // frame, the window, the conditions; the stacking metrics beside the trainer's.
  void complete_manifest(io::ModelManifest& m, const std::map<std::string, double>& summary, const std::map<std::string, double>& reference,
                         const std::string& set) const {
    const auto& c = task_spec_.cell;
    m.task = "stacking " + task_spec_.task + " of " + task_spec_.material + " " + (task_spec_.layers == 2 ? "bilayers " : "trilayers ") +
             task_spec_.stacking;
    m.output = json{{"kind", "stacking"},
                    {"task", task_spec_.task},
                    {"material", task_spec_.material},
                    {"layers", task_spec_.layers},
                    {"stacking", task_spec_.stacking},
                    {"values", task_spec_.values},
                    {"frame", "canonical"},
                    {"a1c_A", {c.a1[0], c.a1[1]}},
                    {"a2c_A", {c.a2[0], c.a2[1]}},
                    {"window_px", plan_.height},
                    {"pixel_A", plan_.pixel_A},
                    {"anchor", task_spec_.anchor ? "lattice" : "none"}}
                   .dump();
    json conditions = json::parse(plan_.conditions_json);
    if (conditions.contains("detector_inner_mrad")) conditions["adf_inner_mrad"] = conditions["detector_inner_mrad"];
    if (conditions.contains("detector_outer_mrad")) conditions["adf_outer_mrad"] = conditions["detector_outer_mrad"];
    m.conditions = conditions.dump();
    json metrics = json::parse(m.metrics);
    json stacking = {{"set", set}};
    for (const auto& [k, v] : summary) stacking[k] = v;
    json ref = json::object();
    for (const auto& [k, v] : reference) ref[k] = v;
    stacking["constant_prediction"] = ref;
    metrics["stacking"] = stacking;
    m.metrics = metrics.dump();
    json training = json::parse(m.training);
    json symmetry = json::array();
    for (const auto& s : task_spec_.symmetry) symmetry.push_back(s.describe());
    training["label_symmetry"] = symmetry;
    m.training = training.dump();
  }

  std::string task_, material_, stacking_;
  int layers_ = 0;
  TrainConfig cfg_;
  TrainPlan plan_;
  StackingTask task_spec_;
  learn::TargetSymmetry symmetry_;
};

}  // namespace

std::unique_ptr<Stage> make_train_stacking_stage() { return std::make_unique<TrainStacking>(); }

}  // namespace tmdflow::stages
