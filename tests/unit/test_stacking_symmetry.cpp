// The label symmetry of stackings (sim/stacking_symmetry.hpp): the group's algebra (closure, fold,
// distance), and the physics it claims, checked on simulated images: equivalent labels give the same
// incoherent ADF image up to a translation (normalised cross-correlation > 0.999), labels that are
// not equivalent give clearly different ones. Images are built independently of the symmetry code
// (sim::build_stack) from the labels' Cartesian meaning.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <random>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/stacking_symmetry.hpp"
#include "tmdflow/sim/structure.hpp"

using namespace tmdflow;
using namespace tmdflow::sim;

namespace {

using tmdflow::units::pi;
constexpr double kField = 64;   // structure field (A); images sit at its centre
constexpr int kImage = 96;      // image pixels per axis
constexpr double kPixel = 0.15;  // A

std::vector<double> apply(const LabelSymmetry& s, std::size_t g, const std::vector<double>& y) {
  std::vector<double> z(static_cast<std::size_t>(s.size));
  for (int i = 0; i < s.size; ++i) {
    z[std::size_t(i)] = s.offsets[g][std::size_t(i)];
    for (int j = 0; j < s.size; ++j) z[std::size_t(i)] += s.maps[g][std::size_t(i * s.size + j)] * y[std::size_t(j)];
  }
  return z;
}

// Equal modulo the periods (lattice translations).
bool congruent(const LabelSymmetry& s, const std::vector<double>& a, const std::vector<double>& b) {
  for (int i = 0; i < s.size; ++i) {
    const double p = s.period[std::size_t(i)], d = a[std::size_t(i)] - b[std::size_t(i)];
    if (std::abs(p > 0 ? d - p * std::round(d / p) : d) > 1e-9) return false;
  }
  return true;
}

std::vector<double> random_label(std::mt19937_64& rng, int n, double scale = 1.0) {
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<double> y(static_cast<std::size_t>(n));
  for (double& v : y) v = u(rng);
  return y;
}

struct Conditions {
  double kV, mrad, inner, outer;
};
Conditions conditions_of(const std::string& material) {
  return layer_cell(material).triclinic ? Conditions{300, 21.3, 39, 200} : Conditions{60, 31.5, 49.5, 198};
}

// One simulator per material (its probe and FFT plans are reused).
std::vector<float> simulate(const Structure& s, const std::string& material) {
  static std::map<std::string, std::unique_ptr<AdfSimulator>> simulators;
  auto& sim = simulators[material];
  if (!sim) {
  const Conditions c = conditions_of(material);
  AdfSpec spec;
  spec.probe.voltage_kV = c.kV;
  spec.probe.convergence_mrad = c.mrad;
  spec.inner_mrad = c.inner;
  spec.outer_mrad = c.outer;
  spec.nx = spec.ny = kImage;
  spec.pixel_A = kPixel;
  spec.x0 = spec.y0 = kField / 2 - kImage * kPixel / 2;
  sim = std::make_unique<AdfSimulator>(spec);
  }
  std::vector<float> out(static_cast<std::size_t>(kImage * kImage));
  sim->image(s, out.data());
  return out;
}

// Pearson correlation of the centre crop of b (border m pixels) with the window of a at each
// integer offset within +-m pixels: its maximum (the best translation on the pixel grid).
double best_correlation(const std::vector<float>& a, const std::vector<float>& b, int m) {
  const int n = kImage, w = n - 2 * m;
  double best = -1;
  std::vector<double> bb;
  for (int i = 0; i < w; ++i)
    for (int j = 0; j < w; ++j) bb.push_back(b[std::size_t((i + m) * n + j + m)]);
  const double bm = std::accumulate(bb.begin(), bb.end(), 0.0) / double(bb.size());
  double bs = 0;
  for (double& v : bb) v -= bm, bs += v * v;
  for (int oy = 0; oy <= 2 * m; ++oy)
    for (int ox = 0; ox <= 2 * m; ++ox) {
      double am = 0;
      for (int i = 0; i < w; ++i)
        for (int j = 0; j < w; ++j) am += a[std::size_t((i + oy) * n + j + ox)];
      am /= double(w * w);
      double ab = 0, as = 0;
      for (int i = 0; i < w; ++i)
        for (int j = 0; j < w; ++j) {
          const double v = a[std::size_t((i + oy) * n + j + ox)] - am;
          ab += v * bb[std::size_t(i * w + j)];
          as += v * v;
        }
      best = std::max(best, ab / std::sqrt(as * bs));
    }
  return best;
}

struct Vec {
  double x = 0, y = 0;
};
Vec operator+(Vec a, Vec b) { return {a.x + b.x, a.y + b.y}; }
Vec operator-(Vec a, Vec b) { return {a.x - b.x, a.y - b.y}; }
Vec operator*(double s, Vec a) { return {s * a.x, s * a.y}; }

// A stack described by its canonical label, as the builder makes it: bottom orientation
// `bottom` (MX2: 0 = phi 30, 1 = phi 90; 1T'': 0), the layers' lattice origins (Cartesian,
// relative to the field centre) and its atoms.
struct Scene {
  std::vector<Vec> origins;
  Structure structure;
};

Scene build_scene(const std::string& material, const std::string& stacking, int layers, int bottom, const std::vector<double>& y,
                  double rotation_deg = 0) {
  const LayerCell cell = layer_cell(material);
  const Vec a1c{cell.a1[0], cell.a1[1]}, a2c{cell.a2[0], cell.a2[1]};
  // Interface slips (Cartesian) -> each layer's slip from its registry, s_k = d_0 + ... + d_{k-1}.
  std::vector<Vec> s{{0, 0}};
  for (int k = 0; k + 1 < layers; ++k) s.push_back(s.back() + y[std::size_t(2 * k)] * a1c + y[std::size_t(2 * k + 1)] * a2c);
  Scene scene;
  if (cell.triclinic) {
    // build_stack's 1T'' stacks: eclipsed (AA) registry, the bottom cell's A at rotation_deg, the
    // slips fractions of the bottom layer's (turned) A, B.
    const double r = rotation_deg * pi / 180, c = std::cos(r), sn = std::sin(r);
    const Vec b1{c * a1c.x - sn * a1c.y, sn * a1c.x + c * a1c.y}, b2{c * a2c.x - sn * a2c.y, sn * a2c.x + c * a2c.y};
    const double det = b1.x * b2.y - b1.y * b2.x;
    StackSpec spec;
    spec.material = material;
    spec.layers = layers;
    spec.stacking = stacking;
    spec.rotation_deg = rotation_deg;
    spec.extent_x = spec.extent_y = kField;
    for (int k = 0; k < layers; ++k) {
      const Vec v = s[std::size_t(k)];
      if (k > 0) {
        spec.slip_a.push_back((v.x * b2.y - v.y * b2.x) / det);
        spec.slip_b.push_back((b1.x * v.y - b1.y * v.x) / det);
      }
      scene.origins.push_back(v);
    }
    scene.structure = build_stack(spec);
    return scene;
  }
  // The builder's own basis (a1 at phi - 30, a2 at phi + 30) and registry (structures.md).
  const double phi = bottom == 0 ? 30 : 90, a = sim::material(material).a;
  const Vec b1{a * std::cos((phi - 30) * pi / 180), a * std::sin((phi - 30) * pi / 180)};
  const Vec b2{a * std::cos((phi + 30) * pi / 180), a * std::sin((phi + 30) * pi / 180)};
  const Vec t = (1.0 / 3) * (b1 + b2);
  const double det = b1.x * b2.y - b1.y * b2.x;
  StackSpec spec;
  spec.material = material;
  spec.layers = layers;
  spec.stacking = stacking;
  spec.phi_deg = phi;
  spec.extent_x = spec.extent_y = kField;
  for (int k = 0; k < layers; ++k) {
    const Vec v = s[std::size_t(k)];
    if (k > 0) {
      spec.slip_a.push_back((v.x * b2.y - v.y * b2.x) / det);
      spec.slip_b.push_back((b1.x * v.y - b1.y * v.x) / det);
    }
    const double n = stacking == "3R" ? k : stacking == "2H" ? (k & 1) : 0;
    scene.origins.push_back(n * t + v);
  }
  scene.structure = build_stack(spec);
  return scene;
}

void translate(Structure& s, Vec u) {
  for (auto& a : s.atoms) a.x += u.x, a.y += u.y;
}

// The shortest lattice representative of u (so that a translated field still covers the image).
Vec reduce(const LayerCell& cell, Vec u) {
  const Vec a1{cell.a1[0], cell.a1[1]}, a2{cell.a2[0], cell.a2[1]};
  const double det = a1.x * a2.y - a1.y * a2.x;
  const double f1 = (u.x * a2.y - u.y * a2.x) / det, f2 = (a1.x * u.y - a1.y * u.x) / det;
  Vec best = u;
  for (int i = -1; i <= 1; ++i)
    for (int j = -1; j <= 1; ++j) {
      const Vec v = u - (std::round(f1) + i) * a1 - (std::round(f2) + j) * a2;
      if (std::hypot(v.x, v.y) < std::hypot(best.x, best.y)) best = v;
    }
  return best;
}

// The best correlation of two scenes' images over the translations that put a layer of b onto a
// layer of a (equal images must map layers onto layers), each refined by +-2 pixels.
double correlation_of_scenes(const std::string& material, const Scene& a, const Scene& b) {
  const auto ia = simulate(a.structure, material);
  double best = -1;
  for (const Vec& oa : a.origins)
    for (const Vec& ob : b.origins) {
      Structure moved = b.structure;
      translate(moved, reduce(layer_cell(material), oa - ob));
      best = std::max(best, best_correlation(ia, simulate(moved, material), 2));
    }
  return best;
}

std::vector<int> bottoms_of(const std::string& material) { return layer_cell(material).triclinic ? std::vector<int>{0} : std::vector<int>{0, 1}; }

struct Case {
  std::string material, stacking;
  int layers;
  std::size_t equivalents;
};
const std::vector<Case>& slip_cases() {
  static const std::vector<Case> c = {{"MoS2", "2H", 2, 2}, {"MoS2", "3R", 2, 2}, {"MoS2", "AA", 2, 2}, {"MoS2", "2H", 3, 2},
                                      {"MoS2", "3R", 3, 6}, {"WSe2", "AA", 3, 6}, {"ReS2", "AA", 2, 2}, {"ReSe2", "AA", 3, 6}};
  return c;
}

}  // namespace

