#pragma once
// LibTorch models as PatchModels: a torch::nn module (or any tensor -> tensor callable) or a
// TorchScript file. This header includes torch's (slow) headers: include it only in the .cpp
// that builds a model, never from a header that stages or other layers include.
//
// Inference runs under c10::InferenceMode (no autograd graph), the module in eval mode. LibTorch
// is told to use one intra-op thread by default: the parallelism comes from MPI ranks, and one
// OpenMP team per rank on shared cores would oversubscribe them.
#include <torch/script.h>

#include <functional>
#include <memory>
#include <string>

#include "tmdflow/learn/patch_model.hpp"

namespace tmdflow::learn {

struct TorchModelOptions {
  /// Values per sample; 0: found by running the model once on a sample of zeros.
  std::int64_t output_channels = 0;
  /// LibTorch intra-op threads of this process (torch's setting is process-wide); 0 leaves it.
  int threads = 1;
  /// Where the model runs: "cpu", "cuda", "cuda:1", ...
  std::string device = "cpu";
};

class TorchModel : public PatchModel {
 public:
  /// Maps a float batch (n, channels, height, width) on `options.device` to outputs (n, ...).
  using Forward = std::function<torch::Tensor(const torch::Tensor&)>;

  /// Wraps a callable whose module is already in eval mode and on the device.
  TorchModel(Forward forward, std::string name, TorchModelOptions options = {});

  /// Wraps a torch::nn module holder (torch::nn::Sequential, a TORCH_MODULE, ...): puts it in
  /// eval mode and on the device.
  template <class ModuleHolder>
  static std::unique_ptr<TorchModel> from_module(ModuleHolder module, std::string name, TorchModelOptions options = {}) {
    module->eval();
    module->to(torch::Device(options.device));
    return std::make_unique<TorchModel>([module](const torch::Tensor& x) mutable { return module->forward(x); },
                                        std::move(name), std::move(options));
  }

  /// Loads a TorchScript file (torch.jit.save in Python, torch::jit::Module::save in C++).
  /// Throws IoError when the file is missing, InputError when LibTorch cannot read it.
  static std::unique_ptr<TorchModel> load_torchscript(const std::string& path, TorchModelOptions options = {});

  std::int64_t output_channels(const SampleShape& sample) override;
  ModelOutput forward(const float* batch, std::int64_t n, const SampleShape& sample) override;
  std::string name() const override { return name_; }

 private:
  Forward forward_;
  std::string name_;
  TorchModelOptions options_;
  torch::Device device_;
  SampleShape probed_shape_{0, 0, 0};  // sample shape of the last probe of output_channels
  std::int64_t probed_channels_ = 0;
};

}  // namespace tmdflow::learn
