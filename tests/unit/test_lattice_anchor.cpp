// The lattice anchor (sim/lattice_anchor.hpp): windows of one lattice cut anywhere re-centre on the
// same point of the lattice -- an MoS2 monolayer's metal column (its brightest), noise-free and at a
// low dose; a ReS2 bilayer's anchored windows are one window (or its turn by 180 degrees, the label's
// equivalent) wherever they were cut; make-trainset --anchor keeps the translation labels exact.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "lattice_test_images.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/lattice_anchor.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"
#include "tmdflow/sim/trainset.hpp"

using namespace tmdflow;

namespace {

using tmdflow::testing::correlation;

constexpr int kN = 96;
constexpr double kPixel = 0.2;

// The window of kN x kN pixels whose centre is structure point (cx, cy).
std::vector<float> window_at(const sim::Structure& st, const std::string& material, double cx, double cy) {
  const double half = 0.5 * (kN - 1) * kPixel;
  sim::AdfSimulator simulator(tmdflow::testing::adf_spec(material, kN, kPixel, cx - half, cy - half));
  std::vector<float> out(std::size_t(kN) * kN);
  simulator.image(st, out.data());
  return out;
}

// Distance of d from the lattice {i a1 + j a2}.
double off_lattice(double dx, double dy, const sim::BaseVectors& b) {
  const double det = b.a1[0] * b.a2[1] - b.a1[1] * b.a2[0];
  double u = (dx * b.a2[1] - dy * b.a2[0]) / det, v = (b.a1[0] * dy - b.a1[1] * dx) / det;
  u -= std::round(u), v -= std::round(v);
  double best = 1e9;
  for (int i = -1; i <= 1; ++i)
    for (int j = -1; j <= 1; ++j)
      best = std::min(best, std::hypot((u + i) * b.a1[0] + (v + j) * b.a2[0], (u + i) * b.a1[1] + (v + j) * b.a2[1]));
  return best;
}

}  // namespace

TEST(LatticeAnchor, Mx2MonolayerAnchorsOnTheMetalColumn) {
  sim::StackSpec spec;
  spec.material = "MoS2";
  spec.phi_deg = 41.0;
  spec.extent_x = spec.extent_y = 60;
  const sim::Structure st = sim::build_stack(spec);
  const sim::BaseVectors b = sim::stack_base_vectors(spec);
  std::mt19937 rng(4);
  std::uniform_real_distribution<double> shift(-3, 3);
  for (int k = 0; k < 8; ++k) {
    const double dx = shift(rng), dy = shift(rng);  // the window centre from a metal column
    std::vector<float> w = window_at(st, "MoS2", 30 + dx, 30 + dy);
    const auto t = sim::lattice_anchor(w.data(), kN, kPixel, {b.a1[0], b.a1[1]}, {b.a2[0], b.a2[1]});
    EXPECT_LT(off_lattice(dx + t[0], dy + t[1], b), 0.02) << "noise-free window " << k << " anchored off the metal column";
    // The anchor lies within one cell of the window centre.
    EXPECT_LT(std::hypot(t[0], t[1]), std::hypot(b.a1[0] + b.a2[0], b.a1[1] + b.a2[1]));
    // At 1e4 e/A^2 (PSNR about 10 dB here) the anchor stays within a few hundredths of an Angstrom.
    sim::add_counting_noise(w.data(), w.size(), 1e4 * kPixel * kPixel, 0.0, 100 + std::uint64_t(k));
    const auto n = sim::lattice_anchor(w.data(), kN, kPixel, {b.a1[0], b.a1[1]}, {b.a2[0], b.a2[1]});
    EXPECT_LT(off_lattice(dx + n[0], dy + n[1], b), 0.06) << "noisy window " << k;
  }
}

TEST(LatticeAnchor, Res2BilayerWindowsCutAnywhereAnchorToOneWindow) {
  sim::StackSpec spec;
  spec.material = "ReS2";
  spec.layers = 2;
  spec.rotation_deg = 23;
  spec.slip_a = {0.31};
  spec.slip_b = {0.17};
  spec.extent_x = spec.extent_y = 70;
  const sim::Structure st = sim::build_stack(spec);
  const sim::BaseVectors b = sim::stack_base_vectors(spec);
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> shift(-4, 4);
  std::vector<float> reference;
  for (int k = 0; k < 6; ++k) {
    const double cx = 35 + shift(rng), cy = 35 + shift(rng);
    const std::vector<float> first = window_at(st, "ReS2", cx, cy);
    const auto t = sim::lattice_anchor(first.data(), kN, kPixel, {b.a1[0], b.a1[1]}, {b.a2[0], b.a2[1]});
    const std::vector<float> anchored = window_at(st, "ReS2", cx + t[0], cy + t[1]);
    if (reference.empty()) {
      reference = anchored;
      continue;
    }
    std::vector<float> turned(anchored.rbegin(), anchored.rend());
    const double c = std::max(correlation(reference, anchored), correlation(reference, turned));
    EXPECT_GT(c, 0.99) << "window " << k << ": anchored windows differ (correlation " << c << ")";
    // Without the anchor the windows differ.
    EXPECT_LT(correlation(reference, first), 0.99) << "window " << k << " was cut at the anchor already";
  }
}

TEST(LatticeAnchor, TrainsetAnchorKeepsTheShiftLabelsExact) {
  // make-trainset --translate --anchor: the lattice, seen from the patch centre, still moves by
  // exactly the labelled shift (now including the anchor's move), and the anchored patches of one
  // label set are one image wherever the translation put the lattice.
  sim::TrainsetSpec s;
  s.count = 8;
  s.patch_px = 64;
  s.pixel_A = 0.2;
  s.material = "MoS2";
  s.layers = 1;
  s.twist_deg = {0, 0};
  s.voltage_kV = 60, s.convergence_mrad = 31.5, s.inner_mrad = 49.5, s.outer_mrad = 198;
  s.phi_set_deg = {30};
  s.dose = {0, 0};
  s.vacancy = {0, 0}, s.contamination = {0, 0}, s.jitter_A = {0, 0};
  s.defocus_A = {0, 0}, s.source_size_A = {0.3, 0.3};
  s.translate = true;
  sim::TrainsetSpec a = s;
  a.anchor = true;
  sim::TrainsetGenerator g0(s), g1(a);
  std::vector<float> img(std::size_t(s.patch_px) * s.patch_px), first;
  for (std::int64_t i = 0; i < s.count; ++i) {
    const sim::PatchLabels L0 = g0.labels(i);
    const sim::PatchLabels L1 = g1.patch(i, img.data());
    const sim::BaseVectors b{{L1.a1_x_A, L1.a1_y_A}, {L1.a2_x_A, L1.a2_y_A}};
    // The anchored patch has a metal column at its geometric centre (pixel (n-1)/2, where infer-stacking's
    // windows have theirs), half a pixel before the field centre that an unshifted patch has there
    // (pixel n/2): the translation is that half pixel plus a lattice vector.
    const double half = 0.5 * s.pixel_A;
    EXPECT_LT(off_lattice(L1.shift_x_A + half, L1.shift_y_A + half, b), 0.03) << "patch " << i << " (unanchored shift " << L0.shift_x_A << ", " << L0.shift_y_A << ")";
    if (first.empty()) first = img;
    else EXPECT_GT(correlation(first, img), 0.99) << "patch " << i;
  }
}
