#pragma once
// Distributions of slips over a plane of two coordinates (data_schema/stacking.md, "Campaign
// statistics"): a 2-D histogram, whose counts add up across ranks, and the kernel density
// estimated from it. The plane is either the cell in fractions (slip_a, slip_b), periodic, or
// TED-Gen's (Da, Db) in Angstrom, a bounded oblique frame. A `Jacobian` turns coordinate steps into
// Cartesian Angstrom, so that the kernel is an isotropic Gaussian of the slip itself in both.
#include <array>
#include <cstdint>
#include <vector>

namespace tmdflow::analysis {

/// Bins nx x ny over [x0, x0 + nx dx) x [y0, y0 + ny dy); counts[iy * nx + ix]. Periodic planes
/// wrap coordinates into the range; bounded ones leave out what falls outside.
struct SlipHistogram {
  int nx = 0, ny = 0;
  double x0 = 0, dx = 1, y0 = 0, dy = 1;
  bool periodic = false;
  /// Cartesian Angstrom of a unit step along x (column 0) and y (column 1): [[Jxx, Jxy], [Jyx, Jyy]].
  std::array<double, 4> jacobian{1, 0, 0, 1};
  std::vector<double> counts;

  /// Adds `weight` at (x, y) to its bin (nearest-bin assignment, so that counts of whole windows
  /// stay exact and sum identically on any number of ranks); false when outside (bounded plane).
  bool add(double x, double y, double weight = 1);
  double total() const;
  /// Area of one bin in Angstrom^2.
  double bin_area_A2() const;
  std::vector<double> x_edges() const;
  std::vector<double> y_edges() const;
};

/// The cell in fractions of a1, a2 (Angstrom, (x, y)): nx x ny bins over [0, 1)^2, periodic.
SlipHistogram fraction_histogram(int nx, int ny, const std::array<double, 2>& a1_A, const std::array<double, 2>& a2_A);

/// TED-Gen's (Da, Db) plane (analysis::tedgen_da_db): x = Da, y = Db in Angstrom, bins of about
/// `bin_A` over the box that holds their fundamental cell; bounded.
SlipHistogram tedgen_histogram(double bin_A);

/// The Gaussian kernel density of a histogram's counts, per Angstrom^2 of slip: each bin's count
/// spread by a Gaussian of `bandwidth_A` (Cartesian, through the Jacobian; periodic planes wrap it,
/// bounded ones lose what leaves the box), normalised so that sum(density) * bin_area = 1 on a
/// periodic plane. A binned estimate: the bins add their width^2 / 12 to the kernel's variance.
std::vector<double> kernel_density(const SlipHistogram& histogram, double bandwidth_A);

/// TED-Gen's plane, inverted: (Da, Db) -> their Cartesian (x, y) (y up, Angstrom), which is plus or
/// minus the canonical slip (data_schema/stacking.md, "TED-Gen convention").
std::array<double, 2> tedgen_xy(double da_A, double db_A);
/// True when (Da, Db) is a point of their fundamental cell (tedgen_da_db gives it back).
bool in_tedgen_cell(double da_A, double db_A);

}  // namespace tmdflow::analysis
