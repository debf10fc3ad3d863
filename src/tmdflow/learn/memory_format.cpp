#include "tmdflow/learn/memory_format.hpp"

namespace tmdflow::learn {

namespace {

// LibTorch 1.13 (Debian 12) corrupts the heap in the backward pass of a 1x1 convolution of stride
// > 1 with fewer than 8 input channels when its tensors are channels-last, on CPUs without
// AVX-512 (measured on an AMD EPYC: "double free or corruption" in at::native::convolution_backward
// for 1, 2, 4 and 6 input channels; 8, 12, 16 fine; the same in PyTorch 1.13; NCHW fine). A
// narrow ResNet's downsampling projections are such convolutions.
bool has_unsafe_channels_last_conv(const torch::nn::Module& module) {
  for (const auto& m : module.modules(/*include_self=*/true)) {
    const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(m.get());
    if (!conv) continue;
    const auto& o = conv->options;
    const bool one_by_one = (*o.kernel_size())[0] == 1 && (*o.kernel_size())[1] == 1;
    const bool strided = (*o.stride())[0] > 1 || (*o.stride())[1] > 1;
    if (one_by_one && strided && o.in_channels() < 8) return true;
  }
  return false;
}

}  // namespace

bool use_channels_last(torch::nn::Module& module) {
  if (has_unsafe_channels_last_conv(module)) return false;  // NCHW: the same values, a little slower
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  for (auto& b : module.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(torch::MemoryFormat::ChannelsLast));
  return true;
}

}  // namespace tmdflow::learn
