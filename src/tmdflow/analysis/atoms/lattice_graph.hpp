#pragma once
// The lattice graph of an MX2 monolayer from the atom columns found in an image (issue #17,
// classify-sites). Projected along c, a 1H layer is a honeycomb: every metal column has three
// chalcogen columns at the bond length b = a / sqrt(3), 120 degrees apart, and every chalcogen
// column three metal columns in the opposite directions. Nothing about the lattice is fitted
// globally, so strain, rotation, grain boundaries and missing columns are followed locally:
//   1. bonds: pairs of columns (1 +- tolerance) b apart (b: given, or the median nearest-neighbour
//      distance of the columns);
//   2. sublattices: a column's three bonds point along theta, theta + 120, theta + 240 on one
//      sublattice and theta + 60, ... on the other, so the three-fold phase of its bonds,
//      sum exp(3 i phi), flips sign between them; around each column (within 3 b) the columns of
//      the same sign are its sublattice, the others the other one (this holds within a grain and
//      between grains turned by less than 30 degrees; nothing propagates along bonds, so a wrong
//      bond across a boundary mislabels no more than its own columns);
//   3. which is the metal: HAADF intensity grows as about Z^1.7, so the sublattice of the brighter
//      local mean is the metal when `metal_brighter` (MoS2, WS2, WSe2: metal 573-1514 vs chalcogen
//      pair 222-804; Mo/W-S/Se alloys on average) and the dimmer one otherwise (MoSe2: Mo 573 vs Se2 804);
//   4. empty sites: every column predicts its three bonded neighbours from its own bond directions
//      and the local bond length; predictions with no column within `empty_tolerance` b, made by at
//      least `min_support` columns and inside the field, are merged into one empty site each (a
//      metal vacancy, or a chalcogen column with both atoms missing).
// Coordinates are pixels (x the column, y the row), as segment-atoms reports them.
#include <array>
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::atoms {

enum class Sublattice : std::int8_t { metal = 0, chalcogen = 1, unknown = -1 };

struct LatticeGraphSpec {
  double bond_px = 0;              // metal-chalcogen distance a / sqrt(3) [pixels]; 0: from the columns
  double bond_tolerance = 0.25;    // bonds are (1 +- this) x bond_px long
  double empty_tolerance = 0.4;    // a prediction within this x bond_px of a column is that column
  int min_support = 2;             // columns that must predict an empty site
  bool metal_brighter = true;      // see 3. above
  double width_px = 0, height_px = 0;  // the field: empty sites outside it are dropped; 0: the columns' bounding box
  double edge_px = 0;              // and empty sites closer than this to the field's edge (where no column was looked for)
};

struct LatticeSite {
  double x = 0, y = 0;
  Sublattice sublattice = Sublattice::unknown;
  std::int64_t column = -1;        // index of the input column; -1: an empty site
  int support = 0;                 // empty sites: columns that predicted it
  std::array<std::int64_t, 3> bonds{-1, -1, -1};  // bonded sites (found columns), -1: none
};

struct LatticeGraph {
  std::vector<LatticeSite> sites;  // the input columns in their order, then the empty sites
  double bond_px = 0;              // the bond length used
  std::int64_t columns = 0;        // input columns (= the first sites)
  std::int64_t unbonded = 0;       // columns with no usable bond (their sublattice is unknown)
  std::int64_t components = 0;     // connected components of the bond graph (with >= 1 bond)
};

/// `intensity`: each column's integrated intensity (any linear scale). Throws ConfigError for bad
/// input (sizes that differ, fewer than 3 columns, non-finite values, bad spec values).
LatticeGraph build_lattice_graph(const std::vector<double>& x, const std::vector<double>& y,
                                 const std::vector<double>& intensity, const LatticeGraphSpec& spec);

}  // namespace tmdflow::analysis::atoms
