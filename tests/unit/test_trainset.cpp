// Training patches of stacks (sim/trainset.hpp): the Cartesian labels agree with the atoms the
// builder placed, the canonical-frame draws stay in their sets, and slips drawn over the cell put
// every local registry of a twisted bilayer at the patch centre.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/structure.hpp"
#include "tmdflow/sim/trainset.hpp"

using namespace tmdflow::sim;

namespace {

using tmdflow::units::pi;

struct V2 {
  double x = 0, y = 0;
};

/// Fractional coordinates of v along (a1, a2).
V2 fractions(V2 v, V2 a1, V2 a2) {
  const double det = a1.x * a2.y - a1.y * a2.x;
  return {(v.x * a2.y - v.y * a2.x) / det, (a1.x * v.y - a1.y * v.x) / det};
}

/// Distance of v from the nearest lattice vector n1 a1 + n2 a2.
double off_lattice(V2 v, V2 a1, V2 a2) {
  const V2 f = fractions(v, a1, a2);
  const double r1 = f.x - std::round(f.x), r2 = f.y - std::round(f.y);
  return std::hypot(r1 * a1.x + r2 * a2.x, r1 * a1.y + r2 * a2.y);
}

/// The shortest vector v + n1 a1 + n2 a2 (the builder's pivot rule, structures.md).
V2 nearest_image(V2 v, V2 a1, V2 a2) {
  const V2 f = fractions(v, a1, a2);
  V2 best = v;
  double best2 = 1e300;
  for (double n1 = std::floor(f.x) - 1; n1 <= std::floor(f.x) + 2; ++n1)
    for (double n2 = std::floor(f.y) - 1; n2 <= std::floor(f.y) + 2; ++n2) {
      const V2 c{v.x - n1 * a1.x - n2 * a2.x, v.y - n1 * a1.y - n2 * a2.y};
      if (c.x * c.x + c.y * c.y < best2) best2 = c.x * c.x + c.y * c.y, best = c;
    }
  return best;
}

/// The metal (Re, Mo, ...) column of `layer` nearest (x, y).
const Column& nearest_metal(const Structure& s, int layer, double x, double y) {
  const Column* best = nullptr;
  double best2 = 1e300;
  for (const auto& c : s.columns)
    if (c.layer == layer && c.sublattice == Sublattice::metal) {
      const double d2 = (c.x - x) * (c.x - x) + (c.y - y) * (c.y - y);
      if (d2 < best2) best2 = d2, best = &c;
    }
  EXPECT_NE(best, nullptr);
  return *best;
}

TrainsetSpec small_spec() {
  TrainsetSpec s;
  s.count = 40;
  s.patch_px = 32;
  s.pixel_A = 0.2;
  s.dose = {0, 0};
  s.contamination = {0, 0};
  s.seed = 11;
  return s;
}

/// The registry shift of layer `k` at zero slip (structures.md), from the lattice labels.
V2 registry(const std::string& stacking, int k, V2 a1, V2 a2) {
  const V2 t{(a1.x + a2.x) / 3, (a1.y + a2.y) / 3};
  if (stacking == "2H" && k % 2 == 1) return t;
  if (stacking == "3R") return {k * t.x, k * t.y};
  return {};
}

}  // namespace

