#pragma once
// The lattice anchor of a window: where, within one cell of the window centre, the window's
// lattice-periodic image is brightest. A window cut anywhere in an image and the same window cut one
// anchor further on show the same periodic content at the same place, so a network that reads
// windows re-centred on their anchor never has to learn the lattice's translation (the stacking
// networks: data_schema/stacking.md, "Window anchor"). Training patches (make-trainset --anchor) and
// inference windows (infer-stacking with a model trained on them) are anchored by this one function.
//
// The periodic image is the window's projection on the lattice's harmonics g = h b1 + k b2
// (|h|, |k| <= 2, b the reciprocal vectors; Hann-tapered, mean removed); its maximum is searched on a
// grid over the cell and refined by parabolas. For a stack of identical centrosymmetric layers the
// periodic image is itself centrosymmetric, so its maximum may be one of two points related by that
// inversion: the two anchored windows are then the same window turned by 180 degrees, whose labels
// are equivalent (s and -s), and which of the two noise picks does not matter.
#include <array>

namespace tmdflow::sim {

/// The anchor of an n x n window of pixel_A (pixel (i, j) at x = (j - (n-1)/2) pixel_A, y = (i -
/// (n-1)/2) pixel_A from the window centre), whose lattice has base vectors a1, a2 (Angstrom, the
/// window's frame): the point (x, y) in Angstrom, inside the cell {u a1 + v a2 : u, v in [-1/2, 1/2)}.
std::array<double, 2> lattice_anchor(const float* window, int n, double pixel_A, const std::array<double, 2>& a1,
                                     const std::array<double, 2>& a2);

}  // namespace tmdflow::sim
