// learn::use_channels_last: a network whose every convolution is safe in channels-last is
// restrided and trains; narrow ResNets, whose downsampling projections are 1x1 convolutions of
// stride 2 with 4 or 8 input channels, stay NCHW (LibTorch 1.13 corrupts the heap in their
// channels-last backward: with 4 channels on an AMD EPYC without AVX-512, with 2-8 on one with
// AVX-512, where e2e_test_infer_stacking's width-8 training died of SIGSEGV) and train too.
#include <gtest/gtest.h>

#include "tmdflow/learn/memory_format.hpp"
#include "tmdflow/learn/network.hpp"

namespace learn = tmdflow::learn;

namespace {

double train_steps(learn::Network& net, int steps) {
  torch::manual_seed(3);
  torch::optim::Adam adam(net.parameters(), torch::optim::AdamOptions(1e-3));
  double loss_value = 0;
  for (int s = 0; s < steps; ++s) {
    const torch::Tensor x = torch::randn({16, 1, 24, 24});
    torch::Tensor loss = net.forward(x).pow(2).mean();
    adam.zero_grad();
    loss.backward();
    adam.step();
    loss_value = loss.item<double>();
  }
  return loss_value;
}

bool is_channels_last(learn::Network& net) {
  for (const auto& p : net.parameters())
    if (p.dim() == 4 && p.size(1) > 1 && !p.is_contiguous(torch::MemoryFormat::ChannelsLast)) return false;
  return true;
}

}  // namespace

TEST(MemoryFormat, NarrowResNetsStayNchwAndTrain) {
  auto narrow = learn::make_network({"resnet", {{"layout", "18"}, {"width", "4"}, {"head", "16"}, {"norm", "group"}, {"groups", "2"}, {"stem", "small"}}});
  EXPECT_FALSE(learn::use_channels_last(*narrow));
  EXPECT_FALSE(is_channels_last(*narrow));
  EXPECT_TRUE(std::isfinite(train_steps(*narrow, 20)));

  auto eight = learn::make_network({"resnet", {{"layout", "18"}, {"width", "8"}, {"head", "16"}, {"norm", "group"}, {"groups", "2"}, {"stem", "small"}}});
  EXPECT_FALSE(learn::use_channels_last(*eight));
  EXPECT_TRUE(std::isfinite(train_steps(*eight, 5)));
  auto wide = learn::make_network({"resnet", {{"layout", "18"}, {"width", "16"}, {"head", "16"}, {"norm", "group"}, {"groups", "2"}, {"stem", "small"}}});
  EXPECT_TRUE(learn::use_channels_last(*wide));
  EXPECT_TRUE(is_channels_last(*wide));
  EXPECT_TRUE(std::isfinite(train_steps(*wide, 20)));
}
