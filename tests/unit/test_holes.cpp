// Holes in a simulated film (sim/holes.hpp): drawn inside the scanned area, apart, the same for a
// seed; cutting them leaves no atom or column inside and keeps atoms pointing at their columns.
#include <gtest/gtest.h>

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/holes.hpp"

using namespace tmdflow::sim;

TEST(Holes, DrawnWholeInsideTheAreaAndApart) {
  const HoleSpec spec{4, 20.0};
  const auto holes = draw_holes(spec, 100, 50, 300, 200, 9);
  ASSERT_EQ(holes.size(), 4u);
  for (std::size_t a = 0; a < holes.size(); ++a) {
    EXPECT_GE(holes[a].x_A, 100 + 20 - 1e-9);
    EXPECT_LE(holes[a].x_A, 400 - 20 + 1e-9);
    EXPECT_GE(holes[a].y_A, 50 + 20 - 1e-9);
    EXPECT_LE(holes[a].y_A, 250 - 20 + 1e-9);
    for (std::size_t b = 0; b < a; ++b) EXPECT_GE(std::hypot(holes[a].x_A - holes[b].x_A, holes[a].y_A - holes[b].y_A), 50.0 - 1e-9);
  }
  const auto again = draw_holes(spec, 100, 50, 300, 200, 9);
  EXPECT_EQ(again[2].x_A, holes[2].x_A);
  EXPECT_NE(draw_holes(spec, 100, 50, 300, 200, 10)[0].x_A, holes[0].x_A);
  EXPECT_TRUE(draw_holes(HoleSpec{0, 20.0}, 0, 0, 10, 10, 1).empty());
  EXPECT_THROW(validate(HoleSpec{-1, 20.0}), tmdflow::ConfigError);
  EXPECT_THROW(validate(HoleSpec{max_holes + 1, 20.0}), tmdflow::ConfigError);
  EXPECT_NO_THROW(validate(HoleSpec{0, 0.0}));  // no holes: the radius does not matter
  EXPECT_THROW(validate(HoleSpec{2, 0.0}), tmdflow::ConfigError);
}

TEST(Holes, CuttingLeavesVacuumAndConsistentColumns) {
  PolycrystalSpec c;
  c.extent_x = c.extent_y = 120;
  c.domains = 3;
  Structure s = build_polycrystal(c);
  const std::size_t atoms_before = s.atoms.size();
  const std::vector<Hole> holes{{40, 40, 15}, {90, 80, 10}};
  cut_holes(s, holes);
  const double removed = double(atoms_before - s.atoms.size());
  // Removed atoms in proportion to the holes' area (within 15%).
  const double area = 3.14159265358979323846 * (15 * 15 + 10 * 10);
  EXPECT_NEAR(removed / double(atoms_before), area / (120.0 * 120.0), 0.15 * area / (120.0 * 120.0));
  for (const auto& a : s.atoms) {
    EXPECT_FALSE(in_hole(holes, a.x, a.y));
    if (a.column >= 0) {
      ASSERT_LT(std::size_t(a.column), s.columns.size());
      EXPECT_NEAR(s.columns[std::size_t(a.column)].x, a.x, 1e-9);
      EXPECT_NEAR(s.columns[std::size_t(a.column)].y, a.y, 1e-9);
    }
  }
  for (const auto& col : s.columns) EXPECT_FALSE(in_hole(holes, col.x, col.y));
  EXPECT_NE(s.description.find("holes=2"), std::string::npos);
}