TEST(Trainset, CartesianSlipLabelsAreTheDisplacementsOfTheAtoms) {
  for (const std::string stacking : {"2H", "3R", "AA"})
    for (int layers : {2, 3}) {
      TrainsetSpec spec = small_spec();
      spec.layers = layers;
      spec.stacking = stacking;
      spec.twist_deg = {-2, 2};
      spec.vacancy = {0.05, 0.1};  // vacant sites keep their columns
      spec.phi_set_deg = {30, 90};
      spec.phi_jitter_deg = 1.5;
      spec.scale_jitter = 0.02;
      TrainsetGenerator gen(spec);
      for (std::int64_t i = 0; i < 6; ++i) {
        const PatchLabels L = gen.labels(i);
        const auto ps = gen.structure(i);
        const Structure& st = ps.structure;
        const V2 a1{L.a1_x_A, L.a1_y_A}, a2{L.a2_x_A, L.a2_y_A};
        // Layer 0 has a metal site at the field centre; its lattice is the labelled one.
        const double cx = st.extent_x / 2, cy = st.extent_y / 2;
        const Column& m0 = nearest_metal(st, 0, cx, cy);
        ASSERT_LT(std::hypot(m0.x - cx, m0.y - cy), 1e-9);
        for (const auto& c : st.columns)
          if (c.layer == 0 && c.sublattice == Sublattice::metal) {
            ASSERT_LT(off_lattice({c.x - cx, c.y - cy}, a1, a2), 1e-9);
          }
        const Column& near = nearest_metal(st, 0, cx + a1.x, cy + a1.y);
        EXPECT_NEAR(std::hypot(near.x - cx, near.y - cy), L.scale * material("MoS2").a, 1e-9);
        // Each upper layer has a metal site exactly where the labels put it, up to a lattice
        // vector of layer 0: at the layer's pivot (the twist turns the layer about that site).
        V2 s_prev{};
        for (int k = 1; k < layers; ++k) {
          const V2 slip = k == 1 ? V2{L.slip_x_A, L.slip_y_A} : V2{L.slip_x_A_1, L.slip_y_A_1};
          const V2 s_k{s_prev.x + slip.x, s_prev.y + slip.y};  // cumulative over the interfaces
          const V2 reg = registry(stacking, k, a1, a2);
          const V2 pivot = nearest_image({reg.x + s_k.x, reg.y + s_k.y}, a1, a2);
          const Column& mk = nearest_metal(st, k, cx + pivot.x, cy + pivot.y);
          EXPECT_LT(std::hypot(mk.x - cx - pivot.x, mk.y - cy - pivot.y), 1e-9) << stacking << " layer " << k << " patch " << i;
          s_prev = s_k;
        }
        // The fractional labels are the Cartesian ones in the labelled lattice.
        const V2 f = fractions({L.slip_x_A, L.slip_y_A}, a1, a2);
        EXPECT_NEAR(f.x, L.slip_a, 1e-12);
        EXPECT_NEAR(f.y, L.slip_b, 1e-12);
        if (layers == 2) {
          EXPECT_EQ(L.slip_x_A_1, 0.0);
        }
        if (layers == 3) {
          const V2 f1 = fractions({L.slip_x_A_1, L.slip_y_A_1}, a1, a2);
          EXPECT_NEAR(f1.x, L.slip_a2 - L.slip_a, 1e-12);
          EXPECT_NEAR(f1.y, L.slip_b2 - L.slip_b, 1e-12);
        }
      }
    }
}

TEST(Trainset, CanonicalFrameDrawsOrientationFromTheSetAndScalesTheLattice) {
  TrainsetSpec spec = small_spec();
  spec.count = 200;
  spec.phi_set_deg = {30, 90};
  spec.phi_jitter_deg = 1.5;
  spec.scale_jitter = 0.02;
  TrainsetGenerator gen(spec);
  int near30 = 0, near90 = 0;
  double smin = 2, smax = 0;
  for (std::int64_t i = 0; i < spec.count; ++i) {
    const PatchLabels L = gen.labels(i);
    near30 += std::abs(L.phi_deg - 30) <= 1.5;
    near90 += std::abs(L.phi_deg - 90) <= 1.5;
    smin = std::min(smin, L.scale), smax = std::max(smax, L.scale);
    // a1 at phi - 30, a2 at phi + 30 (structures.md), of length scale x a.
    const double a = L.scale * material("MoS2").a;
    EXPECT_NEAR(L.a1_x_A, a * std::cos((L.phi_deg - 30) * pi / 180), 1e-9);
    EXPECT_NEAR(L.a1_y_A, a * std::sin((L.phi_deg - 30) * pi / 180), 1e-9);
    EXPECT_NEAR(L.a2_x_A, a * std::cos((L.phi_deg + 30) * pi / 180), 1e-9);
    EXPECT_NEAR(L.a2_y_A, a * std::sin((L.phi_deg + 30) * pi / 180), 1e-9);
  }
  EXPECT_EQ(near30 + near90, spec.count);
  EXPECT_GT(near30, 70);
  EXPECT_GT(near90, 70);
  EXPECT_GE(smin, 0.98);
  EXPECT_LE(smax, 1.02);
  EXPECT_LT(smin, 0.985);
  EXPECT_GT(smax, 1.015);
  // Without the set, the range applies and nothing is scaled.
  TrainsetSpec plain = small_spec();
  plain.phi_deg = {10, 20};
  TrainsetGenerator g2(plain);
  for (std::int64_t i = 0; i < 20; ++i) {
    const PatchLabels L = g2.labels(i);
    EXPECT_GE(L.phi_deg, 10);
    EXPECT_LE(L.phi_deg, 20);
    EXPECT_EQ(L.scale, 1.0);
  }
}

