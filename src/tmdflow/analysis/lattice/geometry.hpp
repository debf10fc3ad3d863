#pragma once
// Small facts about 2-D lattices that the finder's steps share: the canonical choice of a
// hexagonal lattice's a1, a2, the basis form the hexagon searches index, and how far a lattice (or a
// linear map) is from a rotation and scale.
#include "tmdflow/analysis/lattice/reciprocal.hpp"

namespace tmdflow::analysis::lattice {

/// Ratio of the larger to the smaller singular value of the 2 x 2 matrix m (1 for a rotation and
/// scale, with or without a mirror).
double singular_value_ratio(const double m[2][2]);

/// The same lattice with b1, b2 its shortest vectors 60 deg apart (b2 counter-clockwise from b1),
/// the form the hexagon searches use: its sqrt(3) x sqrt(3) R30 sublattice is h = k (mod 3).
Reciprocal sixty_form(const Reciprocal& r);

/// Distortion of a lattice in sixty form from the hexagon on its b1 (singular-value ratio of the
/// map between them): 1 for a hexagonal lattice, ~1.03 for a 1T'' cell.
double anisotropy(const Reciprocal& r);

/// The canonical choice for a hexagonal lattice among its short vectors (short_vectors):
/// a1 the one at [-30, 30) deg, a2 the one at +60 deg from it.
void canonical_hexagon(const double shortest[3][2], double a1[2], double a2[2]);
void canonical_hexagon(const Reciprocal& r, double a1[2], double a2[2]);

}  // namespace tmdflow::analysis::lattice
