#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/structure.hpp"

using namespace tmdflow::sim;

namespace {

using tmdflow::units::pi;

double circular_diff(double a, double b, double period) {
  double d = std::fmod(std::abs(a - b), period);
  return std::min(d, period - d);
}

std::vector<const Atom*> select(const Structure& s, Sublattice sub, int layer = -2, int domain = -1) {
  std::vector<const Atom*> out;
  for (const auto& a : s.atoms)
    if (a.sublattice == sub && (layer == -2 || a.layer == layer) && (domain < 0 || a.domain == domain)) out.push_back(&a);
  return out;
}

std::vector<const Column*> columns_of(const Structure& s, Sublattice sub, int layer = -2, int domain = -1) {
  std::vector<const Column*> out;
  for (const auto& c : s.columns)
    if (c.sublattice == sub && (layer == -2 || c.layer == layer) && (domain < 0 || c.domain == domain)) out.push_back(&c);
  return out;
}

bool interior(double x, double y, const Structure& s, double margin) {
  return x > margin && x < s.extent_x - margin && y > margin && y < s.extent_y - margin;
}

/// Vector from (x, y) to the nearest column among `cols`.
std::pair<double, double> to_nearest(double x, double y, const std::vector<const Column*>& cols) {
  double best = 1e300, bx = 0, by = 0;
  for (const auto* c : cols) {
    const double dx = c->x - x, dy = c->y - y, d2 = dx * dx + dy * dy;
    if (d2 < best) best = d2, bx = dx, by = dy;
  }
  return {bx, by};
}

bool has_column_at(double x, double y, const std::vector<const Column*>& cols, double tol = 1e-6) {
  for (const auto* c : cols)
    if (std::hypot(c->x - x, c->y - y) < tol) return true;
  return false;
}

/// Orientation of a layer measured from its atoms: metal -> nearest chalcogen column, for metals
/// away from the field edge; every such metal must give the same value.
double measured_phi(const Structure& s, int layer, int domain = -1, double margin = 6) {
  const auto chalcogens = columns_of(s, Sublattice::chalcogen, layer, domain);
  double phi = -1;
  for (const auto* m : columns_of(s, Sublattice::metal, layer, domain)) {
    if (!interior(m->x, m->y, s, margin)) continue;
    const auto [dx, dy] = to_nearest(m->x, m->y, chalcogens);
    const double p = orientation_from_vector(dx, dy);
    if (phi < 0) phi = p;
    EXPECT_LT(circular_diff(p, phi, 120), 1e-6) << "metal at " << m->x << "," << m->y;
  }
  return phi;
}

/// Labels agree with atoms: occupancy == atoms pointing at the column == non-zero Z slots, and the
/// defect kind matches what is missing.
void expect_columns_consistent(const Structure& s) {
  std::vector<int> count(s.columns.size(), 0);
  for (const auto& a : s.atoms) {
    if (a.layer == -1) continue;
    ASSERT_GE(a.column, 0);
    ASSERT_LT(std::size_t(a.column), s.columns.size());
    const Column& c = s.columns[std::size_t(a.column)];
    ++count[std::size_t(a.column)];
    EXPECT_EQ(a.x, c.x);
    EXPECT_EQ(a.y, c.y);
    EXPECT_EQ(a.layer, c.layer);
    EXPECT_EQ(a.domain, c.domain);
    EXPECT_EQ(a.sublattice, c.sublattice);
    EXPECT_TRUE(a.Z == c.Z[0] || (c.capacity == 2 && a.Z == c.Z[1]));
  }
  for (std::size_t k = 0; k < s.columns.size(); ++k) {
    const Column& c = s.columns[k];
    int present = 0;
    for (int i = 0; i < c.capacity; ++i) present += c.Z[i] != 0;
    ASSERT_EQ(c.occupancy, count[k]) << "column " << k;
    ASSERT_EQ(c.occupancy, present) << "column " << k;
    switch (c.defect) {
      case DefectKind::none: EXPECT_EQ(c.occupancy, c.capacity); break;
      case DefectKind::chalcogen_single_vacancy: EXPECT_EQ(c.occupancy, c.capacity - 1); break;
      case DefectKind::chalcogen_double_vacancy: EXPECT_EQ(c.occupancy, 0); break;
      case DefectKind::metal_vacancy: EXPECT_EQ(c.occupancy, 0); break;
      case DefectKind::dopant: EXPECT_EQ(c.occupancy, 1); break;
    }
    EXPECT_EQ(c.capacity, c.sublattice == Sublattice::metal ? 1 : 2);
  }
}

using Key = std::tuple<int, int, long long, long long, long long>;
std::vector<Key> atom_keys(const Structure& s) {
  std::vector<Key> k;
  for (const auto& a : s.atoms)
    k.emplace_back(a.layer, a.Z, std::llround(a.x * 1e6), std::llround(a.y * 1e6), std::llround(a.z * 1e6));
  std::sort(k.begin(), k.end());
  return k;
}

}  // namespace

// --------------------------------------------------------------------------------------------------

