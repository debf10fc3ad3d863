// Patch inference with LibTorch models, checked window by window against plain C++ loops:
// a 3x3 convolution with hand-set weights followed by a mean over the window, run in memory and
// through the sharded HDF5 runner (uneven shards, stride < window so shards share halo rows,
// stride > 1, several read blocks per rank); a TorchScript module saved and loaded back; and
// models whose output has the wrong size. Runs at 1 and 2 ranks with the same expectations.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <fstream>

#include "common/testing.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/patch_inference.hpp"
#include "tmdflow/learn/torch_model.hpp"
#include "tmdflow/par/partition.hpp"

namespace h5 = tmdflow::io::h5;
namespace learn = tmdflow::learn;
using tmdflow::par::Runtime;

namespace {

constexpr std::int64_t kChannels = 2, kKernel = 3;
// 25 rows: not a multiple of 2 ranks; 11 window rows split 6 + 5.
constexpr std::int64_t kHeight = 25, kWidth = 19;

float image_value(std::int64_t y, std::int64_t x) { return float(std::sin(0.37 * y + 0.11 * x) + 0.01 * double((y * x) % 7)); }

std::vector<float> test_image() {
  std::vector<float> image(std::size_t(kHeight * kWidth));
  for (std::int64_t y = 0; y < kHeight; ++y)
    for (std::int64_t x = 0; x < kWidth; ++x) image[std::size_t(y * kWidth + x)] = image_value(y, x);
  return image;
}

// Weights set by hand (not random) so the test can recompute the convolution itself.
float conv_weight(std::int64_t c, std::int64_t ky, std::int64_t kx) { return 0.1f * float(c + 1) * float(ky * 3 + kx + 1) - 0.35f * float(c); }
float conv_bias(std::int64_t c) { return 0.5f * float(c) - 0.25f; }

// conv 3x3 ("valid") with the weights above, then the mean over the window: C values per window.
struct ConvMeanImpl : torch::nn::Module {
  ConvMeanImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, kChannels, kKernel)));
    torch::NoGradGuard no_grad;
    for (std::int64_t c = 0; c < kChannels; ++c) {
      conv->bias[c].fill_(conv_bias(c));
      for (std::int64_t ky = 0; ky < kKernel; ++ky)
        for (std::int64_t kx = 0; kx < kKernel; ++kx) conv->weight[c][0][ky][kx].fill_(conv_weight(c, ky, kx));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) { return conv->forward(x).mean({2, 3}); }
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(ConvMean);

// The convention of window_grid.hpp, restated independently: numpy 'reflect' by unfolding.
std::int64_t mirror(std::int64_t r, std::int64_t n) {
  while (r < 0 || r >= n) r = r < 0 ? -r : 2 * (n - 1) - r;
  return r;
}

struct Expected {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> values;  // (C, rows, cols)
  double at(std::int64_t c, std::int64_t i, std::int64_t j) const { return values[std::size_t((c * rows + i) * cols + j)]; }
};

Expected direct_conv_mean(const std::vector<float>& image, const learn::PatchWindows& w) {
  Expected e;
  const bool reflect = w.padding == learn::Padding::reflect;
  e.rows = reflect ? (kHeight + w.stride_y - 1) / w.stride_y : (kHeight - w.window_y) / w.stride_y + 1;
  e.cols = reflect ? (kWidth + w.stride_x - 1) / w.stride_x : (kWidth - w.window_x) / w.stride_x + 1;
  const std::int64_t oy = reflect ? (w.window_y - 1) / 2 - (w.stride_y - 1) / 2 : 0;
  const std::int64_t ox = reflect ? (w.window_x - 1) / 2 - (w.stride_x - 1) / 2 : 0;
  e.values.assign(std::size_t(kChannels * e.rows * e.cols), 0.0);
  const std::int64_t py = w.window_y - kKernel + 1, px = w.window_x - kKernel + 1;  // conv output size
  for (std::int64_t i = 0; i < e.rows; ++i)
    for (std::int64_t j = 0; j < e.cols; ++j) {
      auto pixel = [&](std::int64_t dy, std::int64_t dx) {
        return double(image[std::size_t(mirror(i * w.stride_y - oy + dy, kHeight) * kWidth + mirror(j * w.stride_x - ox + dx, kWidth))]);
      };
      for (std::int64_t c = 0; c < kChannels; ++c) {
        double sum = 0;
        for (std::int64_t p = 0; p < py; ++p)
          for (std::int64_t q = 0; q < px; ++q) {
            double v = conv_bias(c);
            for (std::int64_t ky = 0; ky < kKernel; ++ky)
              for (std::int64_t kx = 0; kx < kKernel; ++kx) v += conv_weight(c, ky, kx) * pixel(p + ky, q + kx);
            sum += v;
          }
        e.values[std::size_t((c * e.rows + i) * e.cols + j)] = sum / double(py * px);
      }
    }
  return e;
}

