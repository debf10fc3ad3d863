#pragma once
// The statistics of a campaign's window slips on a sliding-energy landscape (stage campaign-stats,
// data_schema/stacking.md "Campaign statistics"), gathered image by image: the windows of one image
// are classified (left out below a confidence, basin of the folded landscape, pair of basins of the
// unfolded one) and added to histograms in fractions of the cell and in TED-Gen's (Da, Db). Every
// count is a whole number of windows (or a half, for the two members of a class), so the tallies
// of the ranks add up exactly in any order: 1 and N ranks give identical statistics.
#include <cstdint>
#include <optional>
#include <vector>

#include "tmdflow/analysis/landscape/basins.hpp"
#include "tmdflow/analysis/landscape/slip_density.hpp"
#include "tmdflow/sim/stacking_symmetry.hpp"

namespace tmdflow::analysis {

/// One window of a stacking map: its slip as fractions of the canonical a1, a2 (any member of its
/// class), TED-Gen's (Da, Db) (NaN when not known) and its confidence (NaN: not known, kept).
struct CampaignWindow {
  double slip_a = 0, slip_b = 0;
  double da_A = 0, db_A = 0;
  double confidence = 0;
};

/// What one image's windows give.
struct ImageTally {
  std::vector<std::int64_t> basin_count;      // kept windows per basin (folded landscape)
  std::vector<std::int32_t> window_basin;     // per window: its basin, -1 when left out
  std::int64_t kept = 0, low_confidence = 0, missing = 0;  // missing: no slip (NaN)
  double mean_confidence = 0;                 // over the windows with a slip and a confidence (NaN: none)
};

class CampaignTally {
 public:
  /// `folded`: basins of the folded landscape merged under the symmetry (one per stacking class);
  /// `unfolded`: basins of the landscape itself (pairs: the basins of a class's two members).
  CampaignTally(const sim::LabelSymmetry& symmetry, Basins folded, Basins unfolded, SlipHistogram fractions,
                std::optional<SlipHistogram> tedgen, double min_confidence);

  ImageTally add_image(const std::vector<CampaignWindow>& windows);

  /// Every count in one vector, to be summed over the ranks; then `set_counts` on each rank.
  std::vector<double> counts() const;
  void set_counts(const std::vector<double>& all);

  const Basins& folded() const { return folded_; }
  const Basins& unfolded() const { return unfolded_; }
  const SlipHistogram& fractions() const { return fractions_; }
  const std::optional<SlipHistogram>& tedgen() const { return tedgen_; }
  const std::vector<double>& basin_count() const { return basin_count_; }
  /// Kept windows per pair of unfolded basins [first * U + second], first <= second.
  const std::vector<double>& pair_count() const { return pair_count_; }
  double kept() const { return totals_[0]; }
  double low_confidence() const { return totals_[1]; }
  double missing() const { return totals_[2]; }
  double outside_tedgen() const { return totals_[3]; }  // kept windows with no (Da, Db) in TED-Gen's cell
  /// The unordered pair of unfolded basins of a slip's class members (first <= second).
  std::array<std::int32_t, 2> basin_pair(double slip_a, double slip_b) const;

 private:
  sim::LabelSymmetry symmetry_;
  Basins folded_, unfolded_;
  SlipHistogram fractions_;
  std::optional<SlipHistogram> tedgen_;
  double min_confidence_ = 0;
  std::vector<double> basin_count_, pair_count_;
  std::vector<double> totals_ = std::vector<double>(4, 0.0);
};

}  // namespace tmdflow::analysis
