#pragma once
// The PNG figures of campaign-stats (data_schema/stacking.md, "Campaign statistics"): the windows'
// slips as points over the folded landscape's contours with the basins outlined, in fractions of
// the cell and in TED-Gen's (Da, Db); and the kernel densities in both planes.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/analysis/landscape/campaign_tally.hpp"

namespace tmdflow::analysis {

struct CampaignFigureInput {
  std::string material, title_source;
  const analysis::EnergyGrid* folded = nullptr;     // the folded landscape on the basin grid
  const analysis::CampaignTally* tally = nullptr;   // basins, histograms
  std::vector<double> fraction_density, tedgen_density;
  std::array<double, 2> a1_A{0, 0}, a2_A{0, 0};     // the canonical cell (fractions -> Angstrom)
  /// Drawn windows: any member of each window's class (fractions) and its (Da, Db) (NaN: none).
  std::vector<std::array<double, 2>> points_fraction, points_tedgen;
  const sim::LabelSymmetry* symmetry = nullptr;
  std::vector<double> basin_fraction;               // per folded basin
};

/// Writes DIR/STEM_campaign_landscape.png and DIR/STEM_campaign_density.png.
void write_campaign_figures(const std::string& dir, const std::string& stem, const CampaignFigureInput& in);

}  // namespace tmdflow::analysis
