#include "tmdflow/io/image_pass.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <set>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::io {
namespace {

// Frames up to this size are one chunk of the maps in the by-image mode (as in image_stack/1).
constexpr std::int64_t kWholeFrameChunkBytes = std::int64_t(64) << 20;
constexpr std::int64_t kLargeFrameChunkSide = 1024;

/// Reads tile + halo (the part inside the image) and fills the halo outside the image by the
/// border rule. Every rank calls read() once per step, with an empty selection when it has no tile.
class TileReader {
 public:
  TileReader(const h5::Dataset& images, const ImagePassShape& meta, std::int64_t halo, ImageBorder border)
      : images_(images), meta_(meta), halo_(halo), border_(border) {}

  /// Collective. With tile == nullptr this rank reads nothing.
  void read(const ImageTile* tile) {
    if (!tile) {
      float dummy = 0;  // HDF5 wants a buffer even for an empty selection
      images_.read<float>({0, 0, 0}, {0, 0, 0}, &dummy);
      return;
    }
    const par::Range ry{std::max<std::int64_t>(0, tile->owned_y.begin - halo_), std::min(meta_.height, tile->owned_y.end + halo_)};
    const par::Range rx{std::max<std::int64_t>(0, tile->owned_x.begin - halo_), std::min(meta_.width, tile->owned_x.end + halo_)};
    inside_.resize(std::size_t(ry.size() * rx.size()));
    images_.read<float>({tile->image, ry.begin, rx.begin}, {1, ry.size(), rx.size()}, inside_.data());

    // Halo pixels outside the image: the border rule maps them back inside the block read,
    // since a tile owns at least one pixel and the rule moves an index by at most the halo.
    const std::int64_t rows = tile->owned_y.size() + 2 * halo_, cols = tile->owned_x.size() + 2 * halo_;
    data_.resize(std::size_t(rows * cols));
    col_source_.resize(std::size_t(cols));
    for (std::int64_t c = 0; c < cols; ++c)
      col_source_[std::size_t(c)] = source(tile->owned_x.begin - halo_ + c, meta_.width, rx);
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* src = inside_.data() + source(tile->owned_y.begin - halo_ + r, meta_.height, ry) * rx.size();
      float* dst = data_.data() + r * cols;
      for (std::int64_t c = 0; c < cols; ++c) dst[c] = src[col_source_[std::size_t(c)]];
    }
  }
  const float* data() const { return data_.data(); }

 private:
  // Index into the block read [read.begin, read.end) of image index i (may lie outside the image).
  std::int64_t source(std::int64_t i, std::int64_t n, const par::Range& read) const {
    const std::int64_t inside = border_index(i, n, border_);
    if (!read.contains(inside))
      throw Error("image pass: border pixel " + std::to_string(i) + " maps to " + std::to_string(inside) +
                      ", outside the rows read",
                  ExitCode::failure);
    return inside - read.begin;
  }

  const h5::Dataset& images_;
  ImagePassShape meta_;
  std::int64_t halo_;
  ImageBorder border_;
  std::vector<float> inside_, data_;
  std::vector<std::int64_t> col_source_;
};

std::vector<std::string> map_names(const std::vector<TileAnalysis*>& analyses) {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (auto* a : analyses)
    for (const auto& name : a->pixel_maps()) {
      if (!seen.insert(name).second)
        throw ConfigError("image pass: two analyses write the pixel map '" + name + "': expected unique names");
      names.push_back(name);
    }
  return names;
}

h5::Shape map_chunks(const ImagePassShape& meta, const ImagePassOptions& options) {
  std::int64_t side_y = meta.height, side_x = meta.width;
  if (options.sharding == ImageSharding::by_tile) {
    side_y = std::min(side_y, options.tile);
    side_x = std::min(side_x, options.tile);
  } else if (meta.height * meta.width * 4 > kWholeFrameChunkBytes) {
    side_y = std::min(side_y, kLargeFrameChunkSide);
    side_x = std::min(side_x, kLargeFrameChunkSide);
  }
  return {1, side_y, side_x};
}

}  // namespace

ImageBorder image_border_from_string(const std::string& name) {
  if (name == "clamp") return ImageBorder::clamp;
  if (name == "reflect") return ImageBorder::reflect;
  throw ConfigError("image border: expected 'clamp' or 'reflect', found '" + name + "'");
}

std::string to_string(ImageBorder border) { return border == ImageBorder::clamp ? "clamp" : "reflect"; }

