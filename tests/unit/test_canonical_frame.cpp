// The canonical frame of a trainset patch (sim/canonical_frame.hpp): the basis nearest the ideal
// cell, the bottom layer's orientation, and the fractions of a Cartesian slip, against make-trainset's
// own labels (its builder fractions and drawn orientation) for both MX2 polarities, with jitter.
#include <gtest/gtest.h>

#include <cmath>

#include "tmdflow/sim/canonical_frame.hpp"
#include "tmdflow/sim/trainset.hpp"

using namespace tmdflow::sim;

TEST(CanonicalFrame, FractionsOfTheCartesianSlipsMatchTheBuilder) {
  TrainsetSpec spec;
  spec.material = "MoS2";
  spec.layers = 3;
  spec.stacking = "3R";
  spec.phi_set_deg = {30, 90};
  spec.phi_jitter_deg = 1.5;
  spec.scale_jitter = 0.02;
  spec.twist_deg = {0, 0};
  spec.count = 40;
  TrainsetGenerator gen(spec);
  const LayerCell cell = layer_cell("MoS2");
  int polarity[2] = {0, 0};
  for (std::int64_t k = 0; k < spec.count; ++k) {
    const PatchLabels l = gen.labels(k);
    const CanonicalBasis b = canonical_basis(cell, {l.a1_x_A, l.a1_y_A}, {l.a2_x_A, l.a2_y_A}, l.phi_deg);
    const bool turned = std::fmod(l.phi_deg + 360, 120.0) >= 60;
    EXPECT_EQ(b.bottom, turned ? 1 : 0) << "phi " << l.phi_deg;
    ++polarity[b.bottom];
    EXPECT_LE(std::abs(b.rotation_deg), 1.5 + 1e-9);
    EXPECT_NEAR(b.scale, l.scale, 1e-9);
    // The builder's a1, a2 are at phi - 30, phi + 30: for phi ~ 90 the canonical pair is
    // (a1 - a2, a1), so D = sa a1 + sb a2 has the fractions (-sb, sa + sb) there.
    const auto f0 = lattice_fractions(b, l.slip_x_A, l.slip_y_A);
    const double sa = l.slip_a, sb = l.slip_b;                       // layer 1 (interface 0)
    const double ia = l.slip_a2 - l.slip_a, ib = l.slip_b2 - l.slip_b;  // interface 1 = s2 - s1
    const auto f1 = lattice_fractions(b, l.slip_x_A_1, l.slip_y_A_1);
    EXPECT_NEAR(f0[0], turned ? -sb : sa, 1e-9);
    EXPECT_NEAR(f0[1], turned ? sa + sb : sb, 1e-9);
    EXPECT_NEAR(f1[0], turned ? -ib : ia, 1e-9);
    EXPECT_NEAR(f1[1], turned ? ia + ib : ib, 1e-9);
  }
  EXPECT_GT(polarity[0], 5);
  EXPECT_GT(polarity[1], 5);
}

TEST(CanonicalFrame, A1TDoublePrimeTrainsetTurnedBy180) {
  // make-trainset's 1T'' patches at rotation 0 or 180: the canonical pair is (A, B) or (-A, -B), so
  // the fractions of the Cartesian slip are the builder's or their negatives.
  TrainsetSpec spec;
  spec.material = "ReS2";
  spec.layers = 2;
  spec.stacking = "AA";
  spec.phi_set_deg = {0, 180};
  spec.phi_jitter_deg = 1.5;
  spec.twist_deg = {0, 0};
  spec.count = 20;
  TrainsetGenerator gen(spec);
  const LayerCell cell = layer_cell("ReS2");
  for (std::int64_t k = 0; k < spec.count; ++k) {
    const PatchLabels l = gen.labels(k);
    const CanonicalBasis b = canonical_basis(cell, {l.a1_x_A, l.a1_y_A}, {l.a2_x_A, l.a2_y_A}, l.phi_deg);
    EXPECT_EQ(b.bottom, 0);
    EXPECT_LE(std::abs(b.rotation_deg), 1.5 + 1e-9);
    const double sign = std::abs(std::remainder(l.rotation_deg, 360.0)) > 90 ? -1 : 1;
    const auto f = lattice_fractions(b, l.slip_x_A, l.slip_y_A);
    EXPECT_NEAR(f[0], sign * l.slip_a, 1e-9);
    EXPECT_NEAR(f[1], sign * l.slip_b, 1e-9);
  }
}

TEST(CanonicalFrame, A1TDoublePrimeLatticeTurnedBy180) {
  const LayerCell cell = layer_cell("ReS2");
  const CanonicalBasis b = canonical_basis(cell, {-cell.a1[0], -cell.a1[1]}, {-cell.a2[0], -cell.a2[1]}, 180);
  EXPECT_NEAR(b.s1[0], cell.a1[0], 1e-12);
  EXPECT_NEAR(b.s2[1], cell.a2[1], 1e-12);
  EXPECT_EQ(b.bottom, 0);
  const auto f = lattice_fractions(b, -0.3 * cell.a1[0] - 0.1 * cell.a2[0], -0.3 * cell.a1[1] - 0.1 * cell.a2[1]);
  EXPECT_NEAR(f[0], -0.3, 1e-12);
  EXPECT_NEAR(f[1], -0.1, 1e-12);
}