TEST(StackingSymmetry, GroupsAreClosedWithTheIdentityFirst) {
  for (const auto& c : slip_cases())
  for (int bottom : bottoms_of(c.material)) {
    const LabelSymmetry s = label_symmetry(c.material, c.layers, c.stacking, "slip", bottom);
    SCOPED_TRACE(s.describe());
    ASSERT_EQ(s.size, 2 * (c.layers - 1));
    EXPECT_EQ(s.maps.size(), c.equivalents);
    ASSERT_EQ(s.offsets.size(), s.maps.size());
    for (int i = 0; i < s.size; ++i)
      for (int j = 0; j < s.size; ++j) EXPECT_EQ(s.maps[0][std::size_t(i * s.size + j)], i == j ? 1.0 : 0.0);
    // Closure: g(h(y)) is congruent to some k(y) for random y, and each g has an inverse.
    std::mt19937_64 rng(7);
    const auto y = random_label(rng, s.size);
    for (std::size_t g = 0; g < s.maps.size(); ++g) {
      bool inverse = false;
      for (std::size_t h = 0; h < s.maps.size(); ++h) {
        const auto gh = apply(s, g, apply(s, h, y));
        bool found = false;
        for (std::size_t k = 0; k < s.maps.size(); ++k) found = found || congruent(s, gh, apply(s, k, y));
        EXPECT_TRUE(found) << "g=" << g << " h=" << h;
        inverse = inverse || congruent(s, gh, y);
      }
      EXPECT_TRUE(inverse) << "g=" << g;
    }
  }
  const LabelSymmetry t = label_symmetry("MoS2", 2, "2H", "twist");
  EXPECT_EQ(t.maps.size(), 2u);
  EXPECT_EQ(t.period[0], 120.0);
  EXPECT_EQ(label_symmetry("ReS2", 2, "AA", "twist").period[0], 180.0);
}

