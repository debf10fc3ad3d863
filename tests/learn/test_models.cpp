// The network families built from specs: output shapes at several input sizes, specs with every
// default written out that rebuild the same parameters, and bad specs refused naming the key.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/autoencoder.hpp"
#include "tmdflow/learn/network.hpp"

namespace learn = tmdflow::learn;

namespace {

learn::NetworkSpec spec(const std::string& family, std::map<std::string, std::string> params) { return {family, std::move(params)}; }

std::vector<std::int64_t> output_shape(learn::Network& net, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  net.eval();
  torch::NoGradGuard no_grad;
  return net.forward(torch::randn({n, c, h, w})).sizes().vec();
}

using Shape = std::vector<std::int64_t>;

std::string error_of(const learn::NetworkSpec& s) {
  try {
    learn::make_network(s);
  } catch (const tmdflow::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Models, ResNetRegressesToOutputsAtAnySize) {
  auto small = learn::make_network(spec("resnet", {{"width", "4"}, {"in_channels", "2"}, {"outputs", "3"}, {"head", "16,8"}, {"stem", "small"}}));
  EXPECT_EQ(output_shape(*small, 2, 2, 32, 32), (Shape{2, 3}));
  EXPECT_EQ(output_shape(*small, 1, 2, 37, 29), (Shape{1, 3}));
  auto r34 = learn::make_network(spec("resnet", {{"layout", "34"}, {"width", "4"}, {"outputs", "5"}, {"head", "none"}}));
  EXPECT_EQ(output_shape(*r34, 3, 1, 64, 48), (Shape{3, 5}));
  auto r50 = learn::make_network(spec("resnet", {{"layout", "50"}, {"width", "4"}, {"norm", "group"}, {"groups", "4"}}));
  EXPECT_EQ(output_shape(*r50, 2, 1, 64, 64), (Shape{2, 2}));
  // Bottleneck blocks end with 4x the width: layer4 gives 8 * 4 * width = 128 features to the head.
  EXPECT_EQ(r50->named_parameters()["head.0.weight"].sizes().vec(), (Shape{512, 128}));
  EXPECT_EQ(r34->named_parameters()["head.0.weight"].sizes().vec(), (Shape{5, 32}));
}

TEST(Models, BlockLayoutsFollowTheNamedDepths) {
  auto count = [](const learn::NetworkSpec& s) {
    int convs = 0;
    for (const auto& p : learn::make_network(s)->named_parameters())
      if (p.key().find("conv") != std::string::npos) ++convs;
    return convs;
  };
  // Convolutions in the blocks plus the stem: 16 + 1 = 17 (ResNet-18 = 17 convs + 1 FC), 33, 49.
  EXPECT_EQ(count(spec("resnet", {{"layout", "18"}, {"width", "2"}})), 17);
  EXPECT_EQ(count(spec("resnet", {{"layout", "34"}, {"width", "2"}})), 33);
  EXPECT_EQ(count(spec("resnet", {{"layout", "50"}, {"width", "2"}})), 49);
}

TEST(Models, UNetKeepsTheInputSize) {
  auto net = learn::make_network(spec("unet", {{"levels", "3"}, {"base", "4"}, {"classes", "3"}, {"in_channels", "2"}}));
  EXPECT_EQ(output_shape(*net, 2, 2, 32, 32), (Shape{2, 3, 32, 32}));
  EXPECT_EQ(output_shape(*net, 1, 2, 33, 27), (Shape{1, 3, 33, 27}));  // odd sizes: padded skips
  auto deep = learn::make_network(spec("unet", {{"levels", "4"}, {"base", "2"}, {"norm", "group"}}));
  EXPECT_EQ(output_shape(*deep, 1, 1, 24, 40), (Shape{1, 2, 24, 40}));
}

TEST(Models, AutoencoderReconstructsThroughItsLatentVector) {
  auto net = learn::make_network(spec("autoencoder", {{"size", "32"}, {"levels", "3"}, {"base", "4"}, {"latent", "8"}, {"in_channels", "2"}}));
  EXPECT_EQ(output_shape(*net, 3, 2, 32, 32), (Shape{3, 2, 32, 32}));
  auto* ae = dynamic_cast<learn::Autoencoder*>(net.get());
  ASSERT_NE(ae, nullptr);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({3, 2, 32, 32});
  EXPECT_EQ(ae->encode(x).sizes().vec(), (Shape{3, 8}));
  EXPECT_TRUE(torch::equal(ae->decode(ae->encode(x)), ae->forward(x)));
  EXPECT_THROW(ae->forward(torch::randn({1, 2, 16, 16})), tmdflow::InputError);
}

TEST(Models, DetectorGivesHeatMapsAtItsStride) {
  auto same = learn::make_network(spec("detector", {{"classes", "3"}, {"base", "4"}, {"depth", "5"}}));
  EXPECT_EQ(output_shape(*same, 2, 1, 40, 36), (Shape{2, 3, 40, 36}));
  auto strided = learn::make_network(spec("detector", {{"classes", "2"}, {"base", "4"}, {"stride", "4"}}));
  EXPECT_EQ(output_shape(*strided, 1, 1, 64, 64), (Shape{1, 2, 16, 16}));
  EXPECT_EQ(output_shape(*strided, 1, 1, 30, 33), (Shape{1, 2, 8, 9}));  // ceil(size / 4)
}

TEST(Models, SpecsCarryEveryDefaultAndRebuildTheSameParameters) {
  for (const auto& s : {spec("resnet", {{"width", "4"}}), spec("unet", {{"levels", "2"}, {"base", "3"}}),
                        spec("autoencoder", {{"size", "16"}, {"levels", "2"}}), spec("detector", {{"stride", "2"}})}) {
    auto net = learn::make_network(s);
    const learn::NetworkSpec full = net->spec();
    EXPECT_EQ(full.family, s.family);
    EXPECT_GT(full.params.size(), s.params.size()) << s.family;
    for (const auto& [k, v] : s.params) EXPECT_EQ(full.params.at(k), v);
    auto again = learn::make_network(full);
    EXPECT_EQ(again->spec().params, full.params);
    const auto a = net->named_parameters(), b = again->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& p : a) EXPECT_EQ(b[p.key()].sizes(), p.value().sizes()) << p.key();
  }
}

TEST(Models, GroupNormKeepsNoRunningStatistics) {
  auto batch = learn::make_network(spec("detector", {}));
  auto group = learn::make_network(spec("detector", {{"norm", "group"}}));
  EXPECT_FALSE(batch->buffers().empty());
  EXPECT_TRUE(group->buffers().empty());
}

TEST(Models, BadSpecsAreConfigErrorsNamingTheKeyAndValue) {
  EXPECT_NE(error_of(spec("vgg", {})).find("'vgg'"), std::string::npos);
  EXPECT_NE(error_of(spec("resnet", {{"layout", "19"}})).find("'layout'"), std::string::npos);
  EXPECT_NE(error_of(spec("resnet", {{"width", "wide"}})).find("found 'wide'"), std::string::npos);
  EXPECT_NE(error_of(spec("resnet", {{"head", "512,x"}})).find("'head'"), std::string::npos);
  EXPECT_NE(error_of(spec("unet", {{"widht", "4"}})).find("unknown key 'widht'"), std::string::npos);
  EXPECT_NE(error_of(spec("unet", {{"norm", "layer"}})).find("expected one of batch, group"), std::string::npos);
  EXPECT_NE(error_of(spec("autoencoder", {{"size", "30"}, {"levels", "2"}})).find("'size'"), std::string::npos);
  EXPECT_NE(error_of(spec("detector", {{"stride", "3"}})).find("'stride'"), std::string::npos);
  EXPECT_NE(error_of(spec("detector", {{"stride", "8"}, {"depth", "2"}})).find("'stride'"), std::string::npos);
}