learn::PatchInferenceOptions options_for(learn::Padding padding) {
  learn::PatchInferenceOptions o;
  o.windows = {5, 6, 2, 3, padding};  // stride < window (halos), stride > 1
  o.batch_size = 7;                   // does not divide the windows of a row or a shard
  return o;
}

void expect_maps_equal(const learn::PatchMaps& maps, const Expected& e) {
  ASSERT_EQ(maps.channels, kChannels);
  ASSERT_EQ(maps.rows, e.rows);
  ASSERT_EQ(maps.cols, e.cols);
  for (std::int64_t c = 0; c < kChannels; ++c)
    for (std::int64_t i = 0; i < e.rows; ++i)
      for (std::int64_t j = 0; j < e.cols; ++j)
        ASSERT_NEAR(maps.at(c, i, j), e.at(c, i, j), 1e-4 * (1 + std::abs(e.at(c, i, j)))) << "c " << c << " i " << i << " j " << j;
}

class PatchInferenceByPadding : public ::testing::TestWithParam<learn::Padding> {};

}  // namespace

TEST_P(PatchInferenceByPadding, InMemoryMatchesDirectConvolution) {
  const auto image = test_image();
  auto model = learn::TorchModel::from_module(ConvMean(), "conv-mean");
  const auto options = options_for(GetParam());
  const Expected e = direct_conv_mean(image, options.windows);
  EXPECT_EQ(e.rows, GetParam() == learn::Padding::none ? 11 : 13);
  EXPECT_EQ(e.cols, GetParam() == learn::Padding::none ? 5 : 7);
  expect_maps_equal(learn::infer_image(*model, image.data(), kHeight, kWidth, options), e);
  EXPECT_EQ(at::get_num_threads(), 1);  // one LibTorch thread per rank by default
}

TEST_P(PatchInferenceByPadding, ShardedHdf5RunnerMatchesDirectConvolution) {
  const auto& comm = Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("image.h5");
  const auto image = test_image();
  auto options = options_for(GetParam());
  options.block_window_rows = 5;  // several read steps per rank, and not the same count on every rank
  const Expected e = direct_conv_mean(image, options.windows);
  {
    // Stored as float64: the runner converts on read.
    h5::File f = h5::File::create(path, &comm);
    h5::Dataset d = f.root().create_dataset("image", tmdflow::io::Dtype::f64, {kHeight, kWidth}, {4, kWidth});
    const auto mine = tmdflow::par::block_partition(kHeight, comm.size(), comm.rank());
    d.write<float>({mine.begin, 0}, {mine.size(), kWidth}, image.data() + mine.begin * kWidth);
    auto model = learn::TorchModel::from_module(ConvMean(), "conv-mean");
    const auto shape = learn::infer_image_dataset(comm, *model, d, f.root().create_group("maps"), "conv_mean", options);
    EXPECT_EQ(shape, (std::vector<std::int64_t>{kChannels, e.rows, e.cols}));
    d = h5::Dataset();
    f.close();
  }
  h5::File f = h5::File::open(path, h5::Mode::read, &comm);
  h5::Dataset d = f.root().open_dataset("maps/conv_mean");
  EXPECT_EQ(d.shape(), (h5::Shape{kChannels, e.rows, e.cols}));  // (C, ny, nx)
  EXPECT_EQ(d.chunks(), (h5::Shape{1, e.rows, e.cols}));
  EXPECT_EQ(d.attr_doubles("window_shape").value_or(std::vector<double>{}), (std::vector<double>{5, 6}));
  EXPECT_EQ(d.attr_doubles("window_stride").value_or(std::vector<double>{}), (std::vector<double>{2, 3}));
  EXPECT_EQ(d.attr_string("window_padding").value_or(""), learn::to_string(GetParam()));
  learn::PatchMaps maps{kChannels, e.rows, e.cols, 0, d.read_all<float>()};
  expect_maps_equal(maps, e);
}

INSTANTIATE_TEST_SUITE_P(Padding, PatchInferenceByPadding, ::testing::Values(learn::Padding::none, learn::Padding::reflect),
                         [](const auto& info) { return learn::to_string(info.param); });

