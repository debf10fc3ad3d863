#include "tmdflow/learn/layers.hpp"

#include <numeric>

namespace tmdflow::learn {

torch::nn::AnyModule make_norm(const NormKind& norm, std::int64_t channels) {
  if (norm.kind == "group")
    return torch::nn::AnyModule(torch::nn::GroupNorm(torch::nn::GroupNormOptions(std::gcd(channels, norm.groups), channels)));
  return torch::nn::AnyModule(torch::nn::BatchNorm2d(channels));
}

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t dilation) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(dilation).dilation(dilation).bias(false));
}

void append_conv_norm_relu(torch::nn::Sequential& seq, std::int64_t in, std::int64_t out, const NormKind& norm,
                           std::int64_t stride, std::int64_t dilation) {
  seq->push_back(conv3x3(in, out, stride, dilation));
  seq->push_back(make_norm(norm, out));
  seq->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
}

}  // namespace tmdflow::learn