TEST(StackingSymmetry, KnownGroups) {
  // Bilayers: D == -D (same orientation, AA; and 2H once the bottom polarity is unknown);
  // 3R: D == t - D, t = (1/3, 1/3).
  const auto aa = label_symmetry("MoS2", 2, "AA", "slip"), h2 = label_symmetry("MoS2", 2, "2H", "slip");
  const auto r3 = label_symmetry("MoS2", 2, "3R", "slip");
  const std::vector<double> d{0.13, -0.27};
  EXPECT_NEAR(label_distance(aa, d, {-0.13, 0.27}), 0, 1e-12);
  EXPECT_NEAR(label_distance(h2, d, {-0.13, 0.27}), 0, 1e-12);
  EXPECT_NEAR(label_distance(r3, d, {1.0 / 3 - 0.13, 1.0 / 3 + 0.27}), 0, 1e-12);
  EXPECT_GT(label_distance(r3, d, {-0.13, 0.27}), 0.3);
  // 3R on a phi-90 bottom, whose registry is -t: D == -t - D, and not t - D.
  const auto r3q = label_symmetry("MoS2", 2, "3R", "slip", 1);
  EXPECT_NEAR(label_distance(r3q, d, {-1.0 / 3 - 0.13, -1.0 / 3 + 0.27}), 0, 1e-12);
  EXPECT_GT(label_distance(r3q, d, {1.0 / 3 - 0.13, 1.0 / 3 + 0.27}), 0.3);
  EXPECT_EQ(r3q.maps.size(), 2u);
  // The other stackings: one group for both bottom orientations.
  for (const auto& c : slip_cases()) {
    if (c.stacking == "3R" || bottoms_of(c.material).size() < 2) continue;
    const auto q = label_symmetry(c.material, c.layers, c.stacking, "slip", 1), p = label_symmetry(c.material, c.layers, c.stacking, "slip", 0);
    EXPECT_EQ(q.maps, p.maps) << q.describe();
    EXPECT_EQ(q.offsets, p.offsets) << q.describe();
  }
  // 2H trilayer: only the reversal (d0, d1) -> (-d1, -d0).
  const auto t2 = label_symmetry("MoS2", 3, "2H", "slip");
  EXPECT_NEAR(label_distance(t2, {0.1, 0.2, -0.3, 0.05}, {0.3, -0.05, -0.1, -0.2}), 0, 1e-12);
  EXPECT_GT(label_distance(t2, {0.1, 0.2, -0.3, 0.05}, {-0.1, -0.2, 0.3, -0.05}), 0.3);
  EXPECT_NE(t2.describe().find("(-a1,-b1,-a0,-b0)"), std::string::npos) << t2.describe();
  // Lattice translations: distance 0; the metric is the Cartesian length in Angstrom.
  EXPECT_NEAR(label_distance(aa, {0.2, 0.1}, {1.2, -0.9}), 0, 1e-12);
  EXPECT_NEAR(label_distance(aa, {0, 0}, {0.5, 0}), 0.5 * sim::material("MoS2").a, 1e-9);
  EXPECT_NEAR(label_distance(aa, {0, 0}, {0.5, -0.5}), 0.5 * sim::material("MoS2").a, 1e-9);  // a1 - a2 is a lattice vector of length a
  // Twist: theta == -theta == theta + 120, not 60 - theta.
  const auto tw = label_symmetry("MoS2", 2, "AA", "twist");
  EXPECT_NEAR(label_distance(tw, {7}, {-7}), 0, 1e-12);
  EXPECT_NEAR(label_distance(tw, {7}, {127}), 0, 1e-12);
  EXPECT_NEAR(label_distance(tw, {7}, {113}), 0, 1e-12);
  EXPECT_NEAR(label_distance(tw, {7}, {53}), 46, 1e-12);
  EXPECT_NEAR(fold_label(tw, {-187})[0], 53, 1e-12);
  EXPECT_NEAR(fold_label(tw, {60})[0], 60, 1e-12);
  EXPECT_NEAR(fold_label(tw, {-60})[0], 60, 1e-12);
}

