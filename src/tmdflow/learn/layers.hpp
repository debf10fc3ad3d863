#pragma once
// Building blocks shared by the network families: normalisation layers (BatchNorm by default,
// GroupNorm where batches per rank are small) and 3x3 convolutions. Each family names its layers
// like its Python twin (benchmarks/torch_models.py), so state dicts carry the same keys.
#include <torch/torch.h>

#include <string>

namespace tmdflow::learn {

/// "batch" or "group" (GroupNorm with gcd(channels, groups) groups).
struct NormKind {
  std::string kind = "batch";
  std::int64_t groups = 8;
};

torch::nn::AnyModule make_norm(const NormKind& norm, std::int64_t channels);

/// 3x3 convolution, padding = dilation (same size at stride 1), no bias (a norm follows).
torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride = 1, std::int64_t dilation = 1);

/// Appends conv3x3 -> norm -> ReLU to `seq` (three entries, as nn.Sequential numbers them).
void append_conv_norm_relu(torch::nn::Sequential& seq, std::int64_t in, std::int64_t out, const NormKind& norm,
                           std::int64_t stride = 1, std::int64_t dilation = 1);

}  // namespace tmdflow::learn
