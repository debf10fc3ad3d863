#pragma once
// The campaign statistics of the twist-domain and polarity analysis (product domains/1,
// data_schema/domains.md): per input, its domains' count, sizes and polarity fraction; per domain,
// its twist, polarity and area; over the campaign, the twist distribution, the domain-size
// distribution and the distribution of the per-file polarity fraction, with their counts.
// Reads only each product's domain_table, the label map's shape and the scan calibration.
#include <cstdint>
#include <vector>

#include "tmdflow/campaign/reduction.hpp"
#include "tmdflow/campaign/tables.hpp"

namespace tmdflow::campaign {

/// What one domains/1 product says, reduced (also what the tests compare against).
struct DomainInputSummary {
  std::int64_t patterns = 0;            // scan positions (Rx * Ry)
  std::int64_t labelled = 0;            // positions in a domain (the others undetermined)
  std::int64_t domains = 0;
  std::int64_t twist_classes = 0;
  double polarity_plus_fraction = 0;    // share of labelled positions with polarity +1 (NaN: none labelled)
  double largest_domain_fraction = 0;   // largest domain / labelled positions
  double pixel_area_nm2 = 0;            // area of one scan position (NaN when the scan is not in nm or A)
  double twist_circular_mean_deg = 0;   // pattern-weighted mean twist, period 60 degrees
};

struct DomainRow {
  double twist_deg = 0, orientation_deg = 0;
  int polarity = 0;
  std::int64_t patterns = 0;
  double area_nm2 = 0;
};

/// Reads and reduces one domains/1 product group; `rows` gets one entry per domain.
DomainInputSummary summarize_domains(const io::h5::Group& product, std::vector<DomainRow>& rows);

class DomainReduction : public Reduction {
 public:
  std::string name() const override { return "domains"; }
  std::string product_schema() const override { return "domains/1"; }
  std::string campaign_schema() const override { return "campaign_domains/1"; }
  void begin(const std::string& folder) override;
  void add(const ProductView& product) override;
  void finish(const io::h5::Group& out, const std::string& figures) override;
  std::string summary() const override;

  // Bins of the distributions (documented in docs/CAMPAIGNS.md).
  static constexpr int kTwistBins = 60;        // 1 degree over [0, 60)
  static constexpr int kAreaBinsPerDecade = 10;
  static constexpr double kAreaLog10Min = -2, kAreaLog10Max = 6;  // 0.01 nm^2 .. 10^6 nm^2
  static constexpr int kPolarityBins = 20;     // 0.05 over [0, 1]

 private:
  CsvTable inputs_table_, domains_table_;
  // Columns of campaign.h5 (a few numbers per input and per domain; products are never kept).
  std::vector<std::string> keys_;
  std::vector<std::int64_t> input_index_, patterns_, labelled_, domain_count_;
  std::vector<double> polarity_fraction_, largest_fraction_, pixel_area_, twist_mean_;
  std::vector<std::int64_t> domain_input_, domain_patterns_;
  std::vector<std::int32_t> domain_polarity_;
  std::vector<double> domain_twist_, domain_orientation_, domain_area_;
  Histogram twist_domains_{0, 60, kTwistBins}, twist_patterns_{0, 60, kTwistBins};
  Histogram area_domains_{kAreaLog10Min, kAreaLog10Max, int((kAreaLog10Max - kAreaLog10Min) * kAreaBinsPerDecade)};
  Histogram polarity_inputs_{0, 1, kPolarityBins};
};

}  // namespace tmdflow::campaign
