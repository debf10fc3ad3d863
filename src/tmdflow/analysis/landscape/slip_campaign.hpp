#pragma once
// A campaign of bilayer window slips on a sliding-energy landscape, from the landscape to the
// written statistics (data_schema/stacking.md, "Campaign statistics"). Shared by the two ways a
// campaign is reduced: stage campaign-stats (one stacking/1 product of N images, images sharded
// over ranks, counts summed) and the campaign reduce of `tmdflow campaign` (one stacking/1 product
// per input, streamed one file at a time; campaign/stacking_reduction.hpp). Both go through the
// same landscape folding, basins, tally, product layout and figures, so they give the same numbers.
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tmdflow/analysis/landscape/basins.hpp"
#include "tmdflow/analysis/landscape/campaign_tally.hpp"
#include "tmdflow/analysis/landscape/energy_grid.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/sim/stacking_symmetry.hpp"

namespace tmdflow::analysis {

/// What a stacking/1 product (stage infer-stacking) of bilayer slips holds.
struct StackingMapsHeader {
  std::string material, stacking, source, task;
  std::int64_t layers = 0;
  std::int64_t images = 0, rows = 0, cols = 0;  // N images of R x K windows
  bool tedgen = false;                          // TED-Gen's (Da, Db) maps (ReS2, ReSe2)
  bool bilayer_slip() const { return task == "slip" && layers == 2; }
};

/// Reads and checks the header of a stacking/1 product group of bilayer slips. Throws InputError
/// naming the file and dataset when it is not a complete stacking/1 product, holds twists or a
/// trilayer's slips, or its maps are missing or of the wrong shape.
StackingMapsHeader inspect_stacking_maps(const io::h5::Group& g);

/// The windows of image n: slip_a, slip_b, (Da, Db) and confidence, row-major over the R x K grid.
/// Reads with independent transfers (safe on a file open on several ranks).
std::vector<CampaignWindow> read_stacking_windows(const io::h5::Group& g, const StackingMapsHeader& h, std::int64_t n);

/// The whole-image result of one image (infer-stacking's robust centre) and the file it came from.
struct SlipImage {
  std::string source_file;
  double slip_a = std::numeric_limits<double>::quiet_NaN(), slip_b = slip_a, da_A = slip_a, db_A = slip_a;
};

/// Every image's whole-image slips of a stacking/1 product (source_file left empty).
std::vector<SlipImage> read_stacking_images(const io::h5::Group& g, const StackingMapsHeader& h);

/// The built-in landscape estimate (sim::InterlayerEnergyModel: potential "ilp" or "lj", rigid layers)
/// on an na x nb grid of slips; only the grid rows [row_begin, row_end) are computed, the others are
/// 0 (to be summed over ranks). `source` describes it.
EnergyGrid builtin_landscape(const std::string& material, const std::string& stacking, const std::string& potential, int na, int nb,
                             std::int64_t row_begin, std::int64_t row_end, std::string& source);

struct SlipCampaignOptions {
  int basin_grid = 120;           // the landscape resampled to this many slips per axis for the basins
  double min_depth_meV = 2;       // shallower basins merge into their neighbour
  double min_confidence = 0.5;    // windows of lower confidence are left out (counted)
  int bins = 64;                  // histogram bins per axis of the cell (fractions)
  double tedgen_bin_A = 0.1;      // histogram bin in TED-Gen's (Da, Db)
  double bandwidth_A = 0.2;       // Gaussian kernel of the densities
  std::int64_t figure_points = 20000;  // at most about this many windows drawn in the PNG
};

/// One image's counts of windows.
struct SlipImageRow {
  std::int64_t kept = 0, low_confidence = 0, missing = 0;
  double mean_confidence = std::numeric_limits<double>::quiet_NaN();
};

class SlipCampaign {
 public:
  /// `landscape`: energies over the material's cell (any offset; its lowest point becomes 0).
  SlipCampaign(const std::string& material, const std::string& stacking, EnergyGrid landscape, std::string landscape_source,
               SlipCampaignOptions options);

  std::int64_t basins() const { return tally_.folded().count(); }
  const CampaignTally& tally() const { return tally_; }
  const std::string& material() const { return material_; }
  const std::string& stacking() const { return stacking_; }

  /// Planned use (every rank alike): the campaign's images, known up front, and its number of
  /// windows (for the figure's even sample). Then add_image() on any rank, counts() summed.
  void plan(std::vector<SlipImage> images, std::int64_t windows_total);
  /// Image n of the plan, its windows starting at campaign window `first_window`.
  ImageTally add_image(std::int64_t n, std::int64_t first_window, const std::vector<CampaignWindow>& windows);
  /// Streamed use (one process): images appended as they come; the figure's sample thins itself.
  ImageTally append_image(SlipImage image, const std::vector<CampaignWindow>& windows);

  /// Every count (tally, per-image rows, figure points) in one vector, to be summed over ranks that
  /// added disjoint images of one plan; then set_counts() on each rank.
  std::vector<double> counts() const;
  void set_counts(const std::vector<double>& all);

  std::int64_t images() const { return std::int64_t(images_.size()); }
  SlipImageRow image_row(std::int64_t n) const {
    const double* r = row(n);
    return {std::int64_t(r[0]), std::int64_t(r[1]), std::int64_t(r[2]), r[3]};
  }
  std::vector<double> basin_fraction() const;          // of all kept windows, per folded basin
  std::vector<double> image_basin_fraction(std::int64_t n) const;  // of image n's kept windows
  std::int32_t image_basin(std::int64_t n) const;       // basin of image n's whole-image slip (-1: none)

  /// "N images, W windows kept, L below confidence c, M without a slip; B basins: 0: x %, ...".
  std::string summary() const;

  /// Writes the statistics (every part of stacking_stats/1 but maps/: header attributes, landscape,
  /// basins, basin pairs, histograms and densities, images/) into `g`; `source` names the input.
  void write(const io::h5::Group& g, const std::string& source) const;
  /// DIR/STEM_campaign_landscape.png and DIR/STEM_campaign_density.png.
  void write_figures(const std::string& dir, const std::string& stem, const std::string& title_source) const;

 private:
  const double* row(std::int64_t n) const { return rows_.data() + n * columns(); }
  std::int64_t columns() const { return 4 + basins(); }
  void record(std::int64_t n, const ImageTally& t, std::int64_t first_window, const std::vector<CampaignWindow>& windows);

  std::string material_, stacking_, landscape_source_;
  SlipCampaignOptions options_;
  sim::LabelSymmetry symmetry_;
  std::array<double, 2> a1_{0, 0}, a2_{0, 0};
  EnergyGrid grid_, fine_, folded_;  // as given (lowest 0), on the basin grid, folded
  CampaignTally tally_;
  std::vector<SlipImage> images_;
  std::vector<double> rows_;      // per image: kept, low, missing, mean confidence, B basin counts
  // The figure's windows: every stride-th window of the campaign at slot window / stride
  // (present, slip_a, slip_b, Da, Db); streamed, the stride doubles when the slots run over.
  std::int64_t stride_ = 1;
  bool planned_ = false;
  std::int64_t windows_seen_ = 0;
  std::vector<double> points_;
};

}  // namespace tmdflow::analysis