TEST(StructureMaterials, TableAndErrors) {
  const auto names = material_names();
  EXPECT_EQ(names.size(), 6u);
  const Material& mos2 = material("MoS2");
  EXPECT_EQ(mos2.metal_Z, 42);
  EXPECT_EQ(mos2.chalcogen_Z, 16);
  EXPECT_NEAR(mos2.a, 3.160, 0.001);
  EXPECT_NEAR(mos2.chalcogen_dz, 3.172, 0.002);
  EXPECT_NEAR(mos2.layer_spacing, 6.15, 0.01);
  EXPECT_NEAR(material("WSe2").chalcogen_dz, 3.34, 0.01);
  EXPECT_EQ(material("ReSe2").chalcogen_Z, 34);
  for (const auto& n : names) EXPECT_FALSE(material(n).source.empty()) << n;
  try {
    material("MoTe3");
    FAIL() << "unknown material accepted";
  } catch (const tmdflow::ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("MoTe3"), std::string::npos);
    EXPECT_NE(m.find("MoS2"), std::string::npos);
    EXPECT_NE(m.find("ReSe2"), std::string::npos);
  }
}

TEST(StructureMaterials, InvalidSpecsAreConfigErrors) {
  auto stack = [](auto edit) {
    StackSpec s;
    edit(s);
    return build_stack(s);
  };
  EXPECT_THROW(stack([](StackSpec& s) { s.layers = 0; }), tmdflow::ConfigError);
  EXPECT_THROW(stack([](StackSpec& s) { s.layers = 4; }), tmdflow::ConfigError);
  EXPECT_THROW(stack([](StackSpec& s) { s.stacking = "ABC"; }), tmdflow::ConfigError);
  EXPECT_THROW(stack([](StackSpec& s) { s.slip_a = {0.1}; }), tmdflow::ConfigError);  // monolayer has no slip
  EXPECT_THROW(stack([](StackSpec& s) { s.material = "ReS2", s.stacking = "2H"; }), tmdflow::ConfigError);  // 1T'': AA only
  EXPECT_THROW(stack([](StackSpec& s) { s.extent_x = 0; }), tmdflow::ConfigError);
  EXPECT_THROW(stack([](StackSpec& s) { s.defects.metal_vacancy = 1.5; }), tmdflow::ConfigError);
  EXPECT_THROW(stack([](StackSpec& s) { s.defects.chalcogen_single_vacancy = -0.1; }), tmdflow::ConfigError);
  EXPECT_THROW(stack([](StackSpec& s) { s.defects.dopant_fraction = 0.1; }), tmdflow::ConfigError);  // no dopant_Z
  EXPECT_THROW(stack([](StackSpec& s) { s.alloy.metal = {{74, 0.7}, {41, 0.4}}; }), tmdflow::ConfigError);
  EXPECT_THROW(stack([](StackSpec& s) { s.alloy.chalcogen = {{34, 1.2}}; }), tmdflow::ConfigError);
  TriclinicSpec t;
  t.defects.chalcogen_double_vacancy = 0.1;
  EXPECT_THROW(build_1t_double_prime(t), tmdflow::ConfigError);
  t = TriclinicSpec{};
  t.material = "MoS2";
  EXPECT_THROW(build_1t_double_prime(t), tmdflow::ConfigError);
  PolycrystalSpec p;
  p.phi_deg = {10, 20};
  EXPECT_THROW(build_polycrystal(p), tmdflow::ConfigError);
  p = PolycrystalSpec{};
  p.centre_x = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_THROW(build_polycrystal(p), tmdflow::ConfigError);
  Structure s = build_stack(StackSpec{});
  EXPECT_THROW(add_amorphous_layer(s, 6, 5.0, -5, 0, 1.4, 1), tmdflow::ConfigError);  // cannot be that dense
}

TEST(StructureOrientation, HelpersFollowTheConvention) {
  EXPECT_NEAR(orientation_from_vector(1, 0), 0, 1e-12);
  EXPECT_NEAR(orientation_from_vector(0, 1), 90, 1e-12);
  EXPECT_NEAR(orientation_from_vector(-1, 0), 60, 1e-12);
  EXPECT_NEAR(orientation_from_vector(0, -1), 30, 1e-12);
  EXPECT_NEAR(orientation_from_vector(std::cos(130 * pi / 180), std::sin(130 * pi / 180)), 10, 1e-9);
  Domain d10{0, 10, 0, 0}, d70{0, 70, 0, 0}, d130{0, 130, 0, 0}, dm50{0, -50, 0, 0};
  EXPECT_EQ(d10.polarity(), +1);
  EXPECT_EQ(d70.polarity(), -1);
  EXPECT_NEAR(d10.twist_deg(), 10, 1e-12);
  EXPECT_NEAR(d70.twist_deg(), 10, 1e-12);  // same twist, opposite polarity
  EXPECT_EQ(d130.polarity(), +1);          // 130 = 10 + 120: the same lattice
  EXPECT_EQ(dm50.polarity(), -1);          // -50 = 70 - 120
  EXPECT_NEAR(dm50.twist_deg(), 10, 1e-12);
}

