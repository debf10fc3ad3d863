#pragma once
// The fast path of the network families on CPU: 4-D weights stored channels-last (NHWC). Then
// ATen runs every convolution in oneDNN's channels-last kernels, and activations stay
// channels-last from layer to layer (conv, BatchNorm, ReLU, pooling, transposed conv keep it): on
// one core this trains ResNet-18 and the detector 5-20 % faster than the default NCHW layout,
// the U-Net and the autoencoder about as fast (benchmarks/bench_models.cpp). The values computed
// are the same up to float rounding; inputs may stay NCHW.
#include <torch/torch.h>

namespace tmdflow::learn {

/// Restrides every 4-D parameter and buffer of `module` (and its children) channels-last, in
/// place (same tensors: optimisers holding them keep working). Call before creating an optimiser
/// whose state should share the layout. Returns false, leaving the module NCHW, when it holds a
/// 1x1 convolution of stride > 1 with fewer than 16 input channels: LibTorch 1.13's channels-last
/// backward of such a convolution corrupts the heap on some CPUs (memory_format.cpp).
bool use_channels_last(torch::nn::Module& module);

}  // namespace tmdflow::learn
