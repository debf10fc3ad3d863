#pragma once
// The sliding-window sampler over an image stack [N, H, W]: every window of every image (window,
// stride and padding as in learn/window_grid.hpp) is one sample of a PatchModel, batched, and the
// C outputs of window (i, j) of image n land at maps[n, :, i, j] of a float32 dataset
// (N, C, ny, nx). An optional second, finer pass evaluates, with a smaller stride, only the
// windows of the regions that a selector picks from the first pass's maps (e.g. where the output
// changes between neighbouring windows: a boundary).
//
// Sharding: the window rows of the whole stack, in (image, row) order, are block-partitioned
// over the ranks: a stack of many images is sharded by image, one large image (or fewer images
// than ranks) by window rows inside the image. Each rank reads, with collective hyperslab reads in
// blocks of bounded size, only the image rows its windows read (its rows plus the wy - sy halo
// rows), and writes its rows of the maps collectively. Ranks with no window take part in every
// collective; an error on any rank is raised on all; every block is an interruption point.
//
// Fine pass (see data_schema/conventions.md, "Sliding windows"): the fine windows use the same
// window size and padding with stride (fy, fx) <= (sy, sx). Coarse window (i, j) owns the fine
// windows whose first pixel (before reflection) lies in its stride cell, i.e. fine window
// (p, q) belongs to coarse cell (clamp(floor((p fy - ofy + oy) / sy), 0, ny - 1), the same for x)
// with o the windows' offsets of window_grid.hpp (0 without padding). The fine windows of the
// selected cells are evaluated, and written in full resolution to fine_maps (N, C, nyf, nxf):
// NaN where a window was not refined. `refined` (N, ny, nx) uint8 marks the selected cells.
// The fine windows of a coarse row go to the rank that holds the coarse row. With a fine pass each
// rank keeps its coarse rows in memory (C * nx floats per window row, 1/(sy sx) of its pixels per
// channel) and gets the rows just outside its range from the other ranks (one small allreduce).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tmdflow/learn/patch_inference.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::io::h5 {
class Dataset;
class Group;
}  // namespace tmdflow::io::h5

namespace tmdflow::learn {

/// The first pass's values around coarse window (row, col) of one image: value(c, di, dj) for
/// di, dj in {-1, 0, 1}, the map's edge repeated outside it.
class CoarseNeighbourhood {
 public:
  CoarseNeighbourhood(const float* const* rows, std::int64_t channels, std::int64_t cols, std::int64_t image,
                      std::int64_t row, std::int64_t col)
      : rows_(rows), channels_(channels), cols_(cols), image_(image), row_(row), col_(col) {}
  float value(std::int64_t c, std::int64_t di, std::int64_t dj) const {
    const std::int64_t j = std::min(cols_ - 1, std::max<std::int64_t>(0, col_ + dj));
    return rows_[di + 1][c * cols_ + j];
  }
  std::int64_t channels() const { return channels_; }
  std::int64_t image() const { return image_; }
  std::int64_t row() const { return row_; }
  std::int64_t col() const { return col_; }

 private:
  const float* const* rows_;  // rows i-1, i, i+1 (edge repeated), each (C, nx)
  std::int64_t channels_, cols_, image_, row_, col_;
};

/// True when the fine pass must refine this coarse window's cell.
using RefineSelector = std::function<bool(const CoarseNeighbourhood&)>;

/// Refines where some channel differs from the same channel of one of the 4 neighbouring windows
/// by more than `threshold` (a boundary of the first pass's map).
RefineSelector refine_where_changes(float threshold);

struct WindowSamplerOptions {
  /// Windows, batch size, block size and progress of the first pass.
  PatchInferenceOptions inference;
  /// Stride of the fine pass; 0 (either) means no fine pass.
  std::int64_t fine_stride_y = 0, fine_stride_x = 0;
  /// Which coarse cells the fine pass refines (required with a fine stride).
  RefineSelector refine;
  /// Names of the datasets written in the output group.
  std::string maps_name = "maps", fine_maps_name = "fine_maps", refined_name = "refined";
};

struct WindowSamplerResult {
  std::vector<std::int64_t> maps_shape;       // {N, C, ny, nx}
  std::vector<std::int64_t> fine_maps_shape;  // {N, C, nyf, nxf}; empty without a fine pass
  std::int64_t refined_cells = 0, refined_windows = 0;  // over the whole stack
};

/// Collective on comm (the files of `images` and `out` open on comm). Reads the 3-D dataset
/// `images` (any numeric type, converted to float), writes the maps (and the fine pass's
/// datasets) in `out` with the attributes window_shape, window_stride, window_padding (and
/// refined_windows on the fine maps). Throws ConfigError for bad windows or fine strides,
/// InputError for a dataset that is not 3-D or a model whose output has the wrong size.
WindowSamplerResult sample_image_stack(const par::Comm& comm, PatchModel& model, const io::h5::Dataset& images,
                                       const io::h5::Group& out, const WindowSamplerOptions& options);

}  // namespace tmdflow::learn