TEST(StructureMonolayer, AtomCountMatchesArealDensity) {
  for (double phi : {0.0, 17.0, 30.0, 90.0}) {
    StackSpec spec;
    spec.phi_deg = phi;
    spec.extent_x = 200, spec.extent_y = 160;
    const Structure s = build_stack(spec);
    const double a = material("MoS2").a;
    const double expected = 3 * spec.extent_x * spec.extent_y / (a * a * std::sqrt(3.0) / 2);
    EXPECT_NEAR(double(s.atoms.size()) / expected, 1.0, 0.01) << "phi " << phi;
    const double ratio = double(select(s, Sublattice::chalcogen).size()) / double(select(s, Sublattice::metal).size());
    EXPECT_NEAR(ratio, 2.0, 0.04) << "phi " << phi;  // two chalcogens per metal, up to the field edge
    for (const auto& at : s.atoms) {
      ASSERT_GE(at.x, 0);
      ASSERT_LT(at.x, spec.extent_x);
      ASSERT_GE(at.y, 0);
      ASSERT_LT(at.y, spec.extent_y);
    }
    expect_columns_consistent(s);
    ASSERT_EQ(s.domains.size(), 1u);
    EXPECT_NEAR(s.domains[0].phi_deg, phi, 1e-12);
  }
}

TEST(StructureMonolayer, FieldHoldsEverySiteOfTheUnboundedLattice) {
  // Oracle: the unbounded lattice (metal at the field centre, a1 at phi - 30, a2 at phi + 30 deg,
  // chalcogen at (a1 + a2)/3) enumerated over a generous index range, cut to the field.
  for (double phi : {0.0, 13.0, 30.0, 58.0, 97.0}) {
    StackSpec spec;
    spec.phi_deg = phi;
    spec.extent_x = 47, spec.extent_y = 31;
    const Structure s = build_stack(spec);
    const double a = material("MoS2").a;
    const double a1x = a * std::cos((phi - 30) * pi / 180), a1y = a * std::sin((phi - 30) * pi / 180);
    const double a2x = a * std::cos((phi + 30) * pi / 180), a2y = a * std::sin((phi + 30) * pi / 180);
    std::size_t metals = 0, chalcogens = 0;
    for (int n1 = -60; n1 <= 60; ++n1)
      for (int n2 = -60; n2 <= 60; ++n2) {
        const double x = spec.extent_x / 2 + n1 * a1x + n2 * a2x, y = spec.extent_y / 2 + n1 * a1y + n2 * a2y;
        const double cx = x + (a1x + a2x) / 3, cy = y + (a1y + a2y) / 3;
        metals += x >= 0 && x < spec.extent_x && y >= 0 && y < spec.extent_y;
        chalcogens += cx >= 0 && cx < spec.extent_x && cy >= 0 && cy < spec.extent_y;
      }
    EXPECT_EQ(columns_of(s, Sublattice::metal).size(), metals) << "phi " << phi;
    EXPECT_EQ(columns_of(s, Sublattice::chalcogen).size(), chalcogens) << "phi " << phi;
  }
}

TEST(StructureMonolayer, MetalChalcogenProjectedDistanceAndHeights) {
  StackSpec spec;
  spec.material = "WSe2";
  spec.phi_deg = 23;
  const Structure s = build_stack(spec);
  const Material& m = material("WSe2");
  const auto chalcogens = columns_of(s, Sublattice::chalcogen);
  for (const auto* metal : columns_of(s, Sublattice::metal)) {
    if (!interior(metal->x, metal->y, s, 5)) continue;
    const auto [dx, dy] = to_nearest(metal->x, metal->y, chalcogens);
    EXPECT_NEAR(std::hypot(dx, dy), m.a / std::sqrt(3.0), 1e-9);
  }
  double zmin = 1e9;
  for (const auto& a : s.atoms) zmin = std::min(zmin, a.z);
  EXPECT_NEAR(zmin, 0, 1e-12);  // entrance surface at z = 0
  for (const auto& a : s.atoms) {
    const bool at_height = a.sublattice == Sublattice::metal
                               ? std::abs(a.z - m.chalcogen_dz / 2) < 1e-12
                               : std::abs(a.z) < 1e-12 || std::abs(a.z - m.chalcogen_dz) < 1e-12;
    EXPECT_TRUE(at_height) << a.z;
  }
  EXPECT_EQ(s.description, "WSe2 monolayer phi=23 50x50 A");
}

TEST(StructureMonolayer, PhiIsTheMetalToChalcogenAngle) {
  for (double phi : {0.0, 10.0, 45.0, 70.0, 100.0, 119.5, 250.0, -20.0}) {
    StackSpec spec;
    spec.phi_deg = phi;
    const Structure s = build_stack(spec);
    const double measured = measured_phi(s, 0);
    EXPECT_LT(circular_diff(measured, phi, 120), 1e-6) << "phi " << phi << " measured " << measured;
    // The three nearest chalcogen columns of a metal lie at phi, phi + 120, phi + 240.
    const auto chalcogens = columns_of(s, Sublattice::chalcogen);
    const double cx = s.extent_x / 2, cy = s.extent_y / 2;  // a metal site by construction
    int found = 0;
    for (const auto* c : chalcogens) {
      const double dx = c->x - cx, dy = c->y - cy;
      if (std::hypot(dx, dy) > material("MoS2").a / std::sqrt(3.0) + 1e-6) continue;
      const double angle = std::atan2(dy, dx) * 180 / pi;
      EXPECT_LT(circular_diff(angle, phi, 120), 1e-6);
      ++found;
    }
    EXPECT_EQ(found, 3) << "phi " << phi;
  }
}

