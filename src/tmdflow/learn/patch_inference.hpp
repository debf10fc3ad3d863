#pragma once
// Sliding-window ("patch") inference over a 2-D image: every window of the image is one sample
// (1, wy, wx) of a PatchModel, and its C output values land in maps of shape (C, ny, nx) at the
// window's position (conventions in learn/window_grid.hpp).
//
// Two entry points share one kernel:
//  * infer_window_rows / infer_image: the image (or a block of its rows) is in memory;
//  * infer_image_dataset: collective over a parallel HDF5 file. Window rows are block-partitioned
//    over the ranks; each rank reads only the image rows its windows need (its rows plus a halo
//    of wy - sy rows) with collective hyperslab reads, in blocks of bounded size, runs the model
//    batch by batch and writes its rows of the maps collectively. Ranks without windows still
//    take part in every collective; an error on any rank is raised on all of them.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tmdflow/learn/patch_model.hpp"
#include "tmdflow/learn/window_grid.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::io::h5 {
class Dataset;
class Group;
}  // namespace tmdflow::io::h5

namespace tmdflow::learn {

struct PatchInferenceOptions {
  PatchWindows windows;
  std::int64_t batch_size = 64;  // windows per model call
  /// Window rows read and computed per step of the HDF5 path; 0 picks about 16 MiB of image rows.
  /// Bounds memory: nothing needs the image or the maps to fit in one rank.
  std::int64_t block_window_rows = 0;
  std::string progress_label = "patch inference";
  bool show_progress = true;
};

/// Maps (channels, rows, cols), row-major, of window rows [first_row, first_row + rows).
struct PatchMaps {
  std::int64_t channels = 0, rows = 0, cols = 0;
  std::int64_t first_row = 0;  // window (map) row of local row 0
  std::vector<float> values;
  /// Value of channel c at local map row i, column j.
  float at(std::int64_t c, std::int64_t i, std::int64_t j) const { return values[std::size_t((c * rows + i) * cols + j)]; }
};

/// Rows [first_row, first_row + rows) of a float image `width` pixels wide, row-major.
struct ImageRows {
  const float* data = nullptr;
  std::int64_t first_row = 0, rows = 0, width = 0;
};

/// In memory: the maps of window rows [window_rows), from image rows that must include
/// grid.image_rows_for(window_rows). `channels` is the model's C (model.output_channels() when
/// 0). on_batch(n) is called after each model call of n windows (progress).
PatchMaps infer_window_rows(PatchModel& model, const WindowGrid& grid, const par::Range& window_rows, const ImageRows& image,
                            std::int64_t channels, const PatchInferenceOptions& options,
                            const std::function<void(std::int64_t)>& on_batch = {});

/// A window of a WindowGrid: its map row and column.
struct WindowIndex {
  std::int64_t row = 0, col = 0;
};

/// In memory: runs the model on `windows` (any subset of the grid, in any order), cut from image
/// rows that must include the rows they read; values[k * channels + c] receives output c of
/// windows[k]. The kernel of infer_window_rows, for samplers that evaluate chosen windows only.
void infer_windows(PatchModel& model, const WindowGrid& grid, const std::vector<WindowIndex>& windows, const ImageRows& image,
                   std::int64_t channels, const PatchInferenceOptions& options, float* values,
                   const std::function<void(std::int64_t)>& on_batch = {});

/// In memory: all maps of an image of height x width floats (row-major). One rank, no MPI.
PatchMaps infer_image(PatchModel& model, const float* image, std::int64_t height, std::int64_t width,
                      const PatchInferenceOptions& options);

/// Collective: the model's values per window (model.output_channels), checked to be positive
/// and the same on every rank (InputError otherwise).
std::int64_t agreed_output_channels(const par::Comm& comm, PatchModel& model, const SampleShape& sample);

/// Collective on comm (the image's file must be open on comm). Reads the 2-D dataset `image`
/// (any numeric type, converted to float) and writes a new float32 dataset `name` in `out` of
/// shape (C, ny, nx), chunked in tiles of at most (1, 256, 256), with the attributes
/// window_shape [wy, wx], window_stride [sy, sx] and window_padding ("none" or "reflect").
/// Returns the maps' shape {C, ny, nx}. Throws ConfigError for bad windows, InputError for an
/// image that is not 2-D or a model whose output has the wrong size.
std::vector<std::int64_t> infer_image_dataset(const par::Comm& comm, PatchModel& model, const io::h5::Dataset& image,
                                              const io::h5::Group& out, const std::string& name,
                                              const PatchInferenceOptions& options);

}  // namespace tmdflow::learn
