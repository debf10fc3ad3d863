#pragma once
// Fully convolutional detector: heat maps (logits) of C classes, e.g. atom columns or defects of
// each kind. `depth` conv-norm-ReLU blocks; the first log2(stride) halve the resolution (and
// double the channels), the following ones grow the receptive field by dilation 1, 2, 4, 8, 8, ...;
// a 1x1 convolution gives the maps: (n, classes, ceil(H / stride), ceil(W / stride)).
// Spec: family "detector"; classes=1 in_channels=1 base=16 depth=4 stride=1|2|4|8 norm=batch|group groups=8.
#include <memory>

#include "tmdflow/learn/network.hpp"

namespace tmdflow::learn {

std::shared_ptr<Network> make_detector(const NetworkSpec& spec);

}  // namespace tmdflow::learn