TEST(StructureMonolayer, RotatingBy120GivesTheSameLatticeAnd60FlipsPolarity) {
  StackSpec a, b, c;
  a.phi_deg = 20, b.phi_deg = 140, c.phi_deg = 80;
  const auto ka = atom_keys(build_stack(a)), kb = atom_keys(build_stack(b));
  ASSERT_EQ(ka.size(), kb.size());
  std::size_t mismatched = 0;
  for (std::size_t i = 0; i < ka.size(); ++i) mismatched += ka[i] != kb[i];
  EXPECT_EQ(mismatched, 0u);
  // 60 deg exchanges the metal and chalcogen sublattices: the same metal sites, other chalcogens.
  const Structure sa = build_stack(a), sc = build_stack(c);
  const auto ca = columns_of(sa, Sublattice::chalcogen), cc = columns_of(sc, Sublattice::chalcogen);
  for (const auto* col : columns_of(sa, Sublattice::metal))
    EXPECT_TRUE(!interior(col->x, col->y, sa, 5) || has_column_at(col->x, col->y, columns_of(sc, Sublattice::metal)));
  int same = 0;
  for (const auto* col : ca) same += has_column_at(col->x, col->y, cc);
  EXPECT_EQ(same, 0);
}

// --------------------------------------------------------------------------------------------------

TEST(Stack, LayersAreSpacedAlongZWithLayerZeroAtTheEntrance) {
  StackSpec spec;
  spec.layers = 3;
  const Structure s = build_stack(spec);
  const Material& m = material("MoS2");
  double zmetal[3] = {-1, -1, -1};
  for (const auto& a : s.atoms)
    if (a.sublattice == Sublattice::metal) {
      if (zmetal[a.layer] < 0) zmetal[a.layer] = a.z;
      EXPECT_EQ(a.z, zmetal[a.layer]);
    }
  EXPECT_NEAR(zmetal[1] - zmetal[0], m.layer_spacing, 1e-9);
  EXPECT_NEAR(zmetal[2] - zmetal[1], m.layer_spacing, 1e-9);
  for (const auto& a : s.atoms) {
    EXPECT_GE(a.z, -1e-12);
    const double offset = std::abs(a.z - zmetal[a.layer]);
    EXPECT_NEAR(offset, a.sublattice == Sublattice::chalcogen ? m.chalcogen_dz / 2 : 0.0, 1e-9);
  }
  EXPECT_EQ(s.description, "MoS2 trilayer 2H phi=30 slip=(0,0;0,0) twist=(0;0) 50x50 A");
  expect_columns_consistent(s);
}

TEST(Stack, RegistryOf2H3RAndAA) {
  for (const std::string stacking : {"2H", "3R", "AA"}) {
    StackSpec spec;
    spec.layers = 3;
    spec.stacking = stacking;
    spec.phi_deg = 12;
    const Structure s = build_stack(spec);
    const auto m0 = columns_of(s, Sublattice::metal, 0), x0 = columns_of(s, Sublattice::chalcogen, 0);
    const auto m1 = columns_of(s, Sublattice::metal, 1), x1 = columns_of(s, Sublattice::chalcogen, 1);
    const auto m2 = columns_of(s, Sublattice::metal, 2);
    const double want_phi1 = stacking == "2H" ? 72 : 12;
    EXPECT_LT(circular_diff(measured_phi(s, 1), want_phi1, 120), 1e-6) << stacking;
    EXPECT_LT(circular_diff(measured_phi(s, 2), 12, 120), 1e-6) << stacking;
    int checked = 0;
    for (const auto* c : m1) {
      if (!interior(c->x, c->y, s, 5)) continue;
      ++checked;
      const bool over_metal = has_column_at(c->x, c->y, m0), over_chalcogen = has_column_at(c->x, c->y, x0);
      // AA: metal over metal; 2H and 3R: metal over the chalcogen below.
      const bool expected = stacking == "AA" ? over_metal && !over_chalcogen : over_chalcogen && !over_metal;
      EXPECT_TRUE(expected) << stacking;
    }
    EXPECT_GT(checked, 50);
    for (const auto* c : x1) {
      if (!interior(c->x, c->y, s, 5)) continue;
      const bool over_metal = has_column_at(c->x, c->y, m0), over_chalcogen = has_column_at(c->x, c->y, x0);
      // 2H (AA'): chalcogen over metal; 3R (AB): over the hollow; AA: eclipsed.
      const bool expected = stacking == "2H"   ? over_metal && !over_chalcogen
                            : stacking == "3R" ? !over_metal && !over_chalcogen
                                               : over_chalcogen && !over_metal;
      EXPECT_TRUE(expected) << stacking;
    }
    for (const auto* c : m2) {
      if (!interior(c->x, c->y, s, 5)) continue;
      const bool over_metal = has_column_at(c->x, c->y, m0), over_chalcogen = has_column_at(c->x, c->y, x0);
      // 3R (ABC): the third site; 2H (ABAB) and AA (AAA): over layer 0's metal.
      const bool expected = stacking == "3R" ? !over_metal && !over_chalcogen : over_metal;
      EXPECT_TRUE(expected) << stacking;
    }
  }
}

