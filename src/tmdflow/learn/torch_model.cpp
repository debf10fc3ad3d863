#include "tmdflow/learn/torch_model.hpp"

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <filesystem>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::learn {
namespace {

torch::Device parse_device(const std::string& device) {
  try {
    return torch::Device(device);
  } catch (const c10::Error& e) {
    throw ConfigError("torch device: expected 'cpu', 'cuda' or 'cuda:N', found '" + device + "'");
  }
}

}  // namespace

TorchModel::TorchModel(Forward forward, std::string name, TorchModelOptions options)
    : forward_(std::move(forward)), name_(std::move(name)), options_(std::move(options)), device_(parse_device(options_.device)) {
  if (options_.threads > 0) at::set_num_threads(options_.threads);
}

std::unique_ptr<TorchModel> TorchModel::load_torchscript(const std::string& path, TorchModelOptions options) {
  const torch::Device device = parse_device(options.device);
  if (!std::filesystem::is_regular_file(path)) throw IoError(path + ": TorchScript model: file not found");
  std::shared_ptr<torch::jit::Module> module;
  try {
    module = std::make_shared<torch::jit::Module>(torch::jit::load(path, device));
  } catch (const c10::Error& e) {
    throw InputError(path + ": expected a TorchScript model readable by LibTorch " TORCH_VERSION ", found: " +
                     e.what_without_backtrace());
  }
  module->eval();
  const std::string name = "TorchScript model " + path;
  auto forward = [module, name](const torch::Tensor& x) {
    torch::jit::IValue y = module->forward({x});
    if (!y.isTensor())
      throw InputError(name + ": forward() must return a Tensor, found " + y.tagKind());
    return y.toTensor();
  };
  return std::make_unique<TorchModel>(std::move(forward), name, std::move(options));
}

std::int64_t TorchModel::output_channels(const SampleShape& sample) {
  if (options_.output_channels > 0) return options_.output_channels;
  if (probed_channels_ > 0 && probed_shape_.channels == sample.channels && probed_shape_.height == sample.height &&
      probed_shape_.width == sample.width)
    return probed_channels_;
  const std::vector<float> zeros(std::size_t(sample.size()), 0.f);
  const ModelOutput probe = forward(zeros.data(), 1, sample);
  if (probe.shape.empty() || probe.shape[0] != 1)
    throw InputError(name_ + ": output of one sample of shape " + sample.describe() +
                     ": expected a leading batch axis of 1, found shape " + str::shape_string(probe.shape));
  probed_shape_ = sample;
  probed_channels_ = std::int64_t(probe.values.size());
  return probed_channels_;
}

ModelOutput TorchModel::forward(const float* batch, std::int64_t n, const SampleShape& sample) {
  c10::InferenceMode no_autograd;
  // from_blob borrows the caller's buffer: no copy on the CPU.
  torch::Tensor input = torch::from_blob(const_cast<float*>(batch), {n, sample.channels, sample.height, sample.width},
                                         torch::TensorOptions().dtype(torch::kFloat32));
  if (device_ != torch::Device(torch::kCPU)) input = input.to(device_);
  torch::Tensor output;
  try {
    output = forward_(input);
  } catch (const c10::Error& e) {
    throw InputError(name_ + ": failed on a batch of " + std::to_string(n) + " samples of shape " + sample.describe() +
                     ": " + e.what_without_backtrace());
  }
  output = output.to(torch::kCPU, torch::kFloat32).contiguous();
  ModelOutput result;
  result.shape = output.sizes().vec();
  const float* values = output.data_ptr<float>();
  result.values.assign(values, values + output.numel());
  return result;
}

}  // namespace tmdflow::learn
