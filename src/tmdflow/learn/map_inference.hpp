#pragma once
// A trained map model (U-Net, detector, autoencoder: one output map per channel, the input's size)
// as an analysis of the image pass (io/image_pass.hpp): each tile with its halo is resampled to the
// model's pixel size, normalised by its whole image's mean and standard deviation (ImageStatistics,
// a first pass), padded (reflected) to a size the network's downsampling accepts, run, and its
// maps resampled back onto the tile's pixels; the owned pixels go to the maps map_0 .. map_{C-1}.
// With BatchNorm in eval mode every output pixel depends on its neighbourhood only, so the maps do
// not depend on the tiling or the rank count (up to float rounding).
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "tmdflow/io/image_pass.hpp"
#include "tmdflow/learn/network.hpp"

namespace tmdflow::learn {

/// What a map network gives and needs, from its spec: output channels, and the multiple its input
/// size must be (2^levels for a U-Net or an autoencoder, 1 otherwise). ConfigError for a family
/// that gives values per sample (resnet).
struct MapModelLayout {
  std::int64_t channels = 1, multiple = 1;
};
MapModelLayout map_model_layout(const std::string& family, const std::map<std::string, std::string>& params);

/// Mean and standard deviation of every image of a stack (an image-pass analysis, merged over ranks).
class ImageStatistics : public io::TileAnalysis {
 public:
  void prepare(const io::ImagePassShape& shape, std::int64_t) override;
  void process(const io::ImageTile& tile, const std::vector<io::TileMap>&) override;
  void merge(const par::Comm& comm) override;
  float mean(std::int64_t image) const;
  float sd(std::int64_t image) const;  // 1 for a flat image

 private:
  std::vector<double> sums_;  // per image: sum, sum of squares, count
};

/// The model's maps of a tile with its halo, on the tile's own pixel grid: channels x (owned +
/// 2 halo) rows x (owned + 2 halo) columns, row-major (scale: model pixels per image pixel; stats
/// null: no normalisation). What MapModelAnalysis writes, for analyses that use the maps in place
/// (peak finding) instead of writing them.
std::vector<float> tile_maps(Network& net, const MapModelLayout& layout, double scale, const ImageStatistics* stats, const io::ImageTile& tile);

class MapModelAnalysis : public io::TileAnalysis {
 public:
  /// scale: model pixels per image pixel; halo in image pixels; stats null: no normalisation.
  MapModelAnalysis(Network& net, MapModelLayout layout, double scale, std::int64_t halo, const ImageStatistics* stats);
  std::vector<std::string> pixel_maps() const override;
  std::int64_t halo() const override { return halo_; }
  void process(const io::ImageTile& tile, const std::vector<io::TileMap>& maps) override;

 private:
  Network& net_;
  MapModelLayout layout_;
  double scale_;
  std::int64_t halo_;
  const ImageStatistics* stats_;
};

}  // namespace tmdflow::learn
