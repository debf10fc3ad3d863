#include "tmdflow/learn/resnet.hpp"

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/layers.hpp"
#include "tmdflow/learn/spec_params.hpp"

namespace tmdflow::learn {
namespace {

namespace nn = torch::nn;

// One residual block: basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 with 4x the channels out).
class Block : public nn::Module {
 public:
  Block(std::int64_t in, std::int64_t planes, std::int64_t stride, bool bottleneck, const NormKind& norm) {
    const std::int64_t out = bottleneck ? planes * 4 : planes;
    if (bottleneck) {
      conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, planes, 1).bias(false)));
      bn1_ = register_norm("bn1", norm, planes);
      conv2_ = register_module("conv2", conv3x3(planes, planes, stride));
      bn2_ = register_norm("bn2", norm, planes);
      conv3_ = register_module("conv3", nn::Conv2d(nn::Conv2dOptions(planes, out, 1).bias(false)));
      bn3_ = register_norm("bn3", norm, out);
    } else {
      conv1_ = register_module("conv1", conv3x3(in, planes, stride));
      bn1_ = register_norm("bn1", norm, planes);
      conv2_ = register_module("conv2", conv3x3(planes, planes));
      bn2_ = register_norm("bn2", norm, planes);
    }
    if (stride != 1 || in != out) {
      downsample_ = register_module("downsample", nn::Sequential());
      downsample_->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
      downsample_->push_back(make_norm(norm, out));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = bn1_.forward<torch::Tensor>(conv1_->forward(x)).relu_();
    y = bn2_.forward<torch::Tensor>(conv2_->forward(y));
    if (conv3_) y = bn3_.forward<torch::Tensor>(conv3_->forward(y.relu_()));
    return (y + (downsample_ ? downsample_->forward(x) : x)).relu_();
  }

 private:
  nn::AnyModule register_norm(const std::string& name, const NormKind& norm, std::int64_t channels) {
    nn::AnyModule m = make_norm(norm, channels);
    register_module(name, m.ptr());
    return m;
  }
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  nn::AnyModule bn1_, bn2_, bn3_;
  nn::Sequential downsample_{nullptr};
};

class ResNet : public Network {
 public:
  explicit ResNet(const NetworkSpec& requested) {
    SpecParams p(requested);
    const std::int64_t layout = p.integer("layout", 18, 18, 50);
    if (layout != 18 && layout != 34 && layout != 50)
      throw ConfigError(p.where("layout") + ": expected 18, 34 or 50, found '" + std::to_string(layout) + "'");
    const std::int64_t width = p.integer("width", 64, 1, 4096);
    const std::int64_t in_channels = p.integer("in_channels", 1, 1, 4096);
    const std::int64_t outputs = p.integer("outputs", 2, 1, 1 << 20);
    const std::vector<std::int64_t> head = p.integers("head", "512", 1, 1 << 16);
    const bool small_stem = p.choice("stem", "imagenet", {"imagenet", "small"}) == "small";
    NormKind norm{p.choice("norm", "batch", {"batch", "group"}), p.integer("groups", 8, 1, 4096)};
    p.finish();
    spec_ = p.canonical();

    const bool bottleneck = layout == 50;
    const std::vector<std::int64_t> blocks = layout == 18 ? std::vector<std::int64_t>{2, 2, 2, 2}
                                                          : std::vector<std::int64_t>{3, 4, 6, 3};
    conv1_ = register_module("conv1", small_stem ? conv3x3(in_channels, width)
                                                 : nn::Conv2d(nn::Conv2dOptions(in_channels, width, 7).stride(2).padding(3).bias(false)));
    bn1_ = make_norm(norm, width);
    register_module("bn1", bn1_.ptr());
    small_stem_ = small_stem;
    std::int64_t channels = width;
    for (int stage = 0; stage < 4; ++stage) {
      nn::Sequential layer;
      const std::int64_t planes = width << stage;
      for (std::int64_t b = 0; b < blocks[std::size_t(stage)]; ++b) {
        const std::int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
        layer->push_back(std::make_shared<Block>(channels, planes, stride, bottleneck, norm));
        channels = bottleneck ? planes * 4 : planes;
      }
      layers_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
    }
    head_ = register_module("head", nn::Sequential());
    for (std::int64_t hidden : head) {
      head_->push_back(nn::Linear(channels, hidden));
      head_->push_back(nn::ReLU(nn::ReLUOptions(true)));
      channels = hidden;
    }
    head_->push_back(nn::Linear(channels, outputs));
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = bn1_.forward<torch::Tensor>(conv1_->forward(x)).relu_();
    if (!small_stem_) x = torch::max_pool2d(x, 3, 2, 1);
    for (auto& layer : layers_) x = layer->forward(x);
    return head_->forward(x.mean({2, 3}));
  }

  NetworkSpec spec() const override { return spec_; }

 private:
  NetworkSpec spec_;
  bool small_stem_ = false;
  nn::Conv2d conv1_{nullptr};
  nn::AnyModule bn1_;
  std::vector<nn::Sequential> layers_;
  nn::Sequential head_{nullptr};
};

}  // namespace

std::shared_ptr<Network> make_resnet(const NetworkSpec& spec) { return std::make_shared<ResNet>(spec); }

}  // namespace tmdflow::learn