std::int64_t border_index(std::int64_t i, std::int64_t n, ImageBorder border) {
  if (n <= 1) return 0;
  if (border == ImageBorder::clamp) return std::clamp<std::int64_t>(i, 0, n - 1);
  const std::int64_t period = 2 * (n - 1);  // numpy 'reflect': -1 -> 1, n -> n - 2
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

ImageTiling image_tiling(const ImagePassShape& meta, const ImagePassOptions& options) {
  ImageTiling tiling;
  tiling.meta = meta;
  if (options.sharding == ImageSharding::by_tile) {
    if (options.tile <= 0) throw ConfigError("image pass: tile size: expected a positive number of pixels, found " + std::to_string(options.tile));
    tiling.tiles_per_image = par::tile_grid(meta.height, meta.width, options.tile, options.tile, 0);
  } else {
    tiling.tiles_per_image = par::tile_grid(meta.height, meta.width, meta.height, meta.width, 0);
  }
  return tiling;
}

ImagePassShape image_pass_shape(const h5::Dataset& images) {
  const h5::Shape shape = images.shape();
  if (shape.size() != 3 || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0)
    throw InputError::at(images.file_name(), images.path(), "image stack", "3 axes [N, H, W] with N, H, W > 0",
                         std::to_string(shape.size()) + " axes " + str::shape_string(shape));
  ImagePassShape meta;
  meta.images = shape[0];
  meta.height = shape[1];
  meta.width = shape[2];
  meta.dtype = images.dtype();
  return meta;
}

void run_image_pass(const par::Comm& comm, const h5::Dataset& images, const std::vector<TileAnalysis*>& analyses,
                    const h5::Group* maps_out, const ImagePassOptions& options) {
  // Shapes, names and options are the same on every rank: these checks throw on all ranks alike.
  const ImagePassShape meta = image_pass_shape(images);
  const ImageTiling tiling = image_tiling(meta, options);
  const std::vector<std::string> names = map_names(analyses);
  if (!names.empty() && !maps_out)
    throw Error("run_image_pass: the analyses write pixel maps but no output group was given", ExitCode::failure);
  std::int64_t halo = 0;
  for (auto* a : analyses) halo = std::max(halo, a->halo());

  const par::Range mine = tiling.tiles_of(comm.size(), comm.rank());
  par::collectively(comm, [&] {
    for (auto* a : analyses) a->prepare(meta, mine.size());
  });

  std::vector<h5::Dataset> maps;
  for (const auto& name : names) maps.push_back(maps_out->create_dataset(name, Dtype::f32, {meta.images, meta.height, meta.width}, map_chunks(meta, options)));

  std::unique_ptr<par::Progress> progress;
  if (options.show_progress) progress = std::make_unique<par::Progress>(comm, options.progress_label, std::uint64_t(tiling.tiles()), "tiles");

  const std::int64_t per_image = std::int64_t(tiling.tiles_per_image.size());
  const std::int64_t steps = comm.allreduce(mine.size(), par::Op::max);  // the same collectives on every rank
  TileReader reader(images, meta, halo, options.border);
  std::vector<std::vector<float>> map_values(names.size());
  std::vector<TileMap> tile_maps(names.size());
  for (std::int64_t s = 0; s < steps; ++s) {
    const bool has_tile = s < mine.size();
    ImageTile tile;
    if (has_tile) {
      const std::int64_t g = mine.begin + s;
      const par::Tile& t = tiling.tiles_per_image[std::size_t(g % per_image)];
      tile.image = g / per_image;
      tile.index = g;
      tile.local = s;
      tile.image_height = meta.height;
      tile.image_width = meta.width;
      tile.owned_y = t.owned_y;
      tile.owned_x = t.owned_x;
      tile.halo = halo;
    }
    std::exception_ptr error;
    try {
      reader.read(has_tile ? &tile : nullptr);
      par::inject_fault(comm, "image-read");  // as if this rank found its tile unreadable
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);  // also the interruption point of the step

    par::collectively(comm, [&] {
      if (!has_tile) return;
      tile.data = reader.data();
      for (std::size_t k = 0; k < names.size(); ++k) {
        map_values[k].assign(std::size_t(tile.owned_y.size() * tile.owned_x.size()), std::numeric_limits<float>::quiet_NaN());
        tile_maps[k] = TileMap{map_values[k].data(), tile.owned_y, tile.owned_x};
      }
      for (auto* a : analyses) a->process(tile, tile_maps);
    });

    try {
      for (std::size_t k = 0; k < maps.size(); ++k) {
        if (has_tile)
          maps[k].write<float>({tile.image, tile.owned_y.begin, tile.owned_x.begin}, {1, tile.owned_y.size(), tile.owned_x.size()},
                               map_values[k].data());
        else {
          const float dummy = 0;
          maps[k].write<float>({0, 0, 0}, {0, 0, 0}, &dummy);
        }
      }
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);
    if (progress && has_tile) progress->advance(1);
  }
  if (progress) progress->finish();
  for (auto* a : analyses) a->merge(comm);
}

}  // namespace tmdflow::io
