#pragma once
// One pass over an image stack [N, H, W] feeding several per-tile analyses: the image
// counterpart of the pattern pass (io/pattern_pass.hpp). The work is a list of tiles:
//  * sharding by image: one tile per image (the whole frame), the images block-partitioned over
//    the ranks; each rank reads only its frames;
//  * sharding by tile: every image cut into tiles of T x T owned pixels (the last ones of a row or
//    column smaller), all tiles of the stack block-partitioned over the ranks in (image, tile row,
//    tile column) order; each rank reads only its tiles and their halos.
// A tile is handed to the analyses with a halo of h pixels on every side (the largest halo any
// analysis asks for). Halo pixels inside the image are the neighbours' pixels, read from the file;
// halo pixels outside the image follow the border rule (clamp: the edge pixel repeated, numpy's
// 'edge'; reflect: mirrored without repeating the edge, numpy's 'reflect'). An analysis fills
// per-pixel maps for the owned pixels only; the pass writes them collectively, so the maps are
// seamless whatever the tiling. Small global results are kept by the analyses and reduced in
// merge(). Reads are collective hyperslab reads converted to float (any numeric dtype).
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/io/h5.hpp"
#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::io {

enum class ImageSharding { by_image, by_tile };
/// Value of halo pixels outside the image.
enum class ImageBorder { clamp, reflect };

/// "clamp" or "reflect"; ConfigError otherwise.
ImageBorder image_border_from_string(const std::string& name);
std::string to_string(ImageBorder border);
/// The image index that border rule `border` gives to index i of an axis of n pixels.
std::int64_t border_index(std::int64_t i, std::int64_t n, ImageBorder border);

/// Shape of the stack a pass runs over.
struct ImagePassShape {
  std::int64_t images = 0, height = 0, width = 0;
  Dtype dtype = Dtype::f32;  // stored type (the pass hands floats)
};

/// One tile of one image with its halo, as float, row-major.
struct ImageTile {
  std::int64_t image = 0;  // index of the image in the stack
  std::int64_t index = 0;  // global tile index (the order of the work list)
  std::int64_t local = 0;  // index among this rank's tiles
  std::int64_t image_height = 0, image_width = 0;
  par::Range owned_y, owned_x;  // owned pixels, image coordinates
  std::int64_t halo = 0;        // pixels of halo on every side
  const float* data = nullptr;  // (owned_y.size() + 2 halo) x (owned_x.size() + 2 halo)

  std::int64_t stride() const { return owned_x.size() + 2 * halo; }
  /// Pixel (y, x) in image coordinates, y in [owned_y.begin - halo, owned_y.end + halo) (and
  /// likewise x): the neighbours' pixels inside the image, the border rule outside.
  float at(std::int64_t y, std::int64_t x) const {
    return data[(y - owned_y.begin + halo) * stride() + (x - owned_x.begin + halo)];
  }
};

/// The owned part of one per-pixel map for the current tile, to be filled by the analysis.
struct TileMap {
  float* data = nullptr;  // owned_y.size() x owned_x.size(), row-major
  par::Range owned_y, owned_x;
  /// Value at image pixel (y, x) of the owned region.
  float& at(std::int64_t y, std::int64_t x) const {
    return data[(y - owned_y.begin) * owned_x.size() + (x - owned_x.begin)];
  }
};

class TileAnalysis {
 public:
  virtual ~TileAnalysis() = default;
  /// Names of the per-pixel float32 maps [N, H, W] this analysis writes (unique in the pass).
  virtual std::vector<std::string> pixel_maps() const { return {}; }
  /// Pixels of halo the analysis needs around each tile (a 3 x 3 filter: 1).
  virtual std::int64_t halo() const { return 0; }
  /// Before the pass, on every rank, with the number of tiles this rank will process.
  virtual void prepare(const ImagePassShape& meta, std::int64_t local_tiles) {
    (void)meta;
    (void)local_tiles;
  }
  /// Once per tile of this rank, in order; maps[k] is the owned region of pixel_maps()[k]
  /// (initialised to NaN). Must not call collectives.
  virtual void process(const ImageTile& tile, const std::vector<TileMap>& maps) = 0;
  /// After the pass (collective): reduce global results across ranks.
  virtual void merge(const par::Comm& comm) { (void)comm; }
};

struct ImagePassOptions {
  ImageSharding sharding = ImageSharding::by_image;
  /// Owned pixels per tile side (T) with ImageSharding::by_tile.
  std::int64_t tile = 512;
  ImageBorder border = ImageBorder::reflect;
  std::string progress_label = "image pass";
  bool show_progress = true;
};

/// The tiles of the whole stack, in work-list order (image, tile row, tile column).
struct ImageTiling {
  ImagePassShape meta;
  std::vector<par::Tile> tiles_per_image;  // of one image (tile_grid with halo 0)
  std::int64_t tiles() const { return meta.images * std::int64_t(tiles_per_image.size()); }
  /// The tiles of `rank` among `ranks`: a block partition of the work list.
  par::Range tiles_of(int ranks, int rank) const { return par::block_partition(tiles(), ranks, rank); }
};
ImageTiling image_tiling(const ImagePassShape& meta, const ImagePassOptions& options);

/// The stack's shape; InputError naming the dataset unless it is 3-D [N, H, W] with H, W > 0.
ImagePassShape image_pass_shape(const h5::Dataset& images);

/// Runs the analyses over this rank's tiles (collective on comm; the file of `images` open on
/// comm). The pixel maps of all analyses are created in `maps_out` as float32 [N, H, W] chunked
/// by tile, and written tile by tile (owned pixels only). `maps_out` may be null when no analysis
/// declares maps. Read, analysis and write failures on any rank are raised on every rank; every
/// tile step is an interruption point. Ranks with no tile take part in every collective.
void run_image_pass(const par::Comm& comm, const h5::Dataset& images, const std::vector<TileAnalysis*>& analyses,
                    const h5::Group* maps_out, const ImagePassOptions& options = {});

}  // namespace tmdflow::io
