// Stacks of distorted 1T'' layers (ReS2, ReSe2) from build_stack: the AA registry, slips as exact
// lattice translations of the bottom layer's cell, non-cumulative trilayer offsets, twist about the
// pivot, atom counts and vacancies per layer, and the one-layer stack as the monolayer builder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/structure.hpp"

using namespace tmdflow::sim;

namespace {

using tmdflow::units::pi;

StackSpec res2(int layers) {
  StackSpec s;
  s.material = "ReS2";
  s.layers = layers;
  s.rotation_deg = 17;
  s.extent_x = 60, s.extent_y = 50;
  return s;
}

std::vector<const Atom*> layer_atoms(const Structure& s, int layer) {
  std::vector<const Atom*> out;
  for (const auto& a : s.atoms)
    if (a.layer == layer) out.push_back(&a);
  return out;
}

bool interior(double x, double y, const Structure& s, double margin) {
  return x > margin && x < s.extent_x - margin && y > margin && y < s.extent_y - margin;
}

/// An atom of `atoms` of element Z at (x, y) in projection (within tol)?
bool has_atom(const std::vector<const Atom*>& atoms, int Z, double x, double y, double tol = 1e-9) {
  for (const auto* a : atoms)
    if (a->Z == Z && std::abs(a->x - x) < tol && std::abs(a->y - y) < tol) return true;
  return false;
}

struct V2 {
  double x, y;
};

V2 base(const BaseVectors& v, double fa, double fb) { return {fa * v.a1[0] + fb * v.a2[0], fa * v.a1[1] + fb * v.a2[1]}; }

/// Every interior atom of layer `k` of `s` is an atom of layer 0 of `ref` moved by d (same element).
int count_translated(const Structure& s, int k, const Structure& ref, V2 d, double margin = 8) {
  const auto upper = layer_atoms(s, k), lower = layer_atoms(ref, 0);
  int checked = 0;
  for (const auto* a : upper) {
    if (!interior(a->x, a->y, s, margin)) continue;
    EXPECT_TRUE(has_atom(lower, a->Z, a->x - d.x, a->y - d.y)) << "layer " << k << " atom at " << a->x << "," << a->y;
    ++checked;
  }
  return checked;
}

}  // namespace

TEST(Stack1Tpp, AtomCountsPerLayerFollowTheCell) {
  const Structure s = build_stack(res2(3));
  const BaseVectors v = stack_base_vectors(res2(3));
  const double cell_area = std::abs(v.a1[0] * v.a2[1] - v.a1[1] * v.a2[0]);
  const double expected = 12 * 60 * 50 / cell_area;  // 4 Re + 8 S per cell
  for (int k = 0; k < 3; ++k) {
    const auto atoms = layer_atoms(s, k);
    EXPECT_NEAR(double(atoms.size()) / expected, 1.0, 0.02) << "layer " << k;
    const auto re = std::count_if(atoms.begin(), atoms.end(), [](const Atom* a) { return a->Z == 75; });
    EXPECT_NEAR(double(atoms.size() - re) / double(re), 2.0, 0.05) << "layer " << k;
  }
  EXPECT_TRUE(std::none_of(s.atoms.begin(), s.atoms.end(), [](const Atom& a) { return a.layer > 2 || a.layer < 0; }));
  EXPECT_EQ(s.description, "ReS2 trilayer AA rotation=17 slip=(0,0;0,0) twist=(0;0) 60x50 A");
}

TEST(Stack1Tpp, AARegistryPutsEveryAtomOverItsTwinOneLayerSpacingUp) {
  const Structure s = build_stack(res2(2));
  const auto lower = layer_atoms(s, 0), upper = layer_atoms(s, 1);
  ASSERT_EQ(lower.size(), upper.size());
  const double spacing = material("ReS2").layer_spacing;
  for (std::size_t i = 0; i < lower.size(); ++i) {
    // Same sites in the same order: Re over Re, S over S, exactly one spacing up.
    EXPECT_EQ(upper[i]->Z, lower[i]->Z);
    EXPECT_NEAR(upper[i]->x, lower[i]->x, 1e-12);
    EXPECT_NEAR(upper[i]->y, lower[i]->y, 1e-12);
    EXPECT_NEAR(upper[i]->z - lower[i]->z, spacing, 1e-12);
  }
  // The layer's cell origin is at the field centre and its a1, a2 are the rotated layer cell.
  const LayerCell cell = layer_cell("ReS2");
  const BaseVectors v = stack_base_vectors(res2(2));
  const double c = std::cos(17 * pi / 180), sn = std::sin(17 * pi / 180);
  EXPECT_NEAR(v.a1[0], c * cell.a1[0] - sn * cell.a1[1], 1e-12);
  EXPECT_NEAR(v.a1[1], sn * cell.a1[0] + c * cell.a1[1], 1e-12);
  EXPECT_NEAR(v.a2[0], c * cell.a2[0] - sn * cell.a2[1], 1e-12);
  EXPECT_NEAR(v.a2[1], sn * cell.a2[0] + c * cell.a2[1], 1e-12);
  const auto& b = cell.basis[0];
  const V2 first = base(v, b.u, b.v);
  EXPECT_TRUE(has_atom(lower, b.Z, 30 + first.x, 25 + first.y));
}

