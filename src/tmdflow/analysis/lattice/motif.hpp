#pragma once
// Which of a pseudo-hexagonal lattice's short vectors is the layer cell's a1, and whether the image
// shows the layer or its mirror image: the lattice's metric barely tells (the three short vectors of
// a 1T'' cell differ by ~1.5 %), the motif does. Each assignment (a1 along one of the three
// directions, modulo 180 deg; a2 at the cell's angle from it or at minus that angle) predicts the
// Fourier coefficients of the image's lattice from the monolayer's projected atoms; the one whose
// prediction correlates best, over every translation of the motif, wins. A stack of layers of one
// orientation is a sum of translated copies of the motif, so its correlation peaks at each copy and
// the comparison holds for any slip (data_schema/stacking.md, "Lattice and canonical frame").
#include <vector>

#include "tmdflow/analysis/lattice/spectrum.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::analysis::lattice {

struct MotifAssignment {
  double a1[2] = {0, 0}, a2[2] = {0, 0};  // image pixels (x = column, y = row)
  bool mirrored = false;                  // a2 at minus the cell's angle from a1
  double score = 0;                       // fraction of the lattice coefficients' power the motif explains
};

/// Every assignment of `cell`'s a1, a2 to the lattice whose three short vectors (pixels; any signs)
/// are `shortest`, a1 taken with its angle in [-90, 90); best first. The image's coefficients out to
/// `max_radius` (cycles per pixel) are modelled as `copies` translated copies of the motif (the
/// layers of a stack); the motif's atoms are points weighted by Z^1.7 (the HAADF contrast) under a
/// Gaussian blur, the best of a few widths (the probe is not known here).
std::vector<MotifAssignment> rank_motif_assignments(const Spectrum& spectrum, const double shortest[3][2],
                                                    const sim::LayerCell& cell, double max_radius, int copies);

}  // namespace tmdflow::analysis::lattice
