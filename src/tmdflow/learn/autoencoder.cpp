#include "tmdflow/learn/autoencoder.hpp"

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/layers.hpp"
#include "tmdflow/learn/spec_params.hpp"

namespace tmdflow::learn {

namespace nn = torch::nn;

namespace {

// select[a][d][k] = 1 where output phase a (row 2i + a) of a ConvTranspose2d(kernel 4, stride 2,
// padding 1) takes input row i + d - 1 through kernel row k: k = a + 3 - 2 d.
torch::Tensor phase_selection() {
  torch::Tensor s = torch::zeros({2, 3, 4});
  for (int a = 0; a < 2; ++a)
    for (int d = 0; d < 3; ++d)
      if (const int k = a + 3 - 2 * d; k >= 0 && k < 4) s[a][d][k] = 1;
  return s;
}

// The transposed convolution computed as a 3x3 convolution to 4x the channels (one per output
// phase, its weights rearranged from the 4x4 kernel) and a pixel shuffle: the same values up to
// float rounding, but oneDNN's convolution instead of ATen's slow transposed one (im2col + GEMM):
// ~10-15 % faster training steps of the autoencoder on CPU (benchmarks/bench_models.cpp).
torch::Tensor upsample2x(const nn::ConvTranspose2dImpl& up, const torch::Tensor& x) {
  static const torch::Tensor select = phase_selection();
  const torch::Tensor& w = up.weight;  // (in, out, 4, 4)
  const torch::Tensor s = select.to(w.options());
  const torch::Tensor w3 = torch::einsum("adk,bel,iokl->oabide", {s, s, w}).reshape({w.size(1) * 4, w.size(0), 3, 3});
  torch::Tensor y = torch::pixel_shuffle(torch::conv2d(x, w3, {}, 1, 1), 2);
  return up.bias.defined() ? y + up.bias.view({1, -1, 1, 1}) : y;
}

}  // namespace

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
  for (auto& layer : *decoder_) {
    if (auto up = std::dynamic_pointer_cast<nn::ConvTranspose2dImpl>(layer.ptr())) x = upsample2x(*up, x);
    else x = layer.forward(x);
  }
  return x;
}

torch::Tensor Autoencoder::forward(torch::Tensor x) { return decode(encode(x)); }

}  // namespace tmdflow::learn