TEST(Stack1Tpp, SlipMovesLayerOneByExactlySlipAa1PlusSlipBa2) {
  StackSpec spec = res2(2);
  spec.slip_a = {0.31};
  spec.slip_b = {-0.17};
  const Structure s = build_stack(spec);
  const V2 d = base(stack_base_vectors(spec), 0.31, -0.17);
  EXPECT_GT(count_translated(s, 1, s, d), 300);
  // Layer 0 does not move.
  const Structure flat = build_stack(res2(2));
  const auto a = layer_atoms(s, 0), b = layer_atoms(flat, 0);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i]->x == b[i]->x && a[i]->y == b[i]->y);
}

TEST(Stack1Tpp, ALatticeVectorSlipChangesNothing) {
  const Structure flat = build_stack(res2(2));
  for (auto [sa, sb] : {std::pair{1.0, 0.0}, {0.0, -1.0}, {1.0, 1.0}}) {
    StackSpec spec = res2(2);
    spec.slip_a = {sa};
    spec.slip_b = {sb};
    const Structure s = build_stack(spec);
    ASSERT_EQ(s.atoms.size(), flat.atoms.size());
    for (std::size_t i = 0; i < s.atoms.size(); ++i) {
      ASSERT_EQ(s.atoms[i].Z, flat.atoms[i].Z);
      ASSERT_NEAR(s.atoms[i].x, flat.atoms[i].x, 1e-9);
      ASSERT_NEAR(s.atoms[i].y, flat.atoms[i].y, 1e-9);
      ASSERT_EQ(s.atoms[i].z, flat.atoms[i].z);
    }
  }
}

TEST(Stack1Tpp, TrilayerSlipsAreEachLayersOwnAndLayersStackOneSpacingApart) {
  StackSpec spec = res2(3);
  spec.material = "ReSe2";
  spec.slip_a = {0.2, -0.4};
  spec.slip_b = {0.1, 0.25};
  const Structure s = build_stack(spec);
  const BaseVectors v = stack_base_vectors(spec);
  EXPECT_GT(count_translated(s, 1, s, base(v, 0.2, 0.1)), 300);
  EXPECT_GT(count_translated(s, 2, s, base(v, -0.4, 0.25)), 300);  // relative to layer 0, not cumulative
  double zmin[3] = {1e9, 1e9, 1e9};
  for (const auto& a : s.atoms) zmin[a.layer] = std::min(zmin[a.layer], a.z);
  EXPECT_NEAR(zmin[0], 0, 1e-12);
  EXPECT_NEAR(zmin[1], material("ReSe2").layer_spacing, 1e-12);
  EXPECT_NEAR(zmin[2], 2 * material("ReSe2").layer_spacing, 1e-12);
}

TEST(Stack1Tpp, TwistTurnsTheLayerAboutItsCellOriginNearestTheCentre) {
  StackSpec spec = res2(2);
  spec.slip_a = {0.3};
  spec.slip_b = {0.6};
  const Structure straight = build_stack(spec);
  spec.twist_deg = {5};
  const Structure twisted = build_stack(spec);
  // The pivot: the lattice point slip_a a1 + slip_b a2 + n1 a1 + n2 a2 nearest the centre.
  const BaseVectors v = stack_base_vectors(spec);
  V2 pivot{1e9, 1e9};
  for (int n1 = -3; n1 <= 3; ++n1)
    for (int n2 = -3; n2 <= 3; ++n2) {
      const V2 p = base(v, 0.3 + n1, 0.6 + n2);
      if (std::hypot(p.x, p.y) < std::hypot(pivot.x, pivot.y)) pivot = p;
    }
  pivot = {30 + pivot.x, 25 + pivot.y};
  const double c = std::cos(5 * pi / 180), sn = std::sin(5 * pi / 180);
  const auto turned = layer_atoms(twisted, 1);
  int checked = 0;
  for (const auto* a : layer_atoms(straight, 1)) {
    const double dx = a->x - pivot.x, dy = a->y - pivot.y;
    const double x = pivot.x + c * dx - sn * dy, y = pivot.y + sn * dx + c * dy;
    if (!interior(x, y, twisted, 2) || !interior(a->x, a->y, straight, 2)) continue;
    EXPECT_TRUE(has_atom(turned, a->Z, x, y, 1e-9)) << a->x << "," << a->y;
    ++checked;
  }
  EXPECT_GT(checked, 300);
  // Layer 0 is untouched by the twist of layer 1.
  EXPECT_GT(count_translated(twisted, 0, straight, {0, 0}, 0), 300);
}