TEST(Stack, SlipMovesTheUpperLayerByFractionsOfA1) {
  StackSpec plain, slipped;
  plain.layers = slipped.layers = 2;
  plain.phi_deg = slipped.phi_deg = 37;
  slipped.slip_a = {0.5};
  slipped.slip_b = {0.0};
  const Structure s0 = build_stack(plain), s1 = build_stack(slipped);
  const double a = material("MoS2").a, angle = (37 - 30) * pi / 180;
  const double hx = 0.5 * a * std::cos(angle), hy = 0.5 * a * std::sin(angle);  // a1 / 2
  const auto plain_metals = columns_of(s0, Sublattice::metal, 1);
  int checked = 0;
  for (const auto* c : columns_of(s1, Sublattice::metal, 1)) {
    if (!interior(c->x, c->y, s1, 5)) continue;
    EXPECT_TRUE(has_column_at(c->x - hx, c->y - hy, plain_metals)) << c->x << "," << c->y;
    EXPECT_FALSE(has_column_at(c->x, c->y, plain_metals));
    ++checked;
  }
  EXPECT_GT(checked, 50);
  // The bottom layer does not move.
  EXPECT_EQ(columns_of(s0, Sublattice::metal, 0).size(), columns_of(s1, Sublattice::metal, 0).size());
  for (const auto* c : columns_of(s1, Sublattice::metal, 0))
    EXPECT_TRUE(has_column_at(c->x, c->y, columns_of(s0, Sublattice::metal, 0)));
}

TEST(Stack, TwistRotatesTheUpperLayerAboutItsMetalNearestTheCentre) {
  StackSpec spec;
  spec.layers = 2;
  spec.phi_deg = 30;
  spec.slip_a = {0.2};
  spec.slip_b = {0.1};
  spec.twist_deg = {7.5};
  const Structure s = build_stack(spec);
  EXPECT_LT(circular_diff(measured_phi(s, 0), 30, 120), 1e-6);
  EXPECT_LT(circular_diff(measured_phi(s, 1), 30 + 60 + 7.5, 120), 1e-6);
  EXPECT_EQ(s.description, "MoS2 bilayer 2H phi=30 slip=(0.2,0.1) twist=(7.5) 50x50 A");
  // The pivot, layer 1's metal nearest the centre, is where it was without twist.
  spec.twist_deg = {0};
  const Structure flat = build_stack(spec);
  auto nearest_centre = [](const Structure& st) {
    const auto [dx, dy] = to_nearest(st.extent_x / 2, st.extent_y / 2, columns_of(st, Sublattice::metal, 1));
    return std::pair<double, double>{dx, dy};
  };
  const auto p0 = nearest_centre(flat), p1 = nearest_centre(s);
  EXPECT_NEAR(p0.first, p1.first, 1e-9);
  EXPECT_NEAR(p0.second, p1.second, 1e-9);
}

// --------------------------------------------------------------------------------------------------

TEST(StructureAlloyDefects, AlloyFractionsPerSublattice) {
  StackSpec spec;
  spec.extent_x = spec.extent_y = 150;
  spec.alloy.metal = {{74, 0.3}};
  spec.alloy.chalcogen = {{34, 0.5}};
  spec.seed = 11;
  const Structure s = build_stack(spec);
  double metals = 0, w = 0, chalcogens = 0, se = 0;
  for (const auto& a : s.atoms) {
    if (a.sublattice == Sublattice::metal) metals += 1, w += a.Z == 74;
    else chalcogens += 1, se += a.Z == 34;
    EXPECT_TRUE(a.sublattice == Sublattice::metal ? a.Z == 42 || a.Z == 74 : a.Z == 16 || a.Z == 34) << a.Z;
  }
  EXPECT_NEAR(w / metals, 0.3, 4 * std::sqrt(0.21 / metals));
  EXPECT_NEAR(se / chalcogens, 0.5, 4 * std::sqrt(0.25 / chalcogens));
  // Each chalcogen atom is drawn on its own: mixed S+Se columns occur about half the time.
  double mixed = 0, pairs = 0;
  for (const auto* c : columns_of(s, Sublattice::chalcogen)) pairs += 1, mixed += c->Z[0] != c->Z[1];
  EXPECT_NEAR(mixed / pairs, 0.5, 4 * std::sqrt(0.25 / pairs));
  expect_columns_consistent(s);
  EXPECT_NE(s.description.find("alloy=W:0.3,Se:0.5"), std::string::npos) << s.description;
}

