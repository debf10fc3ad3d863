#include "tmdflow/learn/model_file.hpp"

#include <torch/serialize.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/sha256.hpp"
#include "tmdflow/learn/memory_format.hpp"

namespace tmdflow::learn {
namespace fs = std::filesystem;
namespace {

constexpr const char* kModelFormat = "tmdflow-model/1";

torch::Tensor stored(const torch::Tensor& t, bool half) {
  torch::Tensor out = t.detach().to(torch::kCPU).contiguous();
  return half && out.is_floating_point() ? out.to(torch::kHalf) : out;
}

// Mirrors torch::nn::Module::save (one sub-archive per child module), with float16 storage.
void write_module(const torch::nn::Module& module, torch::serialize::OutputArchive& archive, bool half) {
  for (const auto& p : module.named_parameters(false)) archive.write(p.key(), stored(p.value(), half));
  for (const auto& b : module.named_buffers(false)) archive.write(b.key(), stored(b.value(), half), true);
  for (const auto& child : module.named_children()) {
    torch::serialize::OutputArchive sub(archive.compilation_unit());
    write_module(*child.value(), sub, half);
    archive.write(child.key(), sub);
  }
}

void read_tensor(torch::serialize::InputArchive& archive, const std::string& key, const std::string& name,
                 torch::Tensor& target, bool is_buffer, const std::string& path) {
  torch::Tensor value;
  archive.read(key, value, is_buffer);
  if (!value.defined() || value.sizes() != target.sizes())
    throw InputError::at(path, "", "tensor " + name, "shape " + c10::str(target.sizes()),
                         value.defined() ? "shape " + c10::str(value.sizes()) : std::string("none"));
  torch::NoGradGuard no_grad;
  target.copy_(value);  // converts float16 storage back to the network's float32
}

void read_module(torch::nn::Module& module, torch::serialize::InputArchive& archive, const std::string& prefix,
                 const std::string& path) {
  for (auto& p : module.named_parameters(false)) read_tensor(archive, p.key(), prefix + p.key(), p.value(), false, path);
  for (auto& b : module.named_buffers(false)) read_tensor(archive, b.key(), prefix + b.key(), b.value(), true, path);
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive sub;
    archive.read(child.key(), sub);
    read_module(*child.value(), sub, prefix + child.key() + ".", path);
  }
}

std::string read_model_string(torch::serialize::InputArchive& archive, const std::string& key, const std::string& path) {
  c10::IValue v;
  if (!archive.try_read(key, v) || !v.isString())
    throw InputError::at(path, "", "entry '" + key + "'", "a string", v.isNone() ? "none" : v.tagKind());
  return v.toStringRef();
}

void rename_into_place(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw IoError(path + ": cannot rename " + tmp + " to it: " + ec.message());
}

}  // namespace

std::string spec_to_json(const NetworkSpec& spec) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, v] : spec.params) params[k] = v;
  return nlohmann::json{{"family", spec.family}, {"params", params}}.dump();
}

NetworkSpec spec_from_json(const std::string& text, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("family") || !j["family"].is_string() || !j.contains("params") ||
      !j["params"].is_object())
    throw InputError::at(where, "", "network spec", "{\"family\": TEXT, \"params\": {KEY: TEXT}}", "'" + text + "'");
  NetworkSpec spec{j["family"].get<std::string>(), {}};
  for (auto it = j["params"].begin(); it != j["params"].end(); ++it) {
    if (!it->is_string()) throw InputError::at(where, "", "network spec key '" + it.key() + "'", "a string", it->dump());
    spec.params[it.key()] = it->get<std::string>();
  }
  return spec;
}

