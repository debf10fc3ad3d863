#pragma once
// Campaign reductions: how the per-input products of a campaign become campaign products. The
// reduce step opens the inputs' products one at a time, in manifest order, and hands each product
// group to every reduction that reads its schema; a reduction keeps only what it needs for its
// tables and statistics (a few numbers per input, fixed-size histograms), never a product. So the
// reduce's time grows linearly with the inputs and its memory with the rows of its tables.
//
// A new analysis plugs in with one class and one line in make_reductions() (reductions.cpp):
// name() names its files (campaign/NAME_*.csv, figures/NAME_*.png) and its product group
// campaign.h5:/NAME (schema campaign_schema(), a file in data_schema/products/). See docs/CAMPAIGNS.md.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tmdflow/campaign/manifest.hpp"
#include "tmdflow/io/h5.hpp"

namespace tmdflow::campaign {

/// One input's product, as a reduction sees it.
struct ProductView {
  std::size_t index = 0;         // the input's row in the campaign (0-based, manifest order)
  const InputFile* input = nullptr;
  const io::h5::Group* group = nullptr;  // the product group: complete, of the schema the reduction reads
};

class Reduction {
 public:
  virtual ~Reduction() = default;
  /// Names its files and its group in campaign.h5 ("domains").
  virtual std::string name() const = 0;
  /// The per-input product it reads ("domains/1").
  virtual std::string product_schema() const = 0;
  /// The schema of what it writes into campaign.h5 ("campaign_domains/1").
  virtual std::string campaign_schema() const = 0;
  /// Whether a product of product_schema() is one this reduction reads (e.g. the stacking reduction
  /// reads bilayer slips, not twists); the others are not handed to it.
  virtual bool accepts(const io::h5::Group& /*product*/) const { return true; }
  /// Before the first product: open the tables it streams, in `folder`.
  virtual void begin(const std::string& folder) = 0;
  /// One product: read what it needs, add to its rows and statistics, keep nothing of the product.
  /// Throws InputError naming the file and dataset when the product lacks what it needs.
  virtual void add(const ProductView& product) = 0;
  /// After the last product: close the tables, write its group in campaign.h5 (`out`, already a
  /// product group of campaign_schema()) and its figures into `figures`. Called only when add()
  /// was called at least once.
  virtual void finish(const io::h5::Group& out, const std::string& figures) = 0;
  /// One line for the reduce's report ("domains: 200 inputs, 1,412 domains").
  virtual std::string summary() const = 0;
};

/// Every reduction tmdflow has, one per analysis.
std::vector<std::unique_ptr<Reduction>> make_reductions();

}  // namespace tmdflow::campaign