TEST(StructureAlloyDefects, DefectFractionsAndLabels) {
  StackSpec spec;
  spec.extent_x = spec.extent_y = 200;
  spec.defects.chalcogen_single_vacancy = 0.06;
  spec.defects.chalcogen_double_vacancy = 0.03;
  spec.defects.metal_vacancy = 0.02;
  spec.defects.dopant_Z = 41;
  spec.defects.dopant_fraction = 0.05;
  const Structure s = build_stack(spec);
  expect_columns_consistent(s);
  std::map<DefectKind, double> n;
  double metal_sites = 0, chalcogen_sites = 0;
  for (const auto& c : s.columns) {
    n[c.defect] += 1;
    (c.sublattice == Sublattice::metal ? metal_sites : chalcogen_sites) += 1;
    EXPECT_TRUE(c.defect != DefectKind::dopant || c.Z[0] == 41);
    const bool metal_defect = c.defect == DefectKind::metal_vacancy || c.defect == DefectKind::dopant;
    EXPECT_TRUE(!metal_defect || c.sublattice == Sublattice::metal);
    EXPECT_TRUE(c.defect != DefectKind::chalcogen_single_vacancy || (c.Z[0] == 0) != (c.Z[1] == 0));
  }
  auto near = [](double count, double sites, double p) { return std::abs(count / sites - p) < 4 * std::sqrt(p * (1 - p) / sites); };
  EXPECT_TRUE(near(n[DefectKind::chalcogen_single_vacancy], chalcogen_sites, 0.06));
  EXPECT_TRUE(near(n[DefectKind::chalcogen_double_vacancy], chalcogen_sites, 0.03));
  EXPECT_TRUE(near(n[DefectKind::metal_vacancy], metal_sites, 0.02));
  EXPECT_TRUE(near(n[DefectKind::dopant], metal_sites, 0.05));
  // Vacancies remove exactly the atoms the labels say.
  const double chalcogen_atoms = double(select(s, Sublattice::chalcogen).size());
  EXPECT_EQ(chalcogen_atoms,
            2 * chalcogen_sites - n[DefectKind::chalcogen_single_vacancy] - 2 * n[DefectKind::chalcogen_double_vacancy]);
  EXPECT_EQ(double(select(s, Sublattice::metal).size()), metal_sites - n[DefectKind::metal_vacancy]);
  // A single vacancy removes the top or the bottom atom, each about half the time; the other stays in place.
  double top_missing = 0;
  const double dz = material("MoS2").chalcogen_dz;
  for (const auto& a : s.atoms) {
    const Column& c = s.columns[std::size_t(a.column)];
    if (c.defect != DefectKind::chalcogen_single_vacancy) continue;
    top_missing += c.Z[0] == 0;
    EXPECT_NEAR(a.z, c.Z[0] == 0 ? dz : 0.0, 1e-12);
  }
  const double singles = n[DefectKind::chalcogen_single_vacancy];
  EXPECT_NEAR(top_missing / singles, 0.5, 4 * std::sqrt(0.25 / singles));
}

TEST(StructureAlloyDefects, DeterministicInTheSeed) {
  StackSpec spec;
  spec.layers = 2;
  spec.defects.chalcogen_single_vacancy = 0.05;
  spec.defects.metal_vacancy = 0.05;
  spec.alloy.metal = {{74, 0.5}};
  const Structure a = build_stack(spec), b = build_stack(spec);
  ASSERT_EQ(a.atoms.size(), b.atoms.size());
  for (std::size_t i = 0; i < a.atoms.size(); ++i) {
    const Atom &p = a.atoms[i], &q = b.atoms[i];
    ASSERT_TRUE(p.Z == q.Z && p.x == q.x && p.y == q.y && p.z == q.z && p.layer == q.layer && p.column == q.column) << i;
  }
  spec.seed = 2;
  const Structure c = build_stack(spec);
  EXPECT_NE(atom_keys(a), atom_keys(c));
}

TEST(StructureAlloyDefects, SiteFateDependsOnlyOnTheSiteNotOnTheField) {
  // One domain seeded at the same point: the same lattice sites in a small and a large field must get
  // the same species and defects, however many other sites are drawn.
  PolycrystalSpec small, large;
  small.domains = large.domains = 1;
  small.phi_deg = large.phi_deg = {25};
  small.centre_x = large.centre_x = {30};
  small.centre_y = large.centre_y = {30};
  small.extent_x = small.extent_y = 60;
  large.extent_x = large.extent_y = 110;
  for (auto* p : {&small, &large}) {
    p->defects.chalcogen_single_vacancy = 0.1;
    p->defects.metal_vacancy = 0.1;
    p->alloy.chalcogen = {{34, 0.4}};
    p->seed = 5;
  }
  const Structure s = build_polycrystal(small), l = build_polycrystal(large);
  std::map<std::pair<long long, long long>, const Column*> by_position;
  for (const auto& c : l.columns) by_position[{std::llround(c.x * 1e6), std::llround(c.y * 1e6)}] = &c;
  for (const auto& c : s.columns) {
    const auto it = by_position.find({std::llround(c.x * 1e6), std::llround(c.y * 1e6)});
    ASSERT_NE(it, by_position.end());
    EXPECT_EQ(c.defect, it->second->defect);
    EXPECT_EQ(c.Z[0], it->second->Z[0]);
    EXPECT_EQ(c.Z[1], it->second->Z[1]);
  }
}

// --------------------------------------------------------------------------------------------------

TEST(Polycrystal, DomainsFollowTheVoronoiSeedsAndKeepTheirDistance) {
  PolycrystalSpec spec;
  spec.extent_x = 120, spec.extent_y = 100;
  spec.domains = 6;
  spec.min_distance = 1.5;
  spec.seed = 3;
  const Structure s = build_polycrystal(spec);
  ASSERT_EQ(s.domains.size(), 6u);
  expect_columns_consistent(s);
  for (const auto& a : s.atoms) ASSERT_EQ(a.domain, domain_at(s, a.x, a.y)) << a.x << "," << a.y;
  for (std::size_t d = 0; d < s.domains.size(); ++d) {
    EXPECT_EQ(s.domains[d].id, int(d));
    EXPECT_GE(s.domains[d].phi_deg, 0);
    EXPECT_LT(s.domains[d].phi_deg, 120);
  }
  double closest = 1e9;
  for (std::size_t i = 0; i < s.atoms.size(); ++i)
    for (std::size_t j = i + 1; j < s.atoms.size(); ++j) {
      const Atom &p = s.atoms[i], &q = s.atoms[j];
      if (p.domain != q.domain) closest = std::min(closest, std::hypot(p.x - q.x, p.y - q.y));
    }
  EXPECT_GE(closest, spec.min_distance);
  EXPECT_LT(closest, 3.0);  // domains do meet
  // Only boundary atoms went: the count stays close to the areal density.
  const double a = material("MoS2").a;
  const double expected = 3 * spec.extent_x * spec.extent_y / (a * a * std::sqrt(3.0) / 2);
  EXPECT_GT(double(s.atoms.size()) / expected, 0.9);
  EXPECT_LT(double(s.atoms.size()) / expected, 1.0);
}

