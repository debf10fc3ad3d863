#include "tmdflow/campaign/stacking_reduction.hpp"

#include "tmdflow/core/error.hpp"

namespace tmdflow::campaign {

StackingReduction::StackingReduction(std::optional<analysis::EnergyGrid> landscape, analysis::SlipCampaignOptions options)
    : landscape_(std::move(landscape)), options_(options) {}

bool StackingReduction::accepts(const io::h5::Group& product) const {
  return product.attr_string("task").value_or("") == "slip" && product.attr_int("layers").value_or(0) == 2;
}

void StackingReduction::begin(const std::string& folder) { folder_ = folder; }

void StackingReduction::add(const ProductView& p) {
  const io::h5::Group& g = *p.group;
  const analysis::StackingMapsHeader h = analysis::inspect_stacking_maps(g);
  if (!campaign_) {
    std::string source;
    analysis::EnergyGrid grid;
    if (landscape_) {
      grid = *landscape_, source = "given to the reduction";
    } else {
      grid = analysis::builtin_landscape(h.material, h.stacking, kPotential, kLandscapeGrid, kLandscapeGrid, 0, kLandscapeGrid, source);
    }
    campaign_ = std::make_unique<analysis::SlipCampaign>(h.material, h.stacking, std::move(grid), source, options_);
    std::vector<std::string> header{"index", "key", "input", "image", "slip_a", "slip_b", "tedgen_Da_A", "tedgen_Db_A", "basin",
                                    "windows", "low_confidence", "missing", "mean_confidence"};
    for (std::int64_t b = 0; b < campaign_->basins(); ++b) header.push_back("fraction_basin_" + std::to_string(b));
    images_table_ = CsvTable(folder_ + "/stacking_images.csv", header);
  } else if (h.material != campaign_->material() || h.stacking != campaign_->stacking()) {
    throw InputError::at(g.file_name(), g.path(), "material, stacking",
                         campaign_->material() + " " + campaign_->stacking() + " (the campaign's first stacking product)",
                         h.material + " " + h.stacking);
  }
  ++inputs_;
  const std::vector<analysis::SlipImage> images = analysis::read_stacking_images(g, h);
  for (std::int64_t n = 0; n < h.images; ++n) {
    analysis::SlipImage image = images[std::size_t(n)];
    image.source_file = p.input->path;
    campaign_->append_image(image, analysis::read_stacking_windows(g, h, n));
    const std::int64_t k = campaign_->images() - 1;
    keys_.push_back(p.input->key);
    input_index_.push_back(std::int64_t(p.index + 1));
    using N = CsvTable;
    const analysis::SlipImageRow r = campaign_->image_row(k);
    std::vector<std::string> row{std::to_string(p.index + 1), p.input->key, p.input->path, std::to_string(n),
                                 N::number(image.slip_a), N::number(image.slip_b), N::number(image.da_A), N::number(image.db_A),
                                 std::to_string(campaign_->image_basin(k)), std::to_string(r.kept), std::to_string(r.low_confidence),
                                 std::to_string(r.missing), N::number(r.mean_confidence)};
    for (double f : campaign_->image_basin_fraction(k)) row.push_back(N::number(f));
    images_table_.row(row);
  }
}

void StackingReduction::finish(const io::h5::Group& out, const std::string& figures) {
  if (!campaign_) return;
  images_table_.close();
  campaign_->write(out, "tmdflow campaign reduce: the stacking/1 products of " + std::to_string(inputs_) + " inputs");
  const io::h5::Group im = out.open_group("images");
  im.write_strings("input_key", keys_);
  im.write_vector("input_index", input_index_).set_attr("description", "the campaign input (1-based, manifest order) of each image");
  out.set_attr("inputs", inputs_);
  campaign_->write_figures(figures, "stacking", std::to_string(inputs_) + " campaign inputs");
}

std::string StackingReduction::summary() const {
  return "stacking: " + std::to_string(inputs_) + " inputs, " + (campaign_ ? campaign_->summary() : std::string("no bilayer slips"));
}

}  // namespace tmdflow::campaign