TEST(Trainset, SlipsOverTheCellPutEveryMoireRegistryAtThePatchCentre) {
  // A twisted bilayer's local registry varies over the moire period L = a / (2 sin(theta/2))
  // (90 A at 2 deg, larger than a patch). Drawing the slip over the whole cell moves the moire
  // under the patch: the registry measured from the atoms at the patch centre must cover the cell.
  TrainsetSpec spec = small_spec();
  spec.count = 160;
  spec.stacking = "AA";
  spec.twist_deg = {1.5, 2.5};
  spec.vacancy = {0, 0};
  spec.phi_set_deg = {30};
  TrainsetGenerator gen(spec);
  int bins[4][4] = {};
  for (std::int64_t i = 0; i < spec.count; ++i) {
    const PatchLabels L = gen.labels(i);
    const auto ps = gen.structure(i);
    const double px = ps.x0 + 0.5 * (spec.patch_px - 1) * spec.pixel_A, py = ps.y0 + 0.5 * (spec.patch_px - 1) * spec.pixel_A;
    const Column& m0 = nearest_metal(ps.structure, 0, px, py);
    const Column& m1 = nearest_metal(ps.structure, 1, m0.x, m0.y);
    const V2 f = fractions({m1.x - m0.x, m1.y - m0.y}, {L.a1_x_A, L.a1_y_A}, {L.a2_x_A, L.a2_y_A});
    const double u = f.x - std::floor(f.x), v = f.y - std::floor(f.y);
    ++bins[std::min(3, int(u * 4))][std::min(3, int(v * 4))];
  }
  for (auto& row : bins)
    for (int n : row) EXPECT_GE(n, 3) << "a quarter-by-quarter cell with almost no patch centre in it";
}

TEST(Trainset, LabelsMatchThePatchAndAreDeterministic) {
  TrainsetSpec spec = small_spec();
  spec.phi_set_deg = {30, 90};
  spec.phi_jitter_deg = 1.5;
  spec.scale_jitter = 0.02;
  TrainsetGenerator a(spec), b(spec);
  std::vector<float> pa(32 * 32), pb(32 * 32);
  const PatchLabels la = a.patch(7, pa.data());
  b.patch(3, pb.data());  // another patch first: no state carries over
  const PatchLabels lb = b.patch(7, pb.data());
  EXPECT_EQ(pa, pb);
  for (const auto& f : PatchLabels::fields()) {
    EXPECT_EQ(la.*(f.member), lb.*(f.member)) << f.name;
    EXPECT_EQ(la.*(f.member), a.labels(7).*(f.member)) << f.name;
  }
}

TEST(Trainset, InvalidCanonicalFrameOptionsAreConfigErrors) {
  TrainsetSpec s = small_spec();
  s.scale_jitter = -0.1;
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = small_spec();
  s.phi_jitter_deg = -1;
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
  s = small_spec();
  s.phi_set_deg = {30, NAN};
  EXPECT_THROW(validate(s), tmdflow::ConfigError);
}

