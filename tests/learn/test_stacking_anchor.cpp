// Stacking inference with an anchored model (learn/stacking_inference.hpp, manifest output
// "anchor": "lattice"): the network sees one window wherever in the image a window is cut, because
// each window is re-centred on its lattice anchor before it is read; without the anchor it sees the
// lattice at any point of its cell. The model here records what it is given (a plain C++ PatchModel,
// no LibTorch), so the test checks the windows themselves.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "../unit/lattice_test_images.hpp"
#include "tmdflow/analysis/lattice_finder.hpp"
#include "tmdflow/learn/stacking_inference.hpp"
#include "tmdflow/sim/stacking_symmetry.hpp"

namespace learn = tmdflow::learn;
using namespace tmdflow;

namespace {

class RecordingModel : public learn::PatchModel {
 public:
  std::int64_t output_channels(const learn::SampleShape&) override { return 2; }
  learn::ModelOutput forward(const float* batch, std::int64_t n, const learn::SampleShape& s) override {
    windows.insert(windows.end(), batch, batch + n * s.size());
    size = s.size();
    return {{n, 2}, std::vector<float>(std::size_t(2 * n), 0.1f)};
  }
  std::string name() const override { return "recording model"; }
  std::vector<float> windows;
  std::int64_t size = 0;
};

double correlation(const float* a, const float* b, std::int64_t n) {
  double ma = 0, mb = 0;
  for (std::int64_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= double(n), mb /= double(n);
  double sab = 0, saa = 0, sbb = 0;
  for (std::int64_t i = 0; i < n; ++i) sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  return sab / std::sqrt(saa * sbb);
}

// The lowest correlation between the first window the model saw and any other.
double lowest_correlation(bool anchor) {
  sim::StackSpec spec;
  spec.material = "MoS2";
  spec.phi_deg = 41;
  const tmdflow::testing::TestImage t = tmdflow::testing::mx2_image(spec, 320, 0.1);
  analysis::LatticeOptions o;
  o.pixel_A = t.pixel_A;
  o.material = "MoS2";
  const analysis::FoundLattice lattice = analysis::find_lattice(t.pixels.data(), t.size, t.size, o);
  const analysis::CanonicalSampler sampler(t.pixels.data(), t.size, t.size, analysis::canonical_frame(lattice, "MoS2"), 64, 0.2);

  learn::StackingModelInfo info;
  info.task = "slip", info.material = "MoS2", info.stacking = "2H", info.layers = 2;
  info.values = {"slip_a_0", "slip_b_0"};
  info.window_px = 64, info.pixel_A = 0.2;
  const sim::LayerCell cell = sim::layer_cell("MoS2");
  info.a1c_A[0] = cell.a1[0], info.a1c_A[1] = cell.a1[1], info.a2c_A[0] = cell.a2[0], info.a2c_A[1] = cell.a2[1];
  info.anchor = anchor;
  std::mt19937 rng(12);
  // Windows of 12.8 A (128 input pixels) and their anchors (within a cell) stay inside the image.
  std::uniform_real_distribution<double> at(100, 220);
  std::vector<std::array<double, 2>> centres;
  for (int k = 0; k < 10; ++k) centres.push_back({at(rng), at(rng)});
  RecordingModel model;
  learn::StackingInferenceOptions options;
  options.consistency = false;
  options.batch = 4;
  learn::infer_stacking_windows(model, info, sim::label_symmetry("MoS2", 2, "2H", "slip", 0), sampler, centres, options, {});
  EXPECT_EQ(std::int64_t(model.windows.size()), 10 * model.size);
  double lowest = 1;
  for (int k = 1; k < 10; ++k)
    lowest = std::min(lowest, correlation(model.windows.data(), model.windows.data() + k * model.size, model.size));
  return lowest;
}

}  // namespace

TEST(StackingAnchor, AnchoredModelSeesOneWindowWhereverItIsCut) {
  const double anchored = lowest_correlation(true), plain = lowest_correlation(false);
  EXPECT_GT(anchored, 0.995) << "anchored windows of one lattice differ";
  EXPECT_LT(plain, 0.9) << "the windows cut at random places were alike already: the test shows nothing";
}
