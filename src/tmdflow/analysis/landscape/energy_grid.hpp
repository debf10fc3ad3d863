#pragma once
// A potential-energy landscape of interlayer sliding (data_schema/landscape.md): energies on a
// regular grid of slips (slip_a, slip_b) in [0, 1)^2, fractions of the bottom layer's base vectors
// a1, a2, periodic in both; its interpolation, minima and the barrier of sliding; and the readers of
// landscapes made elsewhere (CSV, HDF5: e.g. from DFT).
#include <array>
#include <string>
#include <vector>

namespace tmdflow::analysis {

struct EnergyGrid {
  int na = 0, nb = 0;                  // grid points along a1 (slip_a = ia / na) and a2 (slip_b = ib / nb)
  std::vector<double> energy_meV;      // [ib * na + ia]
  std::array<double, 2> a1_A{0, 0}, a2_A{0, 0};  // base vectors in Angstrom (0, 0: unknown)
  double at(int ia, int ib) const;     // periodic indices
  /// Periodic bicubic (Catmull-Rom) interpolation at fractional slips.
  double interpolate(double slip_a, double slip_b) const;
  double min() const;
  double max() const;
};
/// Throws InputError (naming `where`) unless the grid is at least 3 x 3 and every energy finite.
void validate(const EnergyGrid& grid, const std::string& where);

struct LandscapePoint {
  double slip_a = 0, slip_b = 0, energy_meV = 0;
};

/// Local minima on the periodic grid (lower than their 8 neighbours, ties broken by index, and a
/// positive-definite finite-difference Hessian), each refined to the vertex of the quadratic
/// through its neighbours; lowest first.
std::vector<LandscapePoint> landscape_minima(const EnergyGrid& grid);

/// The barrier of sliding: the lowest energy at which the low region around the global minimum
/// connects to its own copy one lattice vector away (a path of grid steps, 8-neighbourhood, that
/// winds around the periodic cell), found by flooding the grid from the bottom (union-find with the
/// winding of each point). `saddle` is the grid point that closed the path; the barrier is its energy
/// minus the global minimum's.
struct SlidingBarrier {
  double barrier_meV = 0;
  LandscapePoint saddle;
  int winding_a = 0, winding_b = 0;    // the lattice vector of the path (in a1, a2)
};
SlidingBarrier sliding_barrier(const EnergyGrid& grid);

/// Reads a grid from a CSV file of lines slip_a,slip_b,energy_meV (a header line naming these
/// columns first; '#' comments) covering a regular grid of [0, 1)^2 in any order.
EnergyGrid read_energy_grid_csv(const std::string& path);

/// Reads a grid from HDF5 ("FILE.h5:/path"): a landscape/1 product group (its energy_meV, a1_A,
/// a2_A), or a 2-D dataset [nb, na] of energies in meV over [0, 1)^2.
EnergyGrid read_energy_grid_h5(const std::string& spec);

}  // namespace tmdflow::analysis
