#pragma once
// Every network tmdflow trains and ships: a torch::nn::Module with one input tensor and one output
// tensor, rebuildable from its NetworkSpec (family + sizes). Includes torch's headers: include it
// only from learn/ sources and from the .cpp files of stages that train or run models.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

namespace tmdflow::learn {

/// What a network is: its family ("resnet", "unet", "autoencoder", "detector", ...) and its sizes
/// as key = value text (e.g. layout=18 width=16 in_channels=1 outputs=2 head=512), so that it
/// round-trips through a manifest and a command line unchanged.
struct NetworkSpec {
  std::string family;
  std::map<std::string, std::string> params;
};

class Network : public torch::nn::Module {
 public:
  /// x: (batch, channels, height, width) float32.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  /// The spec that make_network() rebuilds this network from (same parameter shapes).
  virtual NetworkSpec spec() const = 0;
};

/// Builds a network of the given spec with fresh (random) weights; ConfigError naming the key for
/// an unknown family or a bad size. Implemented in learn/models.cpp.
std::shared_ptr<Network> make_network(const NetworkSpec& spec);

}  // namespace tmdflow::learn
