#include "tmdflow/learn/detector.hpp"

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/layers.hpp"
#include "tmdflow/learn/spec_params.hpp"

namespace tmdflow::learn {
namespace {

namespace nn = torch::nn;

class Detector : public Network {
 public:
  explicit Detector(const NetworkSpec& requested) {
    SpecParams p(requested);
    const std::int64_t classes = p.integer("classes", 1, 1, 4096);
    const std::int64_t in_channels = p.integer("in_channels", 1, 1, 4096);
    const std::int64_t base = p.integer("base", 16, 1, 4096);
    const std::int64_t depth = p.integer("depth", 4, 1, 64);
    const std::int64_t stride = p.integer("stride", 1, 1, 64);
    NormKind norm{p.choice("norm", "batch", {"batch", "group"}), p.integer("groups", 8, 1, 4096)};
    p.finish();
    std::int64_t halvings = 0;
    while ((std::int64_t(1) << halvings) < stride) ++halvings;
    if ((std::int64_t(1) << halvings) != stride || halvings > depth)
      throw ConfigError(p.where("stride") + ": expected a power of 2 at most 2^depth = " + std::to_string(1 << depth) +
                        ", found '" + std::to_string(stride) + "'");
    spec_ = p.canonical();

    body_ = register_module("body", nn::Sequential());
    std::int64_t channels = in_channels, dilation = 1;
    for (std::int64_t block = 0; block < depth; ++block) {
      const bool halve = block < halvings;
      const std::int64_t out = base << std::min(block + 1, halvings);
      append_conv_norm_relu(body_, channels, out, norm, halve ? 2 : 1, halve ? 1 : dilation);
      if (!halve) dilation = std::min<std::int64_t>(dilation * 2, 8);
      channels = out;
    }
    maps_ = register_module("maps", nn::Conv2d(nn::Conv2dOptions(channels, classes, 1)));
  }

  torch::Tensor forward(torch::Tensor x) override { return maps_->forward(body_->forward(x)); }
  NetworkSpec spec() const override { return spec_; }

 private:
  NetworkSpec spec_;
  nn::Sequential body_{nullptr};
  nn::Conv2d maps_{nullptr};
};

}  // namespace

std::shared_ptr<Network> make_detector(const NetworkSpec& spec) { return std::make_shared<Detector>(spec); }

}  // namespace tmdflow::learn