TEST(Trainset, OneTDoublePrimeStacksCarryTheirRotationAndSlipLabels) {
  for (int layers : {2, 3}) {
    TrainsetSpec spec = small_spec();
    spec.material = "ReS2,ReSe2";
    spec.layers = layers;
    spec.pixel_A = 0.12;
    spec.voltage_kV = 300;
    spec.convergence_mrad = 21.3;
    spec.inner_mrad = 39;
    spec.phi_set_deg = {0, 180};
    spec.phi_jitter_deg = 1.5;
    spec.scale_jitter = 0.02;
    spec.twist_deg = {0, 0};
    spec.vacancy = {0, 0.1};
    TrainsetGenerator gen(spec);
    EXPECT_EQ(stacking_of(spec), "AA");
    for (std::int64_t i = 0; i < 6; ++i) {
      const PatchLabels L = gen.labels(i);
      EXPECT_EQ(L.rotation_deg, L.phi_deg);
      EXPECT_LE(std::min(std::abs(L.rotation_deg), std::abs(L.rotation_deg - 180)), 1.5);
      const auto ps = gen.structure(i);
      const Structure& st = ps.structure;
      const std::string name = L.material_index == 0 ? "ReS2" : "ReSe2";
      // a1, a2 = the layer cell turned by the rotation and scaled.
      const LayerCell cell = layer_cell(name);
      const double c = std::cos(L.rotation_deg * pi / 180), sn = std::sin(L.rotation_deg * pi / 180);
      EXPECT_NEAR(L.a1_x_A, L.scale * (c * cell.a1[0] - sn * cell.a1[1]), 1e-9);
      EXPECT_NEAR(L.a2_y_A, L.scale * (sn * cell.a2[0] + c * cell.a2[1]), 1e-9);
      // Layer k's Re atoms are layer 0's moved by the cumulative interface slips (no twist here).
      const V2 a1{L.a1_x_A, L.a1_y_A}, a2{L.a2_x_A, L.a2_y_A};
      const double cx = st.extent_x / 2, cy = st.extent_y / 2;
      const Column& r0 = nearest_metal(st, 0, cx, cy);
      V2 s_k{};
      for (int k = 1; k < layers; ++k) {
        s_k = k == 1 ? V2{L.slip_x_A, L.slip_y_A} : V2{s_k.x + L.slip_x_A_1, s_k.y + L.slip_y_A_1};
        const V2 shift = nearest_image(s_k, a1, a2);
        const Column& rk = nearest_metal(st, k, r0.x + shift.x, r0.y + shift.y);
        EXPECT_LT(std::hypot(rk.x - r0.x - shift.x, rk.y - r0.y - shift.y), 1e-9) << "layers " << layers << " k " << k;
      }
    }
  }
}

TEST(Trainset, PsnrOptionGivesPatchesOfThatPsnr) {
  for (bool gaussian : {false, true}) {
    TrainsetSpec noisy = small_spec();
    noisy.count = 8;
    noisy.psnr_dB = {7, 20};
    noisy.psnr_gaussian = gaussian;
    TrainsetSpec clean = noisy;
    clean.psnr_dB = {0, 0};  // the same patches without noise
    TrainsetGenerator gn(noisy), gc(clean);
    std::vector<float> pn(32 * 32), pc(32 * 32);
    for (std::int64_t i = 0; i < noisy.count; ++i) {
      const PatchLabels L = gn.patch(i, pn.data());
      const PatchLabels Lc = gc.patch(i, pc.data());
      EXPECT_TRUE(std::isinf(Lc.psnr_dB));
      // Measured here: noise = noisy - clean in the noisy patch's units (counts at the label's dose).
      const double unit = gaussian ? 1.0 : L.dose * noisy.pixel_A * noisy.pixel_A;
      EXPECT_EQ(gaussian, L.dose == 0);
      double peak = 0, sum2 = 0;
      for (std::size_t p = 0; p < pn.size(); ++p) {
        peak = std::max(peak, unit * pc[p]);
        sum2 += (pn[p] - unit * pc[p]) * (pn[p] - unit * pc[p]);
      }
      const double psnr = 20 * std::log10(peak / std::sqrt(sum2 / double(pn.size())));
      EXPECT_NEAR(psnr, L.psnr_dB, 1e-3) << "patch " << i;
      EXPECT_GT(psnr, 7 - 1.0) << "patch " << i;
      EXPECT_LT(psnr, 20 + 1.0) << "patch " << i;
    }
  }
}

