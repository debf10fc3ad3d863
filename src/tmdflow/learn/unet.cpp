#include "tmdflow/learn/unet.hpp"

#include "tmdflow/learn/layers.hpp"
#include "tmdflow/learn/spec_params.hpp"

namespace tmdflow::learn {
namespace {

namespace nn = torch::nn;

nn::Sequential double_conv(std::int64_t in, std::int64_t out, const NormKind& norm) {
  nn::Sequential seq;
  append_conv_norm_relu(seq, in, out, norm);
  append_conv_norm_relu(seq, out, out, norm);
  return seq;
}

class UNet : public Network {
 public:
  explicit UNet(const NetworkSpec& requested) {
    SpecParams p(requested);
    levels_ = p.integer("levels", 4, 1, 8);
    const std::int64_t base = p.integer("base", 32, 1, 4096);
    const std::int64_t in_channels = p.integer("in_channels", 1, 1, 4096);
    const std::int64_t classes = p.integer("classes", 2, 1, 4096);
    NormKind norm{p.choice("norm", "batch", {"batch", "group"}), p.integer("groups", 8, 1, 4096)};
    p.finish();
    spec_ = p.canonical();

    down_ = register_module("down", nn::ModuleList());
    up_ = register_module("up", nn::ModuleList());
    dec_ = register_module("dec", nn::ModuleList());
    std::int64_t channels = in_channels;
    for (std::int64_t level = 0; level < levels_; ++level) {
      down_->push_back(double_conv(channels, base << level, norm));
      channels = base << level;
    }
    // up[i] / dec[i] bring level i+1 back to level i, deepest first in forward().
    for (std::int64_t level = 0; level + 1 < levels_; ++level) {
      up_->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(base << (level + 1), base << level, 2).stride(2)));
      dec_->push_back(double_conv(2 * (base << level), base << level, norm));
    }
    head_ = register_module("head", nn::Conv2d(nn::Conv2dOptions(base, classes, 1)));
  }

  torch::Tensor forward(torch::Tensor x) override {
    std::vector<torch::Tensor> skips;
    for (std::int64_t level = 0; level < levels_; ++level) {
      if (level > 0) x = torch::max_pool2d(x, 2, 2);
      x = down_->ptr<nn::SequentialImpl>(std::size_t(level))->forward(x);
      skips.push_back(x);
    }
    for (std::int64_t level = levels_ - 2; level >= 0; --level) {
      const torch::Tensor& skip = skips[std::size_t(level)];
      x = up_->ptr<nn::ConvTranspose2dImpl>(std::size_t(level))->forward(x);
      const std::int64_t dy = skip.size(2) - x.size(2), dx = skip.size(3) - x.size(3);
      if (dy > 0 || dx > 0) x = torch::constant_pad_nd(x, {0, dx, 0, dy});
      x = decode(*dec_->ptr<nn::SequentialImpl>(std::size_t(level)), skip, x);
    }
    return head_->forward(x);
  }

  NetworkSpec spec() const override { return spec_; }

 private:
  // dec(cat(skip, up)) without the concatenation: the first convolution is the sum of its halves
  // applied to each part. Same values up to float rounding; on CPU the backward pass then needs
  // no channel slices of the gradient (strided copies), ~15 % faster per training step.
  static torch::Tensor decode(nn::SequentialImpl& dec, const torch::Tensor& skip, const torch::Tensor& up) {
    const torch::Tensor& w = dec.ptr<nn::Conv2dImpl>(0)->weight;
    const std::int64_t c = skip.size(1);
    torch::Tensor y = torch::conv2d(skip, w.narrow(1, 0, c), {}, 1, 1) + torch::conv2d(up, w.narrow(1, c, w.size(1) - c), {}, 1, 1);
    for (auto it = dec.begin() + 1; it != dec.end(); ++it) y = it->forward(y);
    return y;
  }

  NetworkSpec spec_;
  std::int64_t levels_ = 0;
  nn::ModuleList down_{nullptr}, up_{nullptr}, dec_{nullptr};
  nn::Conv2d head_{nullptr};
};

}  // namespace

std::shared_ptr<Network> make_unet(const NetworkSpec& spec) { return std::make_shared<UNet>(spec); }

}  // namespace tmdflow::learn
