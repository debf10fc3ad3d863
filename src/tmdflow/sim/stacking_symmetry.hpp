#pragma once
// Which stacking labels give the same incoherent ADF image (data_schema/stacking.md, "Label
// symmetry"), so that a network is never asked to tell identical images apart.
//
// Labels live in the canonical frame (the bottom layer's lattice mapped onto sim::layer_cell's a1c,
// a2c): slip task (a_0, b_0[, a_1, b_1]) = interface slips (layer k+1 relative to layer k, minus
// the registry) as fractions of a1c, a2c; twist task (theta_deg), layer 1 relative to layer 0.
// Two labels are equivalent when stacks with them give the same image up to a translation. The
// incoherent image is the sum of the layers' images (depth does not matter), so the equivalences of
// an untwisted stack are the reorderings of its layers that leave a valid stack of the same kind,
// re-referenced to the new bottom layer, whose orientation may be either of those the lattice
// finder cannot tell apart (MX2: phi = 30 or 90); label_symmetry derives them that way.
//
// The class of a label can depend on the bottom layer's orientation in the canonical frame, which
// the image shows but the lattice finder does not: for MX2 3R the registry is t = (a1c + a2c)/3 on a
// phi-30 bottom and -t on a phi-90 one, so D == t - D on the one and D == -t - D on the other.
// Every other stacking has one group for both.
#include <string>
#include <vector>

namespace tmdflow::sim {

/// The labels that give the same image: y (size n) is equivalent to M_g y + c_g + k * period (per
/// component, k integer) for every g. The maps are affine: a 3R stack's registry makes the layer
/// reversal D -> t - D (t = (a1c + a2c)/3), so c_g is not always 0.
struct LabelSymmetry {
  int size = 0;
  std::vector<std::vector<double>> maps;     // each size*size, row-major; maps[0] = identity
  std::vector<std::vector<double>> offsets;  // each size (c_g); offsets[0] = 0
  std::vector<double> period;                // per component (0: not periodic)
  std::vector<double> metric;                // size*size: squared distance d^T G d in Angstrom^2 (slip) or deg^2 (twist)
  std::string task;                          // "slip" or "twist"
  int bottom = 0;                            // the bottom layer's orientation it holds for (see label_symmetry)
  std::string what;                          // e.g. "MoS2 bilayer 2H slip"
  /// One line: what, the number of equivalents and each map, e.g.
  /// "MoS2 bilayer 2H slip: 2 equivalents mod the lattice: (a0,b0) -> (a0,b0); (-a0,-b0)".
  std::string describe() const;
};

/// The orientations a bottom layer can have in the canonical frame: 2 for MX2 (0: phi 30, the
/// orientation of layer_cell's basis; 1: phi 90, its 60-degree turn), 1 for 1T'' (0: its 180-degree
/// turn is the same layer up to a translation, and the finder undoes a mirror).
int bottom_orientations(const std::string& material);

/// The symmetry of `task` ("slip" or "twist") for images of a stack of `layers` (2 or 3) layers of
/// `material` (sim::material) with registry `stacking` (MX2: 2H, 3R, AA; 1T'' ReS2/ReSe2: AA) whose
/// bottom layer has orientation `bottom` (0 .. bottom_orientations - 1; the group differs only for
/// MX2 3R). Twist: bilayers only. ConfigError naming the parameter otherwise.
LabelSymmetry label_symmetry(const std::string& material, int layers, const std::string& stacking, const std::string& task,
                             int bottom = 0);

/// The equivalent of y nearest `reference` (smallest d^T G d of y' - reference, lattice
/// translations included): y' = M_g y + c_g + k * period.
std::vector<double> nearest_equivalent(const LabelSymmetry& s, const std::vector<double>& reference, const std::vector<double>& y);

/// The canonical representative of y's class: its equivalent nearest 0 (ties: the lexicographically
/// largest). Slip: the shortest slip vectors; twist: theta in [0, 60] (MX2) or [0, 90] (1T'').
std::vector<double> fold_label(const LabelSymmetry& s, std::vector<double> y);

/// min over the equivalents b' of b of sqrt((a - b')^T G (a - b')): Angstrom (slip; a trilayer's two
/// interfaces together) or degrees (twist).
double label_distance(const LabelSymmetry& s, const std::vector<double>& a, const std::vector<double>& b);

/// sqrt(d^T G d) restricted to components [first, first + count) (e.g. one interface's slip).
double metric_length(const LabelSymmetry& s, const std::vector<double>& d, int first, int count);

}  // namespace tmdflow::sim