TEST(PatchInference, TorchScriptModuleRoundTrip) {
  const auto& comm = Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("window_stats.pt");
  if (comm.is_root()) {
    // Built in C++ from TorchScript source: no downloaded weights.
    torch::jit::Module m("WindowStats");
    m.register_parameter("scale", torch::full({1}, 2.0f), false);
    m.define(R"JIT(
def forward(self, x):
    total = x.sum(dim=[2, 3])
    peak = torch.amax(x, dim=[2, 3]) * self.scale
    return torch.cat([total, peak], dim=1)
)JIT");
    m.save(path);
  }
  comm.barrier();
  auto model = learn::TorchModel::load_torchscript(path);
  EXPECT_EQ(model->output_channels({1, 4, 3}), 2);  // found by running one sample
  const auto image = test_image();
  learn::PatchInferenceOptions options;
  options.windows = {4, 3, 3, 2, learn::Padding::none};
  options.batch_size = 5;
  const auto maps = learn::infer_image(*model, image.data(), kHeight, kWidth, options);
  ASSERT_EQ(maps.rows, (kHeight - 4) / 3 + 1);
  ASSERT_EQ(maps.cols, (kWidth - 3) / 2 + 1);
  for (std::int64_t i = 0; i < maps.rows; ++i)
    for (std::int64_t j = 0; j < maps.cols; ++j) {
      double total = 0, peak = -1e30;
      for (std::int64_t dy = 0; dy < 4; ++dy)
        for (std::int64_t dx = 0; dx < 3; ++dx) {
          total += image_value(i * 3 + dy, j * 2 + dx);
          peak = std::max(peak, double(image_value(i * 3 + dy, j * 2 + dx)));
        }
      EXPECT_NEAR(maps.at(0, i, j), total, 1e-5);
      EXPECT_FLOAT_EQ(maps.at(1, i, j), float(2 * peak));
    }
}

TEST(PatchInference, MissingOrUnreadableTorchScriptFileIsATypedError) {
  tmdflow::testing::ScratchDir dir;
  EXPECT_THROW(learn::TorchModel::load_torchscript(dir.file("absent.pt")), tmdflow::IoError);
  const std::string junk = dir.file("junk_" + std::to_string(Runtime::world_comm().rank()) + ".pt");
  std::ofstream(junk) << "not a zip archive";
  EXPECT_THROW(learn::TorchModel::load_torchscript(junk), tmdflow::InputError);
}

TEST(PatchInference, OutputOfTheWrongSizeIsAnInputError) {
  const auto image = test_image();
  learn::PatchInferenceOptions options;
  options.windows = {5, 5, 5, 5, learn::Padding::none};
  options.batch_size = 4;
  // Declares 2 values per window but returns 3.
  learn::TorchModelOptions declared;
  declared.output_channels = 2;
  learn::TorchModel three_values([](const torch::Tensor& x) { return x.sum({2, 3}).repeat({1, 3}); }, "three-values", declared);
  try {
    learn::infer_image(three_values, image.data(), kHeight, kWidth, options);
    FAIL() << "expected an InputError";
  } catch (const tmdflow::InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("three-values"), std::string::npos) << m;
    EXPECT_NE(m.find("expected shape (4, 2) (2 values per sample)"), std::string::npos) << m;
    EXPECT_NE(m.find("found (4, 3)"), std::string::npos) << m;
  }
  // Forgets the batch axis: one row for the whole batch.
  learn::TorchModel pooled([](const torch::Tensor& x) { return x.sum({0, 2, 3}).unsqueeze(0); }, "pooled");
  try {
    learn::infer_image(pooled, image.data(), kHeight, kWidth, options);
    FAIL() << "expected an InputError";
  } catch (const tmdflow::InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("found (1, 1) (a leading axis of 1)"), std::string::npos) << m;
  }
  // A model that cannot take the window at all (a 7x7 kernel on 5x5 windows) names the shape.
  auto too_big = learn::TorchModel::from_module(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 1, 7)), "conv7",
                                                learn::TorchModelOptions{1, 1, "cpu"});
  try {
    learn::infer_image(*too_big, image.data(), kHeight, kWidth, options);
    FAIL() << "expected an InputError";
  } catch (const tmdflow::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("samples of shape (1, 5, 5)"), std::string::npos) << e.what();
  }
}

TEST(PatchInference, WindowLargerThanTheImageIsAConfigError) {
  const auto image = test_image();
  auto model = learn::TorchModel::from_module(ConvMean(), "conv-mean");
  learn::PatchInferenceOptions options;
  options.windows = {kHeight + 1, 6, 1, 1, learn::Padding::none};
  EXPECT_THROW(learn::infer_image(*model, image.data(), kHeight, kWidth, options), tmdflow::ConfigError);
}