io::ModelManifest save_model(const Network& network, io::ModelManifest manifest, const std::string& folder,
                             const SaveModelOptions& options) {
  if (options.file.empty() || options.file.find('/') != std::string::npos || options.file == "manifest.json")
    throw ConfigError("save_model: file: expected a file name such as model.pt, found '" + options.file + "'");
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw IoError(folder + ": cannot create the model folder: " + ec.message());
  const NetworkSpec spec = network.spec();
  if (manifest.name.empty()) manifest.name = fs::path(folder).lexically_normal().filename().string();
  if (manifest.name.empty()) manifest.name = fs::absolute(folder).lexically_normal().parent_path().filename().string();
  manifest.family = spec.family;
  manifest.params = spec.params;
  manifest.parameter_count = 0;
  for (const auto& p : network.parameters()) manifest.parameter_count += p.numel();
  manifest.file = options.file;
  manifest.storage = options.half ? "float16" : "float32";
  manifest.sha256.clear();
  // Its JSON sections as they will read back (compact): what is returned is what loads.
  manifest = io::manifest_from_json(io::manifest_to_json(manifest, 0), folder + "/manifest.json");

  const std::string path = (fs::path(folder) / options.file).string();
  const std::string tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive;
    archive.write("format", c10::IValue(std::string(kModelFormat)));
    archive.write("spec", c10::IValue(spec_to_json(spec)));
    archive.write("manifest", c10::IValue(io::manifest_to_json(manifest, 0)));
    torch::serialize::OutputArchive weights(archive.compilation_unit());
    write_module(network, weights, options.half);
    archive.write("network", weights);
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    fs::remove(tmp, ec);
    throw IoError(tmp + ": cannot write the model file: " + e.what_without_backtrace());
  }
  rename_into_place(tmp, path);
  manifest.sha256 = sha256_file(path);
  io::write_manifest(manifest, (fs::path(folder) / "manifest.json").string());
  return manifest;
}

io::ModelLocation resolve_model(const std::string& name_or_path) {
  io::ModelLocation loc = io::locate_model(name_or_path);
  io::verify_model_file(loc);
  return loc;
}

LoadedModel load_model(const std::string& name_or_path) {
  const io::ModelLocation loc = resolve_model(name_or_path);
  const std::string& path = loc.model_path;
  LoadedModel out;
  out.path = path;
  out.sha256 = loc.manifest_path.empty() ? sha256_file(path) : loc.manifest.sha256;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    why = why.substr(0, why.find('\n'));
    throw InputError::at(path, "", "model file", "a tmdflow model file (LibTorch archive)", "an unreadable file: " + why);
  }
  try {
    const std::string format = read_model_string(archive, "format", path);
    if (format != kModelFormat) throw InputError::at(path, "", "entry 'format'", kModelFormat, format);
    const NetworkSpec spec = spec_from_json(read_model_string(archive, "spec", path), path);
    out.manifest = loc.manifest_path.empty() ? io::manifest_from_json(read_model_string(archive, "manifest", path), path + " (embedded manifest)")
                                             : loc.manifest;
    if (out.manifest.family != spec.family || out.manifest.params != spec.params)
      throw InputError::at(loc.manifest_path.empty() ? path : loc.manifest_path, "", "architecture", spec_to_json(spec) + " (the model file's)",
                           spec_to_json({out.manifest.family, out.manifest.params}));
    try {
      out.network = make_network(spec);
    } catch (const ConfigError& e) {
      throw InputError(path + ": the network spec it holds does not build: " + e.what());
    }
    torch::serialize::InputArchive weights;
    archive.read("network", weights);
    read_module(*out.network, weights, "", path);
  } catch (const c10::Error& e) {
    std::string why = e.what_without_backtrace();
    why = why.substr(0, why.find('\n'));
    throw InputError::at(path, "", "model file", "a complete tmdflow model file", "a damaged one: " + why);
  }
  if (out.manifest.name.empty()) out.manifest.name = fs::path(path).stem().string();
  out.network->eval();
  return out;
}

std::string LoadedModel::label() const { return manifest.name + " (sha256 " + sha256.substr(0, 12) + ")"; }

std::unique_ptr<TorchModel> as_patch_model(const LoadedModel& model, TorchModelOptions options) {
  use_channels_last(*model.network);  // the CPU fast path (memory_format.hpp); same values
  return TorchModel::from_module(model.network, "model " + model.label(), std::move(options));
}

void export_state_dict(const Network& network, const std::string& path) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& p : network.named_parameters(true)) dict.insert(p.key(), p.value().detach().cpu().contiguous());
  for (const auto& b : network.named_buffers(true)) dict.insert(b.key(), b.value().detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out.flush()) throw IoError(tmp + ": cannot write the state dict");
  }
  rename_into_place(tmp, path);
}

}  // namespace tmdflow::learn