TEST(Polycrystal, TheHigherDomainGivesWayAtABoundary) {
  PolycrystalSpec spec;
  spec.extent_x = spec.extent_y = 80;
  spec.domains = 3;
  spec.phi_deg = {10, 50, 95};
  spec.centre_x = {20, 60, 40};
  spec.centre_y = {30, 30, 65};
  spec.min_distance = 0;
  const Structure all = build_polycrystal(spec);
  spec.min_distance = 2.0;
  const Structure cut = build_polycrystal(spec);
  std::size_t n_all[3] = {0, 0, 0}, n_cut[3] = {0, 0, 0};
  for (const auto& a : all.atoms) ++n_all[a.domain];
  for (const auto& a : cut.atoms) ++n_cut[a.domain];
  EXPECT_EQ(n_cut[0], n_all[0]);  // domain 0 yields to nobody
  EXPECT_LT(n_cut[1], n_all[1]);
  EXPECT_LT(n_cut[2], n_all[2]);
}

TEST(Polycrystal, EachDomainHasItsOwnOrientation) {
  PolycrystalSpec spec;
  spec.extent_x = spec.extent_y = 120;
  spec.domains = 4;
  spec.phi_deg = {5, 65, 100, 250};
  spec.centre_x = {30, 90, 30, 90};
  spec.centre_y = {30, 30, 90, 90};
  const Structure s = build_polycrystal(spec);
  const double want[] = {5, 65, 100, 10};
  for (int d = 0; d < 4; ++d) {
    EXPECT_NEAR(s.domains[std::size_t(d)].phi_deg, want[d], 1e-12);
    const auto chalcogens = columns_of(s, Sublattice::chalcogen, 0, d);
    int checked = 0;
    for (const auto* m : columns_of(s, Sublattice::metal, 0, d)) {
      if (std::hypot(m->x - s.domains[std::size_t(d)].centre_x, m->y - s.domains[std::size_t(d)].centre_y) > 20) continue;
      const auto [dx, dy] = to_nearest(m->x, m->y, chalcogens);
      EXPECT_LT(circular_diff(orientation_from_vector(dx, dy), want[d], 120), 1e-6) << "domain " << d;
      ++checked;
    }
    EXPECT_GT(checked, 20);
  }
  EXPECT_EQ(s.domains[0].polarity(), +1);
  EXPECT_EQ(s.domains[1].polarity(), -1);
  EXPECT_NEAR(s.domains[0].twist_deg(), s.domains[1].twist_deg(), 1e-12);
  EXPECT_EQ(domain_at(s, 100, 20), 1);
  EXPECT_EQ(domain_at(s, 10, 110), 2);
}

// --------------------------------------------------------------------------------------------------

TEST(ReS2, DiamondChainReReDistancesAndArealDensity) {
  TriclinicSpec spec;
  spec.extent_x = spec.extent_y = 150;
  const Structure s = build_1t_double_prime(spec);
  const auto re = select(s, Sublattice::metal);
  int short_bonds = 0, long_bonds = 0;
  for (const auto* p : re) {
    if (!interior(p->x, p->y, s, 6)) continue;
    for (const auto* q : re) {
      if (p == q) continue;
      const double d = std::hypot(p->x - q->x, p->y - q->y);
      if (d > 4.2) continue;
      EXPECT_GT(d, 2.6);
      EXPECT_FALSE(d > 2.95 && d < 3.5) << d;  // the gap between bonded and non-bonded Re
      short_bonds += d <= 2.95;
      long_bonds += d >= 3.5;
    }
  }
  EXPECT_GT(short_bonds, 0);
  EXPECT_GT(long_bonds, 0);
  // Four Re and eight S per cell of a b sin(gamma).
  const double cell_area = 6.352 * 6.446 * std::sin(118.97 * pi / 180);
  EXPECT_NEAR(double(s.atoms.size()) / (12 * spec.extent_x * spec.extent_y / cell_area), 1.0, 0.015);
  EXPECT_NEAR(2.0 * double(re.size()), double(select(s, Sublattice::chalcogen).size()), 0.02 * s.atoms.size());
  for (const auto& a : s.atoms) EXPECT_EQ(a.Z, a.sublattice == Sublattice::metal ? 75 : 16);
  EXPECT_EQ(s.description, "ReS2 1T'' monolayer rotation=0 150x150 A");
}