TEST(StackingSymmetry, FoldIsIdempotentAndDistanceIsZeroForEquivalents) {
  std::mt19937_64 rng(11);
  for (const auto& c : slip_cases())
  for (int bottom : bottoms_of(c.material)) {
    const LabelSymmetry s = label_symmetry(c.material, c.layers, c.stacking, "slip", bottom);
    SCOPED_TRACE(s.describe());
    for (int trial = 0; trial < 20; ++trial) {
      const auto y = random_label(rng, s.size, 2.0);
      const auto f = fold_label(s, y);
      EXPECT_NEAR(label_distance(s, y, f), 0, 1e-9);
      const auto ff = fold_label(s, f);
      for (int i = 0; i < s.size; ++i) EXPECT_NEAR(ff[std::size_t(i)], f[std::size_t(i)], 1e-9);
      for (std::size_t g = 0; g < s.maps.size(); ++g) {
        auto z = apply(s, g, y);
        for (double& v : z) v += double(int(rng() % 5) - 2);  // plus a lattice translation
        EXPECT_NEAR(label_distance(s, y, z), 0, 1e-9);
        EXPECT_NEAR(label_distance(s, z, y), 0, 1e-9);
        const auto fz = fold_label(s, z);  // one representative per class
        for (int i = 0; i < s.size; ++i) EXPECT_NEAR(fz[std::size_t(i)], f[std::size_t(i)], 1e-9);
      }
      // The fold is the shortest member: no equivalent is shorter.
      const std::vector<double> zero(std::size_t(s.size), 0.0);
      EXPECT_LE(label_distance(s, zero, f), label_distance(s, zero, y) + 1e-9);
      EXPECT_NEAR(label_distance(s, zero, f), metric_length(s, f, 0, s.size), 1e-9);
      // nearest_equivalent is congruent to some g(y) and realises the distance.
      const auto r = random_label(rng, s.size);
      const auto n = nearest_equivalent(s, r, y);
      std::vector<double> d(static_cast<std::size_t>(s.size));
      for (int i = 0; i < s.size; ++i) d[std::size_t(i)] = n[std::size_t(i)] - r[std::size_t(i)];
      EXPECT_NEAR(metric_length(s, d, 0, s.size), label_distance(s, r, y), 1e-9);
    }
  }
}

