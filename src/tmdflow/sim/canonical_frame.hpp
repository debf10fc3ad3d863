#pragma once
// Where a patch's bottom-layer lattice lies relative to the canonical frame (data_schema/stacking.md):
// the lattice basis nearest the ideal cell of sim::layer_cell, the rotation and scale between them,
// and the bottom layer's orientation as the canonical frame sees it. Training turns a patch's
// Cartesian slip labels into the fractions a stacking network predicts with it.
#include <array>

#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

struct CanonicalBasis {
  std::array<double, 2> s1{0, 0}, s2{0, 0};  // the basis of the patch's lattice nearest a1c, a2c (Angstrom)
  double rotation_deg = 0;                   // of s1 from +x (counter-clockwise)
  double scale = 1;                          // sqrt(|s1 x s2| / |a1c x a2c|)
  /// The bottom layer's orientation in the canonical frame (stacking_symmetry.hpp): MX2 0 (phi 30)
  /// or 1 (phi 90); 1T'' 0.
  int bottom = 0;
};

/// The patch's lattice (base vectors a1, a2 in the patch frame, any basis of it) and the bottom
/// layer's orientation phi_deg (structures.md; unused for 1T'') seen against `cell`: s1, s2 are the
/// integer combinations of a1, a2 nearest a1c, a2c (round(inverse(a1 a2) (a1c a2c))). Meaningful when
/// the patch is near the canonical frame (a rotation well under 30 degrees, 1T'': under 90).
CanonicalBasis canonical_basis(const LayerCell& cell, const std::array<double, 2>& a1, const std::array<double, 2>& a2, double phi_deg);

/// (x, y) = f1 s1 + f2 s2: the fractions (f1, f2) of a Cartesian vector in the basis.
std::array<double, 2> lattice_fractions(const CanonicalBasis& b, double x, double y);

}  // namespace tmdflow::sim
