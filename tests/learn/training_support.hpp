#pragma once
// Shared by the training tests: tiny networks (defined here, not the model zoo), a writer of small
// chunked HDF5 trainsets, and weight comparisons.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/data_parallel.hpp"
#include "tmdflow/learn/network.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn_test {

namespace h5 = tmdflow::io::h5;

/// A small CNN regressor of input_px x input_px patches: three 3x3 convolutions (two with stride
/// 2), ReLU, a linear head on the flattened maps (positions matter: it regresses shifts). No
/// BatchNorm, so that 1 and 2 ranks train the same model (see trainer.hpp).
class TinyCnn : public tmdflow::learn::Network {
 public:
  explicit TinyCnn(std::int64_t width = 8, std::int64_t outputs = 2, std::int64_t input_px = 16)
      : width_(width), outputs_(outputs), input_px_(input_px) {
    namespace nn = torch::nn;
    c1 = register_module("c1", nn::Conv2d(nn::Conv2dOptions(1, width, 3).padding(1)));
    c2 = register_module("c2", nn::Conv2d(nn::Conv2dOptions(width, 2 * width, 3).stride(2).padding(1)));
    c3 = register_module("c3", nn::Conv2d(nn::Conv2dOptions(2 * width, 2 * width, 3).stride(2).padding(1)));
    const std::int64_t side = (input_px + 3) / 4;
    head = register_module("head", nn::Linear(2 * width * side * side, outputs));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(c1->forward(x));
    x = torch::relu(c2->forward(x));
    x = torch::relu(c3->forward(x));
    return head->forward(x.flatten(1));
  }
  tmdflow::learn::NetworkSpec spec() const override {
    return {"test-cnn", {{"width", std::to_string(width_)}, {"outputs", std::to_string(outputs_)}, {"input_px", std::to_string(input_px_)}}};
  }

 private:
  std::int64_t width_, outputs_, input_px_;
  torch::nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr};
  torch::nn::Linear head{nullptr};
};

/// A fully convolutional segmenter: (n, 1, H, W) -> (n, classes, H, W).
class TinySegmenter : public tmdflow::learn::Network {
 public:
  explicit TinySegmenter(std::int64_t width = 8, std::int64_t classes = 2) : width_(width), classes_(classes) {
    namespace nn = torch::nn;
    c1 = register_module("c1", nn::Conv2d(nn::Conv2dOptions(1, width, 3).padding(1)));
    c2 = register_module("c2", nn::Conv2d(nn::Conv2dOptions(width, width, 3).padding(2).dilation(2)));
    c3 = register_module("c3", nn::Conv2d(nn::Conv2dOptions(width, classes, 1)));
  }
  torch::Tensor forward(torch::Tensor x) override {
    return c3->forward(torch::relu(c2->forward(torch::relu(c1->forward(x)))));
  }
  tmdflow::learn::NetworkSpec spec() const override {
    return {"test-segmenter", {{"width", std::to_string(width_)}, {"classes", std::to_string(classes_)}}};
  }

 private:
  std::int64_t width_, classes_;
  torch::nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr};
};

/// Writes a trainset on rank 0 (then a barrier): group /trainset with patches (N, H, W) float32
/// (or patches/data) chunked by `chunk` samples, labels/<name> (N) float64, and optionally maps (N, H, W).
/// fill(i, pixels, labels, map) makes sample i.
struct TrainsetSpec {
  std::int64_t count = 0, height = 16, width = 16, chunk = 1;
  std::vector<std::string> labels;
  bool maps = false;
  bool emd_array = false;  // patches as an EMD array group (patches/data), as make-trainset writes it
};
using SampleMaker = std::function<void(std::int64_t, float* pixels, double* labels, float* map)>;

inline void write_trainset(const tmdflow::par::Comm& comm, const std::string& path, const TrainsetSpec& s, const SampleMaker& fill) {
  if (comm.is_root()) {
    h5::File f = h5::File::create(path, nullptr);
    h5::Group g = f.root().create_group("trainset");
    const std::int64_t n = s.count, plane = s.height * s.width;
    std::vector<float> pixels(std::size_t(n * plane)), maps(std::size_t(n * plane));
    std::vector<std::vector<double>> labels(s.labels.size(), std::vector<double>(std::size_t(n)));
    std::vector<double> one(s.labels.size());
    for (std::int64_t i = 0; i < n; ++i) {
      fill(i, pixels.data() + i * plane, one.data(), maps.data() + i * plane);
      for (std::size_t k = 0; k < one.size(); ++k) labels[k][std::size_t(i)] = one[k];
    }
    h5::Group array;
    if (s.emd_array) array = g.create_group("patches");
    const h5::Group& holder = s.emd_array ? array : g;
    h5::Dataset d = holder.create_dataset(s.emd_array ? "data" : "patches", tmdflow::io::Dtype::f32, {n, s.height, s.width}, {s.chunk, s.height, s.width});
    d.write<float>({0, 0, 0}, {n, s.height, s.width}, pixels.data(), h5::Xfer::independent);
    h5::Group lg = g.create_group("labels");
    for (std::size_t k = 0; k < s.labels.size(); ++k) lg.write_vector(s.labels[k], labels[k]);
    if (s.maps) {
      h5::Dataset m = g.create_dataset("maps", tmdflow::io::Dtype::f32, {n, s.height, s.width}, {s.chunk, s.height, s.width});
      m.write<float>({0, 0, 0}, {n, s.height, s.width}, maps.data(), h5::Xfer::independent);
    }
  }
  comm.barrier();
}

inline torch::Tensor weights_of(tmdflow::learn::Network& n) { return tmdflow::learn::flatten_tensors(n.parameters()); }

inline double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace tmdflow::learn_test
