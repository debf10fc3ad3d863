#include "tmdflow/learn/autoencoder.hpp"

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/layers.hpp"
#include "tmdflow/learn/spec_params.hpp"

namespace tmdflow::learn {

namespace nn = torch::nn;

Autoencoder::Autoencoder(const NetworkSpec& requested) {
  SpecParams p(requested);
  size_ = p.integer("size", 64, 2, 1 << 14);
  in_channels_ = p.integer("in_channels", 1, 1, 4096);
  const std::int64_t base = p.integer("base", 16, 1, 4096);
  const std::int64_t levels = p.integer("levels", 3, 1, 10);
  const std::int64_t latent = p.integer("latent", 32, 1, 1 << 16);
  NormKind norm{p.choice("norm", "batch", {"batch", "group"}), p.integer("groups", 8, 1, 4096)};
  p.finish();
  if (size_ % (std::int64_t(1) << levels) != 0)
    throw ConfigError(p.where("size") + ": expected a multiple of 2^levels = " + std::to_string(1 << levels) +
                      ", found '" + std::to_string(size_) + "'");
  spec_ = p.canonical();

  encoder_ = register_module("encoder", nn::Sequential());
  std::int64_t channels = in_channels_;
  for (std::int64_t level = 0; level < levels; ++level) {
    append_conv_norm_relu(encoder_, channels, base << level, norm, 2);
    channels = base << level;
  }
  deep_channels_ = channels;
  deep_size_ = size_ >> levels;
  const std::int64_t flat = deep_channels_ * deep_size_ * deep_size_;
  to_latent_ = register_module("to_latent", nn::Linear(flat, latent));
  from_latent_ = register_module("from_latent", nn::Linear(latent, flat));
  decoder_ = register_module("decoder", nn::Sequential());
  for (std::int64_t level = levels - 1; level >= 0; --level) {
    const std::int64_t out = base << std::max<std::int64_t>(level - 1, 0);
    decoder_->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, out, 4).stride(2).padding(1).bias(false)));
    decoder_->push_back(make_norm(norm, out));
    decoder_->push_back(nn::ReLU(nn::ReLUOptions(true)));
    channels = out;
  }
  decoder_->push_back(nn::Conv2d(nn::Conv2dOptions(channels, in_channels_, 3).padding(1)));
}

torch::Tensor Autoencoder::encode(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != in_channels_ || x.size(2) != size_ || x.size(3) != size_)
    throw InputError("autoencoder: expected input (n, " + std::to_string(in_channels_) + ", " + std::to_string(size_) +
                     ", " + std::to_string(size_) + "), found " + c10::str(x.sizes()));
  return to_latent_->forward(encoder_->forward(x).flatten(1));
}

torch::Tensor Autoencoder::decode(torch::Tensor z) {
  torch::Tensor x = torch::relu(from_latent_->forward(z)).view({z.size(0), deep_channels_, deep_size_, deep_size_});
  return decoder_->forward(x);
}

torch::Tensor Autoencoder::forward(torch::Tensor x) { return decode(encode(x)); }

}  // namespace tmdflow::learn
