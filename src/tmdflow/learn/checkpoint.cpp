#include "tmdflow/learn/checkpoint.hpp"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/temporary.hpp"
#include "tmdflow/par/interrupt.hpp"

namespace tmdflow::learn {
namespace {

constexpr const char* kCheckpointFormat = "tmdflow-checkpoint/1";
using json = nlohmann::json;

std::string shape_text(const torch::Tensor& t) {
  std::string s = "(";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + ")";
}

std::vector<std::pair<std::string, torch::Tensor>> named_state(const Network& network) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : network.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : network.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

std::string parameter_lines(const Network& network) {
  std::string s;
  for (const auto& [name, t] : named_state(network)) s += name + " " + shape_text(t) + "\n";
  return s;
}

json record_to_json(const EpochRecord& r) {
  return json{{"epoch", r.epoch},     {"train_loss", r.train_loss}, {"validation_loss", std::isnan(r.validation_loss) ? json(nullptr) : json(r.validation_loss)},
              {"metrics", r.metrics}, {"learning_rate", r.learning_rate}, {"seconds", r.seconds}, {"samples_per_s", r.samples_per_s}};
}

EpochRecord record_from_json(const json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch").get<std::int64_t>();
  r.train_loss = j.at("train_loss").get<double>();
  r.validation_loss = j.at("validation_loss").is_null() ? std::numeric_limits<double>::quiet_NaN() : j.at("validation_loss").get<double>();
  r.metrics = j.at("metrics").get<std::map<std::string, double>>();
  r.learning_rate = j.at("learning_rate").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.samples_per_s = j.at("samples_per_s").get<double>();
  return r;
}

std::string state_to_text(const TrainingState& s) {
  json h = json::array();
  for (const auto& r : s.history) h.push_back(record_to_json(r));
  const json j{{"epoch", s.epoch},
               {"step_in_epoch", s.step_in_epoch},
               {"global_step", s.global_step},
               {"seed", s.seed},
               {"ranks", s.ranks},
               {"global_batch", s.global_batch},
               {"train_size", s.train_size},
               {"epoch_loss_sum", s.epoch_loss_sum},
               {"epoch_samples", s.epoch_samples},
               {"epoch_seconds", s.epoch_seconds},
               {"best_loss", std::isfinite(s.best_loss) ? json(s.best_loss) : json(nullptr)},
               {"best_epoch", s.best_epoch},
               {"epochs_without_improvement", s.epochs_without_improvement},
               {"stopped_early", s.stopped_early},
               {"history", h}};
  return j.dump();
}

TrainingState state_from_text(const std::string& text) {
  const json j = json::parse(text);
  TrainingState s;
  s.epoch = j.at("epoch").get<std::int64_t>();
  s.step_in_epoch = j.at("step_in_epoch").get<std::int64_t>();
  s.global_step = j.at("global_step").get<std::int64_t>();
  s.seed = j.at("seed").get<std::uint64_t>();
  s.ranks = j.at("ranks").get<int>();
  s.global_batch = j.at("global_batch").get<std::int64_t>();
  s.train_size = j.at("train_size").get<std::int64_t>();
  s.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
  s.epoch_samples = j.at("epoch_samples").get<std::int64_t>();
  s.epoch_seconds = j.at("epoch_seconds").get<double>();
  s.best_loss = j.at("best_loss").is_null() ? std::numeric_limits<double>::infinity() : j.at("best_loss").get<double>();
  s.best_epoch = j.at("best_epoch").get<std::int64_t>();
  s.epochs_without_improvement = j.at("epochs_without_improvement").get<std::int64_t>();
  s.stopped_early = j.at("stopped_early").get<bool>();
  for (const auto& r : j.at("history")) s.history.push_back(record_from_json(r));
  return s;
}

std::string first_line(const char* what) {
  std::string s(what);
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string read_checkpoint_string(torch::serialize::InputArchive& a, const std::string& key, const std::string& path) {
  c10::IValue v;
  if (!a.try_read(key, v) || !v.isString())
    throw InputError::at(path, key, "checkpoint", "a string entry '" + key + "'", "none (not a tmdflow checkpoint)");
  return v.toStringRef();
}

}  // namespace

std::string spec_text(const NetworkSpec& spec) {
  std::string s = spec.family;
  for (const auto& [k, v] : spec.params) s += " " + k + "=" + v;  // std::map: sorted keys
  return s;
}

void save_checkpoint(const std::string& path, const Network& network, torch::optim::Optimizer& optimizer, const TrainingState& state,
                     const torch::Tensor& best_weights) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kCheckpointFormat)));
  archive.write("network", c10::IValue(spec_text(network.spec())));
  archive.write("parameters", c10::IValue(parameter_lines(network)));
  torch::serialize::OutputArchive weights;
  std::size_t i = 0;
  for (const auto& [name, t] : named_state(network)) weights.write("w" + std::to_string(i++), t.detach());
  archive.write("weights", weights);
  torch::serialize::OutputArchive opt;
  optimizer.save(opt);
  archive.write("optimizer", opt);
  archive.write("state", c10::IValue(state_to_text(state)));
  if (best_weights.defined()) archive.write("best_weights", best_weights);

  const std::string tmp = io::temporary_name(path);
  const int unlink_id = par::add_emergency_unlink(tmp);
  try {
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    par::remove_emergency_unlink(unlink_id);
    throw IoError(path + ": cannot write the checkpoint: " + first_line(e.what_without_backtrace()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  par::remove_emergency_unlink(unlink_id);
  if (ec) {
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot rename the new checkpoint into place: " + ec.message());
  }
}

void load_checkpoint(const std::string& path, Network& network, torch::optim::Optimizer& optimizer, TrainingState& state,
                     torch::Tensor& best_weights) {
  if (!std::filesystem::exists(path)) throw IoError(path + ": no such checkpoint file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw InputError::at(path, "", "checkpoint", "a tmdflow checkpoint (a LibTorch archive)",
                         "an unreadable file (truncated or corrupt: " + first_line(e.what_without_backtrace()) + ")");
  }
  if (read_checkpoint_string(archive, "format", path) != kCheckpointFormat)
    throw InputError::at(path, "format", "checkpoint", kCheckpointFormat, read_checkpoint_string(archive, "format", path));
  const std::string theirs = read_checkpoint_string(archive, "network", path), ours = spec_text(network.spec());
  if (theirs != ours) throw InputError::at(path, "network", "checkpoint", "a checkpoint of '" + ours + "'", "one of '" + theirs + "'");
  const std::string their_params = read_checkpoint_string(archive, "parameters", path), our_params = parameter_lines(network);
  if (their_params != our_params) {
    std::istringstream a(their_params), b(our_params);
    std::string la, lb;
    while (std::getline(a, la) && std::getline(b, lb) && la == lb) {
    }
    throw InputError::at(path, "parameters", "checkpoint", "parameter '" + (lb.empty() ? std::string("(none)") : lb) + "'",
                         "'" + (la.empty() ? std::string("(none)") : la) + "'");
  }
  try {
    torch::serialize::InputArchive weights;
    archive.read("weights", weights);
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto& [name, t] : named_state(network)) {
      torch::Tensor stored;
      weights.read("w" + std::to_string(i++), stored);
      if (!stored.sizes().equals(t.sizes()) || stored.scalar_type() != t.scalar_type())
        throw InputError::at(path, "weights/" + name, "checkpoint", shape_text(t), shape_text(stored));
      t.copy_(stored);
    }
    torch::serialize::InputArchive opt;
    archive.read("optimizer", opt);
    optimizer.load(opt);
    state = state_from_text(read_checkpoint_string(archive, "state", path));
    best_weights = torch::Tensor();
    torch::Tensor best;
    if (archive.try_read("best_weights", best)) best_weights = best;
  } catch (const c10::Error& e) {
    throw InputError::at(path, "", "checkpoint", "a complete tmdflow checkpoint", "a damaged one (" + first_line(e.what_without_backtrace()) + ")");
  } catch (const json::exception& e) {
    throw InputError::at(path, "state", "checkpoint", "the training state as JSON", std::string("bad JSON (") + e.what() + ")");
  }
}

}  // namespace tmdflow::learn
