#pragma once
// ResNet regressor: the 18/34 (basic blocks) and 50 (bottleneck blocks) layouts of He et al.,
// with a base width (64 as published; 16 = quarter width), any number of input channels, a stem
// for large inputs (7x7 stride 2 + max pool) or small ones (3x3 stride 1), and a regression head
// global average pool -> FC hidden sizes (ReLU) -> outputs.
// Spec: family "resnet"; layout=18|34|50 width=64 in_channels=1 outputs=2 head=512 (comma list or
// none) stem=imagenet|small norm=batch|group groups=8.
#include <memory>

#include "tmdflow/learn/network.hpp"

namespace tmdflow::learn {

std::shared_ptr<Network> make_resnet(const NetworkSpec& spec);

}  // namespace tmdflow::learn