TEST(Stack1Tpp, OneLayerStackIsTheMonolayerWithTheSameDefects) {
  TriclinicSpec t;
  t.material = "ReSe2";
  t.rotation_deg = 33;
  t.extent_x = 40, t.extent_y = 45;
  t.defects.chalcogen_single_vacancy = 0.1;
  t.defects.metal_vacancy = 0.05;
  t.seed = 9;
  const Structure mono = build_1t_double_prime(t);
  StackSpec k;
  k.material = "ReSe2";
  k.rotation_deg = 33;
  k.extent_x = 40, k.extent_y = 45;
  k.defects = t.defects;
  k.seed = 9;
  const Structure one = build_stack(k);
  ASSERT_EQ(mono.atoms.size(), one.atoms.size());
  ASSERT_EQ(mono.columns.size(), one.columns.size());
  for (std::size_t i = 0; i < mono.columns.size(); ++i) {
    EXPECT_EQ(mono.columns[i].defect, one.columns[i].defect);
    EXPECT_EQ(mono.columns[i].x, one.columns[i].x);
  }
  EXPECT_EQ(mono.description, "ReSe2 1T'' monolayer rotation=33 40x45 A defects=VX:0.1,VM:0.05 seed=9");
}

TEST(Stack1Tpp, VacanciesUpToTenPercentInEveryLayer) {
  StackSpec spec = res2(3);
  spec.extent_x = spec.extent_y = 120;
  spec.defects.chalcogen_single_vacancy = 0.1;
  spec.seed = 4;
  const Structure s = build_stack(spec);
  for (int k = 0; k < 3; ++k) {
    int sites = 0, vacant = 0;
    for (const auto& c : s.columns)
      if (c.layer == k && c.sublattice == Sublattice::chalcogen) {
        ++sites;
        if (c.defect == DefectKind::chalcogen_single_vacancy) {
          ++vacant;
          EXPECT_EQ(c.occupancy, 0);
        }
      }
    EXPECT_NEAR(double(vacant) / sites, 0.1, 0.015) << "layer " << k;
  }
  // Each layer draws its own vacancies (site keys carry the layer).
  std::vector<DefectKind> d0, d1;
  for (const auto& c : s.columns) (c.layer == 0 ? d0 : c.layer == 1 ? d1 : d0).push_back(c.defect);
  EXPECT_NE(std::vector<DefectKind>(d0.begin(), d0.begin() + 200), std::vector<DefectKind>(d1.begin(), d1.begin() + 200));
}

TEST(Stack1Tpp, InvalidSpecsAreConfigErrors) {
  auto build = [](auto edit) {
    StackSpec s = res2(2);
    edit(s);
    return build_stack(s);
  };
  EXPECT_THROW(build([](StackSpec& s) { s.stacking = "2H"; }), tmdflow::ConfigError);
  EXPECT_THROW(build([](StackSpec& s) { s.stacking = "3R"; }), tmdflow::ConfigError);
  EXPECT_THROW(build([](StackSpec& s) { s.alloy.metal = {{42, 0.1}}; }), tmdflow::ConfigError);
  EXPECT_THROW(build([](StackSpec& s) { s.defects.chalcogen_double_vacancy = 0.1; }), tmdflow::ConfigError);
  EXPECT_THROW(build([](StackSpec& s) { s.rotation_deg = NAN; }), tmdflow::ConfigError);
  EXPECT_THROW(build([](StackSpec& s) { s.slip_a = {0.1, 0.2}; }), tmdflow::ConfigError);
  EXPECT_NO_THROW(build([](StackSpec& s) { s.stacking = "AA"; }));
}
