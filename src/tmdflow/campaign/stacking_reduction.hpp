#pragma once
// The campaign reduction of the stacking analysis: every input's stacking/1 product of bilayer slips
// (workflows/stacking.ini through `tmdflow campaign`) streamed, window by window, onto the
// sliding-energy landscape -- the statistics of stage campaign-stats (data_schema/stacking.md,
// "Campaign statistics") for a campaign of one product per input, built by the same code
// (analysis::SlipCampaign), so a campaign and one product of the same windows give the same numbers.
// The landscape is the built-in estimate for the first product's material and registry; every other
// product must be of the same ones. Products of twists or trilayers are not this reduction's.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/analysis/landscape/slip_campaign.hpp"
#include "tmdflow/campaign/reduction.hpp"
#include "tmdflow/campaign/tables.hpp"

namespace tmdflow::campaign {

class StackingReduction : public Reduction {
 public:
  /// `landscape`: an energy grid over the cell to use instead of the built-in estimate (tests, or a
  /// landscape computed elsewhere); `options`: as campaign-stats' defaults unless given.
  explicit StackingReduction(std::optional<analysis::EnergyGrid> landscape = std::nullopt, analysis::SlipCampaignOptions options = {});

  std::string name() const override { return "stacking"; }
  std::string product_schema() const override { return "stacking/1"; }
  std::string campaign_schema() const override { return "campaign_stacking/1"; }
  bool accepts(const io::h5::Group& product) const override;
  void begin(const std::string& folder) override;
  void add(const ProductView& product) override;
  void finish(const io::h5::Group& out, const std::string& figures) override;
  std::string summary() const override;

  // The built-in landscape's grid and potential (campaign-stats' defaults).
  static constexpr int kLandscapeGrid = 24;
  static constexpr const char* kPotential = "ilp";

 private:
  std::optional<analysis::EnergyGrid> landscape_;
  analysis::SlipCampaignOptions options_;
  std::unique_ptr<analysis::SlipCampaign> campaign_;
  std::string folder_;
  CsvTable images_table_;
  std::vector<std::string> keys_;         // per image: the campaign input it came from
  std::vector<std::int64_t> input_index_;
  std::int64_t inputs_ = 0;
};

}  // namespace tmdflow::campaign