TEST(ReS2, ChalcogensAreSeparateColumnsAndRotationTurnsTheLayer) {
  TriclinicSpec spec;
  spec.extent_x = spec.extent_y = 40;
  spec.defects.chalcogen_single_vacancy = 0.1;
  spec.defects.metal_vacancy = 0.05;
  const Structure s = build_1t_double_prime(spec);
  const auto chalcogens = columns_of(s, Sublattice::chalcogen);
  double closest = 1e9;
  for (std::size_t i = 0; i < chalcogens.size(); ++i)
    for (std::size_t j = i + 1; j < chalcogens.size(); ++j)
      closest = std::min(closest, std::hypot(chalcogens[i]->x - chalcogens[j]->x, chalcogens[i]->y - chalcogens[j]->y));
  EXPECT_GT(closest, 0.3);  // no two chalcogens share a projected column
  for (const auto& c : s.columns) {
    EXPECT_EQ(c.capacity, 1);
    EXPECT_EQ(c.occupancy, c.defect == DefectKind::none ? 1 : 0);
  }
  std::vector<int> count(s.columns.size(), 0);
  for (const auto& a : s.atoms) ++count[std::size_t(a.column)];
  for (std::size_t k = 0; k < s.columns.size(); ++k) EXPECT_EQ(count[k], s.columns[k].occupancy);

  TriclinicSpec r0, r30;
  r0.extent_x = r0.extent_y = r30.extent_x = r30.extent_y = 60;
  r30.rotation_deg = 30;
  const Structure s0 = build_1t_double_prime(r0), s30 = build_1t_double_prime(r30);
  const auto re30 = columns_of(s30, Sublattice::metal);
  const double c = std::cos(30 * pi / 180), sn = std::sin(30 * pi / 180);
  int checked = 0;
  for (const auto* m : columns_of(s0, Sublattice::metal)) {
    if (std::hypot(m->x - 30, m->y - 30) > 20) continue;
    const double x = 30 + c * (m->x - 30) - sn * (m->y - 30), y = 30 + sn * (m->x - 30) + c * (m->y - 30);
    EXPECT_TRUE(has_column_at(x, y, re30, 1e-9));
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(ReS2, ReSe2LayerFromItsPublishedCell) {
  TriclinicSpec spec;
  spec.material = "ReSe2";
  spec.extent_x = spec.extent_y = 120;
  const Structure s = build_1t_double_prime(spec);
  const double cell_area = 6.6065 * 6.7196 * std::sin(118.93 * pi / 180);
  EXPECT_NEAR(double(s.atoms.size()) / (12 * spec.extent_x * spec.extent_y / cell_area), 1.0, 0.02);
  double zmin = 1e9, zmax = -1e9;
  for (const auto& a : s.atoms) zmin = std::min(zmin, a.z), zmax = std::max(zmax, a.z);
  EXPECT_NEAR(zmin, 0, 1e-12);
  EXPECT_GT(zmax, 3.0);  // Se-Re-Se sandwich
  EXPECT_LT(zmax, 3.8);
}

// --------------------------------------------------------------------------------------------------

TEST(StructureAmorphous, DensitySeparationAndLabels) {
  StackSpec spec;
  spec.extent_x = spec.extent_y = 60;
  Structure s = build_stack(spec);
  const std::size_t crystal = s.atoms.size();
  add_amorphous_layer(s, 6, 0.4, -8, 6, 1.3, 9);
  const std::size_t n = s.atoms.size() - crystal;
  EXPECT_EQ(n, std::size_t(std::llround(0.4 * 60 * 60)));
  double closest = 1e9;
  for (std::size_t i = crystal; i < s.atoms.size(); ++i) {
    const Atom& a = s.atoms[i];
    EXPECT_EQ(a.Z, 6);
    EXPECT_EQ(a.layer, -1);
    EXPECT_EQ(a.column, -1);
    EXPECT_EQ(a.sublattice, Sublattice::other);
    EXPECT_TRUE(a.x >= 0 && a.x < 60 && a.y >= 0 && a.y < 60 && a.z >= -8 && a.z <= -2);
    for (std::size_t j = i + 1; j < s.atoms.size(); ++j) {
      const Atom& b = s.atoms[j];
      closest = std::min(closest, std::sqrt((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y) + (a.z - b.z) * (a.z - b.z)));
    }
  }
  EXPECT_GE(closest, 1.3);
  Structure again = build_stack(spec);
  add_amorphous_layer(again, 6, 0.4, -8, 6, 1.3, 9);
  EXPECT_EQ(atom_keys(s), atom_keys(again));
  EXPECT_NE(s.description.find("amorphous C"), std::string::npos);
}

// layer_cell is the builders' lattice in a cell: every basis atom, placed at the field centre's
// lattice origin, coincides with a built atom of the same element and height.
TEST(StructureLayerCell, BasisMatchesTheBuiltLayers) {
  for (const std::string name : {"MoS2", "WSe2", "ReS2", "ReSe2"}) {
    const LayerCell c = layer_cell(name);
    Structure s;
    if (c.triclinic) {
      TriclinicSpec t;
      t.material = name, t.extent_x = t.extent_y = 30;
      s = build_1t_double_prime(t);
      EXPECT_EQ(c.basis.size(), 12u);
    } else {
      StackSpec t;
      t.material = name, t.phi_deg = 30, t.extent_x = t.extent_y = 30;
      s = build_stack(t);
      EXPECT_EQ(c.basis.size(), 3u);
    }
    for (const auto& b : c.basis) {
      const double x = 15 + b.u * c.a1[0] + b.v * c.a2[0], y = 15 + b.u * c.a1[1] + b.v * c.a2[1];
      bool found = false;
      for (const auto& a : s.atoms)
        if (a.Z == b.Z && std::hypot(a.x - x, a.y - y) < 1e-6 && std::abs(a.z - b.h) < 1e-6) found = true;
      EXPECT_TRUE(found) << name << " basis atom Z=" << b.Z << " at (" << b.u << ", " << b.v << ")";
    }
  }
  EXPECT_THROW(layer_cell("NbS3"), tmdflow::ConfigError);
}
