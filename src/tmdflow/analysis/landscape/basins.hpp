#pragma once
// The basins of a sliding-energy landscape (data_schema/stacking.md, "Campaign statistics"): the
// attraction basins of its minima on the periodic grid of slips, and the landscape as images see it.
//
// An image cannot tell a slip from its equivalents under the stacking's label symmetry (ReS2: s and
// -s), but their energies differ (data_schema/landscape.md, "Symmetries"). Statistics of slips read
// from images therefore use the *folded* landscape E_G(s) = min over the equivalents g(s) of E:
// every window is taken to sit in the lower-energy member of its class. E_G has the symmetry of the
// labels, so its basins come in classes that the symmetry maps onto each other; a class is one
// stacking basin.
#include <array>
#include <cstdint>
#include <vector>

#include "tmdflow/analysis/landscape/energy_grid.hpp"
#include "tmdflow/sim/stacking_symmetry.hpp"

namespace tmdflow::analysis {

/// The landscape on a periodic na x nb grid (slip_a = ia / na), by the grid's bicubic
/// interpolation; the grid itself where the sizes agree.
EnergyGrid resample_landscape(const EnergyGrid& grid, int na, int nb);

/// E_G(s) = min over the equivalents g(s) of E(s), on the grid's own points: a bilayer slip symmetry
/// (size 2) maps fractions (a, b) to M_g (a, b) + c_g; members that fall between grid points are
/// interpolated. ConfigError for a symmetry that is not a bilayer slip's.
EnergyGrid fold_landscape(const EnergyGrid& grid, const sim::LabelSymmetry& symmetry);

/// The member of a bilayer slip's class (index g of symmetry.maps) as fractions.
std::array<double, 2> equivalent_slip(const sim::LabelSymmetry& symmetry, std::size_t g, double slip_a, double slip_b);

/// Basins on a periodic grid: label[ib * na + ia] in 0 .. count() - 1, numbered by their lowest
/// energy (lowest first, ties by grid index).
struct Basins {
  int na = 0, nb = 0;
  std::vector<std::int32_t> label;
  std::vector<LandscapePoint> minimum;  // the lowest grid point of each basin
  std::vector<std::int32_t> regions;    // attraction basins merged into each (1 unless by symmetry)
  /// Where two basins touch: the lowest grid energy of the pass between them (first < second).
  struct Saddle {
    std::int32_t first = 0, second = 0;
    double energy_meV = 0;
  };
  std::vector<Saddle> saddles;
  int count() const { return int(minimum.size()); }
  /// The lowest saddle from basin b to any other basin, minus b's minimum (infinity when none):
  /// how deep the basin is.
  double escape_meV(std::int32_t b) const;
  /// The basin of a slip: the grid point nearest (periodic) in fractions.
  std::int32_t at(double slip_a, double slip_b) const;
};

/// Attraction basins by flooding the periodic grid from its lowest point up (8-neighbours): a
/// point joins the basin of its lowest flooded neighbour; where two basins meet, the one whose
/// minimum lies less than `min_depth_meV` below the meeting point is merged into the other (a dip
/// of the grid's noise or interpolation is no basin). Without merging (min_depth_meV = 0) these are
/// the steepest-descent basins of the grid's local minima.
Basins watershed_basins(const EnergyGrid& grid, double min_depth_meV);

/// Merges the basins that the symmetry maps onto one another (basin b and the basin holding g of
/// b's minimum, for every g), renumbered lowest first; `regions` counts the merged basins. On a
/// folded landscape this gives one basin per class of stacking.
Basins merge_equivalent_basins(const Basins& basins, const sim::LabelSymmetry& symmetry);

}  // namespace tmdflow::analysis
