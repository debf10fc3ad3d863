#pragma once
// U-Net segmenter (Ronneberger et al.): `levels` resolutions, base channels doubling per level,
// two conv-norm-ReLU per level, max-pool down, transposed-convolution 2x2 up, skip connections,
// 1x1 head to per-pixel class scores (logits). The output has the input's height and width for
// any size: an upsampled map one pixel short of its skip (odd sizes) is zero-padded to it.
// Spec: family "unet"; levels=4 base=32 in_channels=1 classes=2 norm=batch|group groups=8.
#include <memory>

#include "tmdflow/learn/network.hpp"

namespace tmdflow::learn {

std::shared_ptr<Network> make_unet(const NetworkSpec& spec);

}  // namespace tmdflow::learn
