#pragma once
// Convolutional autoencoder: `levels` stride-2 conv-norm-ReLU steps (channels base, 2 base, ...)
// and a linear map to a latent vector; the decoder mirrors it with 4x4 stride-2 transposed
// convolutions and a final 3x3 convolution back to the input channels (no activation: it
// reconstructs normalised images; the transposed convolutions run as 3x3 convolutions + pixel
// shuffles, autoencoder.cpp). The input is square, `size` pixels, a multiple of 2^levels.
// forward() returns the reconstruction; encode() the latent vector; decode() maps it back.
// Spec: family "autoencoder"; size=64 in_channels=1 base=16 levels=3 latent=32 norm=batch|group groups=8.
#include <memory>

#include "tmdflow/learn/network.hpp"

namespace tmdflow::learn {

class Autoencoder : public Network {
 public:
  explicit Autoencoder(const NetworkSpec& spec);
  torch::Tensor forward(torch::Tensor x) override;
  NetworkSpec spec() const override { return spec_; }
  /// (n, in_channels, size, size) -> (n, latent)
  torch::Tensor encode(torch::Tensor x);
  /// (n, latent) -> (n, in_channels, size, size)
  torch::Tensor decode(torch::Tensor z);

 private:
  NetworkSpec spec_;
  std::int64_t size_ = 0, in_channels_ = 1, deep_channels_ = 0, deep_size_ = 0;
  torch::nn::Sequential encoder_{nullptr}, decoder_{nullptr};
  torch::nn::Linear to_latent_{nullptr}, from_latent_{nullptr};
};

}  // namespace tmdflow::learn