TEST(StackingSymmetry, BadParametersAreConfigErrors) {
  EXPECT_THROW(label_symmetry("Unobtainium", 2, "AA", "slip"), ConfigError);
  EXPECT_THROW(label_symmetry("MoS2", 4, "AA", "slip"), ConfigError);
  EXPECT_THROW(label_symmetry("ReS2", 2, "2H", "slip"), ConfigError);
  EXPECT_THROW(label_symmetry("MoS2", 2, "AB", "slip"), ConfigError);
  EXPECT_THROW(label_symmetry("MoS2", 2, "AA", "shear"), ConfigError);
  EXPECT_THROW(label_symmetry("MoS2", 3, "AA", "twist"), ConfigError);
  EXPECT_THROW(label_symmetry("MoS2", 2, "AA", "slip", 2), ConfigError);
  EXPECT_THROW(label_symmetry("ReS2", 2, "AA", "slip", 1), ConfigError);
  EXPECT_THROW(fold_label(label_symmetry("MoS2", 2, "AA", "slip"), {0.1}), ConfigError);
}

// The physics: every equivalence gives the same image up to a translation, from either bottom
// orientation; random labels outside the class give clearly different images.
TEST(StackingSymmetry, EquivalentLabelsGiveTheSameImage) {
  std::mt19937_64 rng(3);
  for (const auto& c : slip_cases()) {
    const auto y = random_label(rng, 2 * (c.layers - 1), 0.5);
    for (int bottom : bottoms_of(c.material)) {
      const LabelSymmetry s = label_symmetry(c.material, c.layers, c.stacking, "slip", bottom);
      SCOPED_TRACE(s.describe());
      const Scene a = build_scene(c.material, c.stacking, c.layers, bottom, y);
      for (std::size_t g = 1; g < s.maps.size(); ++g) {
        double best = -1;
        for (int other : bottoms_of(c.material))
          best = std::max(best, correlation_of_scenes(c.material, a, build_scene(c.material, c.stacking, c.layers, other, apply(s, g, y))));
        EXPECT_GT(best, 0.999) << "bottom " << bottom << " map " << g;
      }
    }
  }
}

TEST(StackingSymmetry, InequivalentLabelsGiveDifferentImages) {
  std::mt19937_64 rng(5);
  for (const auto& c : slip_cases()) {
    for (int bottom : bottoms_of(c.material)) {
    const LabelSymmetry s = label_symmetry(c.material, c.layers, c.stacking, "slip", bottom);
    SCOPED_TRACE(s.describe());
    const auto y = random_label(rng, s.size, 0.5);
    std::vector<double> z;
    do z = random_label(rng, s.size, 0.5);
    while (label_distance(s, y, z) < 0.5);  // at least 0.5 A from every equivalent
    const Scene a = build_scene(c.material, c.stacking, c.layers, bottom, y);
    const auto ia = simulate(a.structure, c.material);
    for (int other : bottoms_of(c.material)) {
      const Scene b = build_scene(c.material, c.stacking, c.layers, other, z);
      // Every translation on the pixel grid (+-26 pixels cover a unit cell), and the layer-onto-layer ones.
      const double slid = best_correlation(ia, simulate(b.structure, c.material), 26);
      const double layered = correlation_of_scenes(c.material, a, b);
      EXPECT_LT(std::max(slid, layered), 0.98) << "bottom " << other << ": " << slid << " " << layered;
    }
    }
  }
}

