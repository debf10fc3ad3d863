#include "train_support.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "tmdflow/core/error.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/learn/model_file.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/sha256.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/plot_curves.hpp"
#include "tmdflow/learn/checkpoint.hpp"
#include "tmdflow/learn/optimizer.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace tmdflow::stages {
namespace {

/// "a=1,b=x" -> {a: 1, b: x}; ConfigError naming the option for an item without '='.
std::map<std::string, std::string> key_values(const std::string& text, const char* option) {
  std::map<std::string, std::string> out;
  for (const auto& item : str::split(text, ',')) {
    const std::string t = str::trim(item);
    if (t.empty()) continue;
    const auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(std::string(option) + ": expected KEY=VALUE items separated by commas, found '" + t + "'");
    out[str::trim(t.substr(0, eq))] = str::trim(t.substr(eq + 1));
  }
  return out;
}

std::pair<double, double> range_of(const std::string& text, const char* option) {
  const auto v = str::to_double_list(text, option);
  if (v.size() != 2 || !(v[0] <= v[1])) throw ConfigError(std::string(option) + ": expected MIN,MAX with MIN <= MAX, found '" + text + "'");
  return {v[0], v[1]};
}

/// A path inside the trainset: labels given by name live under labels/.
std::string label_path(const std::string& name) { return name.find('/') == std::string::npos ? "labels/" + name : name; }

/// The last component of a dataset path ("labels/slip_a" -> "slip_a").
std::string leaf(const std::string& path) {
  const auto s = path.rfind('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

bool is_classification(const std::string& loss) { return loss == "cross-entropy" || loss == "dice" || loss == "focal"; }

}  // namespace

void TrainConfig::declare(Options& o) {
  o.add<std::string>("inputs", &inputs, "patches", "inputs dataset or array group in the trainset (N, [C,] H, W)")
      .add<std::string>("labels", &labels, "", "regression targets: label datasets NAME,... (under labels/ unless a path is given)")
      .add<std::string>("target-map", &target_map, "", "map targets: dataset or array group (N, [C,] H, W), e.g. targets")
      .add<std::string>("loss", &loss, "mse", "loss: mse, l1, cross-entropy, dice, focal, peak-mse (heat maps with rare peaks)")
      .add<std::string>("class-weights", &class_weights, "", "cross-entropy / focal: weight of each class W0,W1,...; peak-mse: of each heat map's peaks")
      .add<bool>("augment-dihedral", &dihedral, false, "augment by the 8 rotations/flips (map targets follow; labels only with --labels-invariant)")
      .add<bool>("labels-invariant", &labels_invariant, false, "the labels do not change under rotations and flips")
      .add<std::string>("task", &task, "", "what the model predicts, for the manifest (default: from the targets)");
  declare_training(o, "", "model");
}

void TrainConfig::declare_training(Options& o, const std::string& default_network_params, const std::string& default_model_name) {
  o.add<std::string>("network", &network, "resnet", "network family: resnet, unet, autoencoder, detector")
      .add<std::string>("network-params", &network_params, default_network_params,
                        "sizes KEY=VALUE,... (resnet: layout=18|34|50, width, head; unet: levels, base, classes; autoencoder: "
                        "latent; detector: classes, width); in_channels and outputs/classes default from the trainset")
      .add<std::string>("optimizer", &optimizer, "adamw", "optimiser: adam, adamw, sgd")
      .add<double>("learning-rate", &learning_rate, 1e-3, "peak learning rate")
      .add<double>("weight-decay", &weight_decay, 1e-4, "weight decay (AdamW: decoupled)")
      .add<std::string>("schedule", &schedule, "cosine", "learning-rate schedule: constant, linear, cosine (after --warmup-steps)")
      .add<std::int64_t>("warmup-steps", &warmup_steps, 0, "steps of linear warm-up")
      .add<double>("final-lr-fraction", &final_fraction, 0.01, "learning rate at the last step, as a fraction of the peak")
      .add<std::int64_t>("epochs", &epochs, 10, "epochs (passes over the training samples)")
      .add<std::int64_t>("batch", &batch, 64, "global batch (samples per step over all ranks)")
      .add<double>("validation-fraction", &validation_fraction, 0.1, "fraction of the trainset held out for validation")
      .add<std::string>("normalisation", &normalisation, "per-sample", "input normalisation: per-sample (mean 0, sd 1), none")
      .add<std::uint64_t>("seed", &seed, 1, "random seed (weights, data order, augmentation)")
      .add<int>("patience", &patience, 0, "early stopping: epochs without improvement of the validation loss (0: never)")
      .add<double>("min-delta", &min_delta, 0.0, "early stopping: the least improvement that counts")
      .add<bool>("restore-best", &restore_best, true, "keep the weights of the epoch with the best validation loss")
      .add<std::string>("augment-noise-psnr-dB", &noise_psnr, "", "augment with Poisson or Gaussian noise down to a PSNR in MIN,MAX [dB]")
      .add<double>("augment-blur-px", &blur_px, 0.0, "augment with a Gaussian blur of sigma up to this [pixels] (half the samples)")
      .add<std::string>("augment-scale", &scale_range, "", "augment by scaling about the centre by a factor in MIN,MAX")
      .add<std::int64_t>("augment-crop-px", &crop_px, 0, "train on random crops of this size [pixels] (validation: centre crops)")
      .add<std::int64_t>("augment-contamination", &contamination, 0, "augment with up to this many bright contamination blobs")
      .add<std::int64_t>("augment-vacancies", &vacancies, 0, "augment with up to this many vacancy-like dark spots")
      .add<double>("augment-mask-probability", &mask_probability, 0.0, "probability of a random masked rectangle")
      .add<std::string>("test-input", &test_input, "", "a held-out test set (FILE.h5[:/group], same datasets): its loss and metrics go to the manifest")
      .add<std::string>("model-name", &model_name, default_model_name, "name of the model (its folder and manifest)")
      .add<std::string>("model-dir", &model_dir, "", "folder of the model (default: the --model-name folder in a folder 'models' beside the output file)")
      .add<bool>("half", &half, false, "store the weights as float16 (half the file size)")
      .add<std::string>("figures", &figures, "auto", "folder for the training-curve PNG (auto: figures/ beside the output; none: no figure)")
      .add<bool>("resume", &resume, false, "continue from the model folder's checkpoint when there is one")
      .add<std::int64_t>("stop-after-steps", &stop_after_steps, 0, "stop cleanly after this many steps in all (0: run to the end)")
      .add<int>("threads", &threads, 0, "LibTorch threads per rank (0: the cores each rank owns)");
}

void TrainConfig::check_numbers() const {
  for (const auto& [option, value] : {std::pair<const char*, double>{"epochs", double(epochs)}, {"batch", double(batch)},
                                      {"learning-rate", learning_rate}})
    require_positive(option, value);
  if (!(validation_fraction >= 0 && validation_fraction < 1))
    throw ConfigError("validation-fraction: expected 0 <= f < 1, found " + std::to_string(validation_fraction));
  if (weight_decay < 0 || warmup_steps < 0 || final_fraction < 0 || patience < 0 || min_delta < 0 || blur_px < 0 || crop_px < 0 ||
      contamination < 0 || vacancies < 0 || !(mask_probability >= 0 && mask_probability <= 1) || stop_after_steps < 0 || threads < 0)
    throw ConfigError("train: expected non-negative weight-decay, warmup-steps, final-lr-fraction, patience, min-delta, augment-* sizes, "
                      "stop-after-steps and threads, and a mask probability in [0, 1]");
  if (model_name.empty() || model_name.find('/') != std::string::npos || model_name == "." || model_name == "..")
    throw ConfigError("model-name: expected a name without '/', found '" + model_name + "'");
}

learn::StreamOptions TrainConfig::stream_options() const {
  learn::StreamOptions s;
  s.global_batch = batch;
  s.validation_fraction = validation_fraction;
  s.seed = seed;
  if (normalisation == "per-sample") s.normalisation = learn::Normalisation::per_sample;
  else if (normalisation == "none") s.normalisation = learn::Normalisation::none;
  else throw ConfigError("normalisation: expected per-sample or none, found '" + normalisation + "'");
  auto& a = s.augment;
  a.dihedral = dihedral;
  if (!noise_psnr.empty()) {
    std::tie(a.psnr_min_db, a.psnr_max_db) = range_of(noise_psnr, "augment-noise-psnr-dB");
    a.noise_probability = 1.0;
  }
  if (blur_px > 0) a.blur_probability = 0.5, a.blur_sigma_max_px = blur_px;
  if (!scale_range.empty()) std::tie(a.scale_min, a.scale_max) = range_of(scale_range, "augment-scale");
  a.crop_px = crop_px;
  a.contamination_max = int(contamination);
  a.vacancies_max = int(vacancies);
  a.mask_probability = mask_probability;
  a.validate();
  return s;
}

learn::TrainsetStream TrainConfig::read_trainset(const StageContext& ctx, TrainPlan& p, const TargetsOf& targets_of) const {
  const io::Target in = io::parse_target(ctx.input, "/trainset");
  p.source.file = in.file;
  p.source.group = in.group;
  p.source.inputs = inputs;
  if (targets_of) targets_of(p.source);
  // Open the trainset: shapes and targets are checked here, before any work.
  learn::TrainsetStream probe(p.source, p.stream, ctx.comm.rank(), ctx.comm.size());
  p.channels = probe.channels();
  p.height = crop_px > 0 ? crop_px : probe.height();
  p.width = crop_px > 0 ? crop_px : probe.width();
  p.samples = probe.size();
  if (probe.train_size() < 1) throw InputError(ctx.input + ": expected training samples after the validation split, found none");
  {
    io::h5::File f = io::h5::File::open(p.source.file, io::h5::Mode::read, nullptr);
    const io::h5::Group g = f.group(p.source.group);
    p.material = g.attr_string("material").value_or("");
    p.data_command = g.attr_string("tmdflow_command").value_or("");
    p.data_hash = g.attr_string("tmdflow_config_hash").value_or("");
    json conditions = json::object();
    if (auto v = g.attr_string("materials")) conditions["materials"] = *v;
    else if (!p.material.empty()) conditions["materials"] = p.material;
    if (auto v = g.attr_int("layers")) conditions["layers"] = *v;
    if (auto v = g.attr_string("dopant")) conditions["dopant"] = *v;
    for (const char* key : {"pixel_A", "voltage_kV", "convergence_mrad", "detector_inner_mrad", "detector_outer_mrad", "Cs_A", "heatmap_sigma_A"})
      if (auto v = g.attr_double(key)) conditions[key] = *v;
    for (const char* key : {"dose_range_e_per_A2", "defocus_range_A", "source_size_range_A", "jitter_range_A", "vacancy_range",
                            "contamination_range", "slip_range", "twist_range_deg",
                            // make-defect-trainset draws the microscope per patch
                            "native_pixel_range_A", "voltage_range_kV", "convergence_range_mrad", "inner_range_mrad", "outer_range_mrad",
                            "drift_range_A", "dopant_range", "single_vacancy_range", "double_vacancy_range",
                            // make-atoms-trainset draws the composition and the metal vacancies too
                            "metal_alloy_range", "chalcogen_alloy_range", "metal_vacancy_range"})
      if (auto v = g.attr_doubles(key)) conditions[key] = *v;
    p.conditions_json = conditions.dump();
    if (g.kind("class_names") == io::h5::LinkKind::dataset) p.class_names = g.open_dataset("class_names").read_strings();
    if (g.kind(inputs) == io::h5::LinkKind::group) {
      const auto dims = io::emd::read_dims(g.open_group(inputs), 3);
      if (dims.size() == 3 && (dims[2].units == "A" || dims[2].units == "Å")) p.pixel_A = dims[2].step;
    }
  }

  if (!test_input.empty()) {
    const io::Target t = io::parse_target(test_input, "/trainset");
    learn::TrainsetSource ts = p.source;
    ts.file = t.file;
    ts.group = t.group;
    if (targets_of) targets_of(ts);
    learn::StreamOptions probe_options = p.stream;
    probe_options.validation_fraction = 0;
    learn::TrainsetStream test_probe(ts, probe_options, ctx.comm.rank(), ctx.comm.size());
    if (test_probe.channels() != probe.channels() || test_probe.height() != probe.height() || test_probe.width() != probe.width() ||
        test_probe.target_values() != probe.target_values())
      throw InputError(test_input + ": expected test samples shaped like the trainset's, found others");
    p.test = ts;
  }
  return probe;
}

void TrainConfig::plan_trainer(const StageContext& ctx, TrainPlan& p) const {
  auto& t = p.trainer;
  t.epochs = epochs;
  t.optimizer.kind = learn::optimizer_kind(optimizer);
  t.optimizer.learning_rate = learning_rate;
  t.optimizer.weight_decay = weight_decay;
  t.schedule.kind = learn::schedule_kind(schedule);
  t.schedule.warmup_steps = warmup_steps;
  t.schedule.final_fraction = final_fraction;
  t.seed = seed;
  t.patience = patience;
  t.min_delta = min_delta;
  t.restore_best = restore_best;
  t.stop_after_steps = stop_after_steps;

  // Where the model goes: never over another model without --force.
  const fs::path out_dir = fs::absolute(ctx.output.file).parent_path();
  p.model_name = model_name;
  p.model_dir = model_dir.empty() ? (out_dir / "models" / model_name).string() : model_dir;
  t.checkpoint = (fs::path(p.model_dir) / "checkpoint.pt").string();
  if (fs::exists(fs::path(p.model_dir) / "model.pt") && !ctx.replace)
    throw ConfigError("model-dir: " + p.model_dir + " already holds a model (model.pt): give another --model-name or --model-dir, "
                      "or --force to replace it");
  if (fs::exists(t.checkpoint) && !resume && !ctx.replace)
    throw ConfigError("model-dir: " + p.model_dir + " holds the checkpoint of an unfinished run: --resume true continues it, "
                      "--force starts afresh");
  p.figures_dir = figures_folder(figures, ctx.output.file);
}

TrainPlan TrainConfig::plan(const StageContext& ctx) const {
  TrainPlan p;
  // Numbers first: no file is opened for a command line that cannot run.
  check_numbers();
  if (labels.empty() == target_map.empty())
    throw ConfigError("labels, target-map: expected one of them (regression labels, or a map of targets), found " +
                      std::string(labels.empty() ? "neither" : "both"));
  if (dihedral && !labels.empty() && !labels_invariant)
    throw ConfigError("augment-dihedral: rotations and flips change direction-like labels (" + labels +
                      "); give --labels-invariant true when they do not, or train without it");
  p.stream = stream_options();

  if (!labels.empty())
    for (const auto& l : str::split(labels, ',')) {
      if (str::trim(l).empty()) continue;
      p.source.labels.push_back(label_path(str::trim(l)));
      p.label_names.push_back(leaf(str::trim(l)));
    }
  p.source.target_map = target_map;
  p.target_map = target_map;
  learn::TrainsetStream probe = read_trainset(ctx, p, {});

  // The network: the trainset gives its input channels and output size unless they are set.
  p.spec.family = network;
  p.spec.params = key_values(network_params, "network-params");
  p.spec.params.emplace("in_channels", std::to_string(p.channels));
  const bool values = probe.target_kind() == learn::TargetKind::values;
  p.loss_name = loss;
  if (values) {
    if (is_classification(loss)) throw ConfigError("loss: " + loss + " needs class maps (--target-map), not regression labels");
    if (network == "resnet") p.spec.params.emplace("outputs", std::to_string(probe.target_values()));
  } else if (network == "unet" || network == "detector") {
    if (!is_classification(loss)) p.spec.params.emplace("classes", std::to_string(probe.target_channels()));
    else if (!p.spec.params.count("classes"))
      throw ConfigError("network-params: " + loss + " on class maps needs classes=N (the number of classes)");
  }
  learn::make_network(p.spec);  // a spec that does not build fails here

  if (loss == "cross-entropy" || loss == "focal" || loss == "peak-mse") {
    std::vector<double> w;
    if (!class_weights.empty()) w = str::to_double_list(class_weights, "class-weights");
    p.loss = loss == "focal" ? learn::focal_loss(2.0, w) : loss == "peak-mse" ? learn::peak_weighted_mse(w) : learn::cross_entropy(w);
  } else {
    if (!class_weights.empty()) throw ConfigError("class-weights: only for cross-entropy, focal and peak-mse, not " + loss);
    p.loss = learn::loss_by_name(loss);
  }

  // Metrics on the validation set, averaged over its samples by the trainer.
  p.metrics = values ? learn::mae_per_output(p.label_names) : is_classification(loss) ? learn::pixel_accuracy() : learn::mean_absolute_error();
  plan_trainer(ctx, p);
  return p;
}

std::map<std::string, std::string> network_params_of(const std::string& text) { return key_values(text, "network-params"); }

std::int64_t count_parameters(learn::Network& network) {
  std::int64_t n = 0;
  for (const auto& t : network.parameters()) n += t.numel();
  return n;
}

io::ModelManifest make_manifest(const StageContext& ctx, const TrainPlan& plan, const learn::TrainingResult& result,
                                const learn::TrainsetStream& data, const std::optional<learn::Evaluation>& test) {
  io::ModelManifest m;
  m.name = plan.model_name;
  const bool values = !plan.label_names.empty();
  m.task = values ? "regression of " + str::join(plan.label_names, ", ") : "maps of " + plan.target_map + " (" + plan.loss_name + ")";
  m.family = plan.spec.family;
  m.params = plan.spec.params;
  m.input_channels = plan.channels;
  m.input_height = plan.height;
  m.input_width = plan.width;
  m.pixel_size_A = plan.pixel_A;
  m.normalisation = plan.stream.normalisation == learn::Normalisation::per_sample ? "per-sample mean 0, sd 1" : "none";
  json output;
  if (values) output = {{"kind", "values"}, {"labels", plan.label_names}};
  else output = {{"kind", "map"}, {"target", plan.target_map}, {"channels", data.target_channels()}};
  if (!values && std::int64_t(plan.class_names.size()) == data.target_channels()) output["class_names"] = plan.class_names;
  m.output = output.dump();
  m.conditions = plan.conditions_json;
  m.data = json{{"command", plan.data_command},
                {"product", plan.source.file + ":" + plan.source.group},
                {"config_hash", plan.data_hash},
                {"samples", plan.samples}}
               .dump();
  double seconds = 0;
  for (const auto& e : result.history) seconds += e.seconds;
  m.training = json{{"command", ctx.command},
                    {"epochs", std::int64_t(result.history.size())},
                    {"ranks", ctx.comm.size()},
                    {"global_batch", plan.stream.global_batch},
                    {"loss", plan.loss_name},
                    {"seconds", seconds},
                    {"stopped_early", result.stopped_early}}
                   .dump();
  json metrics = {{"validation_samples", data.validation_size()}, {"best_epoch", result.best_epoch}};
  if (result.best_epoch >= 0 && result.best_epoch < std::int64_t(result.history.size())) {
    const auto& best = result.history[std::size_t(result.best_epoch)];
    if (std::isfinite(best.validation_loss)) metrics["validation_loss"] = best.validation_loss;
    metrics["train_loss"] = best.train_loss;
    for (const auto& [k, v] : best.metrics) metrics[k] = v;
  }
  if (test) {
    json t = {{"samples", test->samples}, {"loss", test->loss}, {"product", plan.test->file + ":" + plan.test->group}};
    for (const auto& [k, v] : test->metrics) t[k] = v;
    metrics["test"] = t;
  }
  m.metrics = metrics.dump();
  if (!plan.spec.params.empty()) m.params = plan.spec.params;
  return m;
}

void write_training_log(io::ProductWriter& out, const TrainPlan& plan, const learn::TrainingResult& result, const std::string& model_name,
                        const std::string& model_dir, const std::string& sha256, const std::string& threads, int ranks) {
  const io::h5::Group& g = out.group();
  const std::int64_t E = std::int64_t(result.history.size());
  auto column = [&](const std::string& name, auto get, const char* units) {
    std::vector<double> v;
    for (const auto& e : result.history) v.push_back(get(e));
    io::h5::Dataset d = g.create_dataset(name, io::Dtype::f64, {E});
    d.write_whole(v.data());
    d.set_attr("units", units);
  };
  {
    std::vector<std::int64_t> epochs;
    for (const auto& e : result.history) epochs.push_back(e.epoch);
    io::h5::Dataset d = g.create_dataset("epoch", io::Dtype::i64, {E});
    d.write_whole(epochs.data());
  }
  column("train_loss", [](const learn::EpochRecord& e) { return e.train_loss; }, plan.loss_name.c_str());
  column("validation_loss", [](const learn::EpochRecord& e) { return e.validation_loss; }, plan.loss_name.c_str());
  column("learning_rate", [](const learn::EpochRecord& e) { return e.learning_rate; }, "");
  column("seconds", [](const learn::EpochRecord& e) { return e.seconds; }, "s");
  column("samples_per_s", [](const learn::EpochRecord& e) { return e.samples_per_s; }, "1/s");
  io::h5::Group mg = g.create_group("metrics");
  std::set<std::string> names;
  for (const auto& e : result.history)
    for (const auto& [k, v] : e.metrics) names.insert(k);
  for (const auto& name : names) {
    std::vector<double> v;
    for (const auto& e : result.history) {
      const auto it = e.metrics.find(name);
      v.push_back(it == e.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
    }
    io::h5::Dataset d = mg.create_dataset(name, io::Dtype::f64, {E});
    d.write_whole(v.data());
  }
  g.set_attr("model_name", model_name);
  g.set_attr("model_dir", fs::absolute(model_dir).string());
  g.set_attr("model_sha256", sha256);
  g.set_attr("network", learn::spec_text(plan.spec));
  g.set_attr("loss", plan.loss_name);
  g.set_attr("ranks", std::int64_t(ranks));
  g.set_attr("global_batch", plan.stream.global_batch);
  g.set_attr("best_epoch", result.best_epoch);
  g.set_attr("stopped_early", std::int64_t(result.stopped_early ? 1 : 0));
  g.set_attr("threads", threads);
  g.set_attr("source", plan.source.file + ":" + plan.source.group);
}

void write_training_figure(const std::string& output_file, const std::string& model_name, const learn::TrainingResult& result,
                           const TrainPlan& plan) {
  if (plan.figures_dir.empty() || result.history.empty()) return;
  (void)output_file;
  fs::create_directories(plan.figures_dir);
  io::plot::Chart loss;
  loss.title = "loss", loss.x_label = "epoch", loss.y_label = "loss (" + plan.loss_name + ")", loss.log_y = true, loss.integer_x = true;
  io::plot::Series train{"training", {}, {}, io::plot::series_colour(0)}, val{"validation", {}, {}, io::plot::series_colour(1)};
  for (const auto& e : result.history) {
    train.x.push_back(double(e.epoch + 1)), train.y.push_back(e.train_loss);
    val.x.push_back(double(e.epoch + 1)), val.y.push_back(e.validation_loss);
  }
  train.markers = val.markers = result.history.size() < 30;
  loss.series = {train, val};
  if (result.best_epoch >= 0) loss.marker_x = double(result.best_epoch + 1), loss.marker_label = "best epoch";
  std::vector<io::plot::Chart> charts{loss};
  std::set<std::string> names;
  for (const auto& e : result.history)
    for (const auto& [k, v] : e.metrics) names.insert(k);
  if (!names.empty()) {
    io::plot::Chart metrics;
    metrics.title = "validation metrics", metrics.x_label = "epoch", metrics.y_label = "value", metrics.integer_x = true;
    int k = 0;
    for (const auto& name : names) {
      io::plot::Series s{name, {}, {}, io::plot::series_colour(k++)};
      for (const auto& e : result.history) {
        const auto it = e.metrics.find(name);
        s.x.push_back(double(e.epoch + 1));
        s.y.push_back(it == e.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
      }
      s.markers = result.history.size() < 30;
      metrics.series.push_back(s);
    }
    charts.push_back(metrics);
  }
  const std::string path = (fs::path(plan.figures_dir) / (model_name + "_training.png")).string();
  io::plot::write_charts(path, charts, "training of " + model_name,
                         "Training of model " + model_name + " (" + learn::spec_text(plan.spec) + "): " + plan.loss_name +
                             " loss per epoch on the training samples and on the held-out validation samples (log scale; dashed "
                             "line: the best epoch, whose weights the model keeps), and the validation metrics per epoch.");
}

TrainedNetwork train_network(const StageContext& ctx, const TrainConfig& cfg, const TrainPlan& plan, learn::TrainsetStream& data,
                             const std::string& who) {
  // Initial weights from --seed (rank 0's are broadcast by the trainer): the same run for any rank count.
  torch::manual_seed(plan.trainer.seed);
  TrainedNetwork t;
  t.network = learn::make_network(plan.spec);
  if (ctx.comm.is_root())
    log::info(who, ": ", learn::spec_text(plan.spec), " (", count_parameters(*t.network), " parameters) on ", data.train_size(), " samples (",
              data.validation_size(), " for validation), global batch ", plan.stream.global_batch, ", ", ctx.comm.size(), " rank(s)");
  learn::TrainerOptions options = plan.trainer;
  options.metrics = plan.metrics;
  // The model folder holds the checkpoint while training runs (it survives a failure, for --resume).
  par::collectively(ctx.comm, [&] {
    if (ctx.comm.is_root()) fs::create_directories(plan.model_dir);
  });
  learn::Trainer trainer(ctx.comm, t.network, data, plan.loss, options);
  const bool resume = cfg.resume && fs::exists(plan.trainer.checkpoint);
  if (resume && ctx.comm.is_root()) log::info(who, ": resuming from ", plan.trainer.checkpoint);
  t.result = resume ? trainer.resume(plan.trainer.checkpoint) : trainer.fit();
  if (!t.result.completed)
    throw ConfigError(who + ": stopped after " + std::to_string(t.result.steps) + " steps (--stop-after-steps) before the last epoch; "
                      "the checkpoint " + plan.trainer.checkpoint + " holds the run: rerun with --resume true to finish it");
  return t;
}

io::ModelManifest save_trained_model(const StageContext& ctx, const TrainConfig& cfg, const TrainPlan& plan, const learn::Network& network,
                                     io::ModelManifest manifest) {
  par::collectively(ctx.comm, [&] {
    if (ctx.comm.is_root()) manifest = learn::save_model(network, manifest, plan.model_dir, learn::SaveModelOptions{cfg.half, "model.pt"});
  });
  manifest.sha256 = ctx.comm.bcast_string(manifest.sha256, 0);
  return manifest;
}

void finish_training(const StageContext& ctx, const TrainPlan& plan, const learn::TrainingResult& result, const io::ModelManifest& manifest,
                     const std::string& who) {
  par::collectively(ctx.comm, [&] {
    if (ctx.comm.is_root()) write_training_figure(ctx.output.file, manifest.name, result, plan);
  });
  par::collectively(ctx.comm, [&] {
    if (ctx.comm.is_root()) fs::remove(plan.trainer.checkpoint);
  });
  if (ctx.comm.is_root())
    log::info(who, ": model ", manifest.name, " written to ", plan.model_dir, " (sha256 ", manifest.sha256.substr(0, 12), ")");
}

}  // namespace tmdflow::stages
