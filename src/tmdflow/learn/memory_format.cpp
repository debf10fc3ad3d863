#include "tmdflow/learn/memory_format.hpp"

namespace tmdflow::learn {

namespace {

// LibTorch 1.13 (Debian 12) corrupts the heap in the backward pass of a 1x1 convolution of stride
// > 1 with few input channels when its tensors are channels-last ("double free or corruption",
// SIGSEGV or SIGBUS in at::native::convolution_backward / oneDNN; the same in PyTorch 1.13; NCHW
// fine). Which counts crash depends on the CPU's kernels: on an AMD EPYC without AVX-512, 1, 2, 4
// and 6 input channels (8, 12, 16 fine); on an AMD EPYC with AVX-512 (Zen 4), every count from 2 to
// 8 (1 and 9-64 fine; 30 steps of a batch of 32 of 48 x 48, tests/learn/test_memory_format.cpp's
// note). Fewer than 16 input channels stay NCHW: a margin over both. A narrow ResNet's downsampling
// projections are such convolutions; the shipped models' (width >= 16) are not.
bool has_unsafe_channels_last_conv(const torch::nn::Module& module) {
  for (const auto& m : module.modules(/*include_self=*/true)) {
    const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(m.get());
    if (!conv) continue;
    const auto& o = conv->options;
    const bool one_by_one = (*o.kernel_size())[0] == 1 && (*o.kernel_size())[1] == 1;
    const bool strided = (*o.stride())[0] > 1 || (*o.stride())[1] > 1;
    if (one_by_one && strided && o.in_channels() < 16) return true;
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