TEST(StackingSymmetry, TwistIsDefinedModulo120AndUpToSignButNot60MinusTheta) {
  const std::string m = "MoS2";
  auto twisted = [&](const std::string& stacking, double phi, double theta) {
    StackSpec spec;
    spec.material = m;
    spec.layers = 2;
    spec.stacking = stacking;
    spec.phi_deg = phi;
    spec.twist_deg = {theta};
    spec.extent_x = spec.extent_y = kField;
    return build_stack(spec);
  };
  const double theta = 9.0;
  const auto ia = simulate(twisted("AA", 30, theta), m);
  // theta + 120: the layer's own three-fold symmetry.
  EXPECT_GT(best_correlation(ia, simulate(twisted("AA", 30, theta + 120), m), 2), 0.999);
  // -theta seen in the frame of the other layer (the finder may lock on either lattice): the
  // stack of label -theta turned by theta about the pivot (the field centre) is label theta's.
  Structure minus = twisted("AA", 30, -theta);
  for (auto& a : minus.atoms) {
    const double x = a.x - kField / 2, y = a.y - kField / 2, c = std::cos(theta * pi / 180), s = std::sin(theta * pi / 180);
    a.x = kField / 2 + c * x - s * y, a.y = kField / 2 + s * x + c * y;
  }
  EXPECT_GT(best_correlation(ia, simulate(minus, m), 2), 0.999);
  // 60 - theta: the antiparallel moire (equal FFT amplitudes, different image), in both frames and
  // with either bottom polarity, and 2H's theta (the same pair of orientations) likewise.
  double best = -1;
  for (double phi : {30.0, 90.0}) {
    best = std::max(best, best_correlation(ia, simulate(twisted("AA", phi, 60 - theta), m), 26));
    best = std::max(best, best_correlation(ia, simulate(twisted("2H", phi, theta), m), 26));
  }
  EXPECT_LT(best, 0.98);
  const auto s = label_symmetry(m, 2, "AA", "twist");
  EXPECT_GT(label_distance(s, {theta}, {60 - theta}), 2 * theta - 1e-9);
}

TEST(StackingSymmetry, A1TDoublePrimeLayerTurnedBy180IsTheSameLayer) {
  // The lattice finder knows a 1T'' lattice's a1 only modulo 180 degrees; the projected layer is
  // centrosymmetric, so a stack of layers turned by 180 with Cartesian slips D is the unturned
  // stack with the same D (its image is the turned image): the ambiguity adds no equivalence.
  std::mt19937_64 rng(9);
  const auto y = random_label(rng, 4, 0.5);
  const Scene a = build_scene("ReS2", "AA", 3, 0, y);
  const Scene turned = build_scene("ReS2", "AA", 3, 0, y, 180);
  // The turn is about the cell origin, not the layer's centre of inversion: search the
  // translations that put the Re atom of `turned` nearest the centre onto each Re atom nearby.
  const Vec centre{kField / 2, kField / 2};
  Vec pivot{1e9, 1e9};
  for (const auto& at : turned.structure.atoms)
    if (at.sublattice == Sublattice::metal && std::hypot(at.x - centre.x, at.y - centre.y) < std::hypot(pivot.x - centre.x, pivot.y - centre.y))
      pivot = {at.x, at.y};
  const auto ia = simulate(a.structure, "ReS2");
  double best = -1;
  int tried = 0;
  for (const auto& at : a.structure.atoms) {
    if (at.sublattice != Sublattice::metal || std::hypot(at.x - pivot.x, at.y - pivot.y) > 7) continue;
    Structure moved = turned.structure;
    translate(moved, Vec{at.x, at.y} - pivot);
    best = std::max(best, best_correlation(ia, simulate(moved, "ReS2"), 1));
    ++tried;
  }
  EXPECT_GT(tried, 4);
  EXPECT_GT(best, 0.999);
}