TEST(Trainset, HolesAndDriftAreDrawnFromTheirRanges) {
  TrainsetSpec spec = small_spec();
  spec.count = 12;
  spec.patch_px = 64;
  spec.holes = {0.1, 0.3};
  spec.drift_A = {0.5, 1.0};
  spec.vacancy = {0, 0};
  TrainsetSpec intact = spec;
  intact.holes = {0, 0};  // the same patches without the holes
  TrainsetGenerator gen(spec), gi(intact);
  std::vector<float> img(64 * 64), ref(64 * 64);
  for (std::int64_t i = 0; i < spec.count; ++i) {
    const PatchLabels L = gen.patch(i, img.data());
    const PatchLabels Li = gi.patch(i, ref.data());
    EXPECT_EQ(Li.holes, 0.0);
    EXPECT_EQ(L.drift_x_A, Li.drift_x_A);
    const double drift = std::hypot(L.drift_x_A, L.drift_y_A);
    EXPECT_GE(drift, 0.5);
    EXPECT_LE(drift, 1.0);
    EXPECT_GT(L.holes, 0.08);
    EXPECT_LT(L.holes, 0.32);
    // The pixels the holes darkened (below half their intact value) cover the labelled fraction,
    // up to the probe-wide rim of each hole.
    double dark = 0, brighter = 0;
    for (std::size_t p = 0; p < img.size(); ++p) dark += img[p] < 0.5f * ref[p], brighter += img[p] > ref[p] + 1e-4f;
    dark /= double(img.size());
    EXPECT_NEAR(dark, L.holes, 0.3 * L.holes) << "patch " << i;
    EXPECT_EQ(brighter, 0) << "a hole only removes atoms";
  }
}

TEST(Trainset, TranslateMovesTheLatticeByItsShiftLabelAndKeepsTheMargin) {
  // The same patch with and without --translate: the bottom layer's lattice, seen from the patch
  // centre, moves by exactly the labelled shift (modulo the lattice), the shifts cover the cell,
  // and the image has atoms up to its edges (the field grows with the shift).
  TrainsetSpec plain = small_spec();
  plain.count = 60;
  plain.phi_set_deg = {30, 90};
  plain.scale_jitter = 0.02;
  TrainsetSpec moved = plain;
  moved.translate = true;
  TrainsetGenerator g0(plain), g1(moved);
  int bins[3][3] = {};
  for (std::int64_t i = 0; i < plain.count; ++i) {
    const PatchLabels L0 = g0.labels(i), L1 = g1.labels(i);
    EXPECT_EQ(L0.shift_x_A, 0.0);
    EXPECT_EQ(L0.shift_y_A, 0.0);
    EXPECT_EQ(L0.slip_a, L1.slip_a);
    EXPECT_EQ(L0.phi_deg, L1.phi_deg);
    const V2 a1{L1.a1_x_A, L1.a1_y_A}, a2{L1.a2_x_A, L1.a2_y_A};
    const V2 f = fractions({L1.shift_x_A, L1.shift_y_A}, a1, a2);
    EXPECT_GE(f.x, -1e-9);
    EXPECT_LT(f.x, 1 + 1e-9);
    EXPECT_GE(f.y, -1e-9);
    EXPECT_LT(f.y, 1 + 1e-9);
    ++bins[std::min(2, int(f.x * 3))][std::min(2, int(f.y * 3))];
    const auto s0 = g0.structure(i), s1 = g1.structure(i);
    const double half = 0.5 * (plain.patch_px - 1) * plain.pixel_A;
    const Column& m0 = nearest_metal(s0.structure, 0, s0.x0 + half, s0.y0 + half);
    const Column& m1 = nearest_metal(s1.structure, 0, s1.x0 + half, s1.y0 + half);
    const V2 d0{m0.x - s0.x0, m0.y - s0.y0}, d1{m1.x - s1.x0, m1.y - s1.y0};
    EXPECT_LT(off_lattice({d1.x - d0.x - L1.shift_x_A, d1.y - d0.y - L1.shift_y_A}, a1, a2), 1e-6) << "patch " << i;
  }
  for (auto& row : bins)
    for (int n : row) EXPECT_GE(n, 1) << "a third-by-third of the cell that no shift reached";
  // Noise-free images: atoms up to every edge (no empty strip where the window moved).
  std::vector<float> img(std::size_t(plain.patch_px * plain.patch_px));
  for (std::int64_t i = 0; i < 6; ++i) {
    g1.patch(i, img.data());
    const int n = plain.patch_px;
    auto band_max = [&](int r0, int r1, int c0, int c1) {
      float m = 0;
      for (int r = r0; r < r1; ++r)
        for (int c = c0; c < c1; ++c) m = std::max(m, img[std::size_t(r * n + c)]);
      return m;
    };
    const float centre = band_max(n / 4, 3 * n / 4, n / 4, 3 * n / 4);
    for (const float edge : {band_max(0, 4, 0, n), band_max(n - 4, n, 0, n), band_max(0, n, 0, 4), band_max(0, n, n - 4, n)})
      EXPECT_GT(edge, 0.5 * centre) << "patch " << i;
  }
}
