#pragma once
// What a stacking map says as a whole: the labels of many windows (slips as fractions of the
// canonical cell, or twist angles) live on a quotient space -- a label is equivalent to its images
// under the stacking's label symmetry (sim/stacking_symmetry.hpp) -- so averages, medians and
// neighbour differences must be taken between the nearest equivalents, never between raw values.
// Here: a robust centre of many labels, the windows whose neighbours differ (stacking boundaries),
// and TED-Gen's (Da, Db) convention. (Nearest equivalents and distances: sim/stacking_symmetry.hpp.)
#include <array>
#include <cstdint>
#include <vector>

#include "tmdflow/sim/stacking_symmetry.hpp"

namespace tmdflow::analysis {

/// A robust centre of labels (one per window; NaN entries are skipped): the medoid of up to
/// `max_candidates` evenly spread labels (least sum of distances capped at `cap`), every label
/// brought to its equivalent nearest the medoid, then a Huber-weighted mean (scale `cap` / 3)
/// around the component-wise median. `spread` is the median distance of the labels to the centre;
/// `inliers` the fraction within `cap` of it. With `weights` (one per label, >= 0; e.g. the physics
/// fit's confidence of each window) the medoid's score, the median and the mean weigh each label by
/// its weight, so windows the model does not explain do not outvote those it does; spread and
/// inliers still count every label. All-zero weights count as equal.
struct RobustCentre {
  std::vector<double> label;
  double spread = 0;
  double inliers = 0;
  std::int64_t count = 0;  // labels used (finite)
};
RobustCentre robust_centre(const sim::LabelSymmetry& symmetry, const std::vector<std::vector<double>>& labels, double cap,
                           std::int64_t max_candidates = 256, const std::vector<double>& weights = {});

/// Stacking boundaries on a map of window labels (rows x cols, row-major; a label per window, NaN
/// entries count as missing): 1 where the distance to one of the four neighbours exceeds
/// `threshold` (Angstrom or degrees), else 0.
std::vector<std::uint8_t> boundary_cells(const sim::LabelSymmetry& symmetry, const std::vector<std::vector<double>>& labels,
                                         std::int64_t rows, std::int64_t cols, double threshold);

/// TED-Gen's (Da, Db) of a bilayer ReS2 slip (Huang et al. 2025; their Stacking-Pattern-Analyzer
/// `shift_trans`): the Cartesian slip (dx along the Re-chain vector a1, dy such that a2 has dy > 0,
/// Angstrom, as in their file names) folded into their cell with their rounded ReS2 constants (6.42,
/// 3.21, 5.71 A; 119.8 deg), then Db = the component along a1 and Da = the component along their second
/// axis at 119.8 deg, both in Angstrom. NaN, NaN when their fold leaves no point (it can, at edges).
/// Documented with its derivation in data_schema/stacking.md ("TED-Gen convention").
std::array<double, 2> tedgen_da_db(double dx_A, double dy_A);

}  // namespace tmdflow::analysis
