#include "tmdflow/learn/patch_inference.hpp"

#include <algorithm>
#include <memory>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::learn {
namespace h5 = io::h5;

namespace {

SampleShape window_sample(const WindowGrid& grid) { return {1, grid.windows().window_y, grid.windows().window_x}; }

std::string range_string(const par::Range& r) {
  return "[" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ")";
}

/// Cuts window (i, j) of `grid` into dst (wy x wx, row-major). Rows are copied whole where the
/// window lies inside the image horizontally (the common case: one memcpy-like copy per row),
/// pixel by pixel through the reflection otherwise.
void cut_window(const WindowGrid& grid, std::int64_t i, std::int64_t j, const ImageRows& image, float* dst) {
  const std::int64_t wy = grid.windows().window_y, wx = grid.windows().window_x, x0 = grid.first_col(j);
  const bool inside_x = x0 >= 0 && x0 + wx <= image.width;
  for (std::int64_t dy = 0; dy < wy; ++dy, dst += wx) {
    const std::int64_t row = grid.image_row(i, dy) - image.first_row;
    // A caller's bug, not a data error: the runners always hand in the rows the windows need.
    if (row < 0 || row >= image.rows)
      throw Error("patch inference: window (" + std::to_string(i) + ", " + std::to_string(j) + ") of " + grid.describe() +
                      " reads image row " + std::to_string(row + image.first_row) + ", outside the rows held " +
                      range_string({image.first_row, image.first_row + image.rows}),
                  ExitCode::failure);
    const float* src = image.data + row * image.width;
    if (inside_x)
      std::copy(src + x0, src + x0 + wx, dst);
    else
      for (std::int64_t dx = 0; dx < wx; ++dx) dst[dx] = src[grid.image_col(j, dx)];
  }
}

/// Runs the model over `count` windows, window k at position(k) -> WindowIndex, batch by batch,
/// and hands sink(k, values of window k) the output. One buffer per call, reused by every batch.
template <class Position, class Sink>
void run_windows(PatchModel& model, const WindowGrid& grid, std::int64_t count, Position&& position, const ImageRows& image,
                 std::int64_t channels, const PatchInferenceOptions& options, Sink&& sink,
                 const std::function<void(std::int64_t)>& on_batch) {
  if (count <= 0) return;
  if (image.width != grid.image_width())
    throw Error("patch inference: image rows of width " + std::to_string(image.width) + " for " + grid.describe(),
                ExitCode::failure);
  const SampleShape sample = window_sample(grid);
  const std::int64_t batch_size = std::max<std::int64_t>(1, std::min(options.batch_size, count));
  std::vector<float> batch(std::size_t(batch_size * sample.size()));
  std::vector<float> out(std::size_t(batch_size * channels));
  for (std::int64_t start = 0; start < count; start += batch_size) {
    const std::int64_t n = std::min(batch_size, count - start);
    // The windows of this batch as one contiguous (n, 1, wy, wx) buffer.
    for (std::int64_t k = 0; k < n; ++k) {
      const WindowIndex w = position(start + k);
      cut_window(grid, w.row, w.col, image, batch.data() + k * sample.size());
    }
    run_checked(model, batch.data(), n, sample, channels, out.data());
    for (std::int64_t k = 0; k < n; ++k) sink(start + k, out.data() + k * channels);
    if (on_batch) on_batch(n);
  }
}

}  // namespace

PatchMaps infer_window_rows(PatchModel& model, const WindowGrid& grid, const par::Range& window_rows, const ImageRows& image,
                            std::int64_t channels, const PatchInferenceOptions& options,
                            const std::function<void(std::int64_t)>& on_batch) {
  if (channels <= 0) channels = model.output_channels(window_sample(grid));
  const std::int64_t nx = grid.map_cols();
  PatchMaps maps;
  maps.channels = channels;
  maps.rows = std::max<std::int64_t>(0, window_rows.size());
  maps.cols = nx;
  maps.first_row = window_rows.begin;
  maps.values.assign(std::size_t(channels * maps.rows * nx), 0.f);
  run_windows(
      model, grid, maps.rows * nx, [&](std::int64_t k) { return WindowIndex{window_rows.begin + k / nx, k % nx}; }, image,
      channels, options,
      [&](std::int64_t k, const float* v) {
        const std::int64_t li = k / nx, j = k % nx;
        for (std::int64_t c = 0; c < channels; ++c) maps.values[std::size_t((c * maps.rows + li) * nx + j)] = v[c];
      },
      on_batch);
  return maps;
}

void infer_windows(PatchModel& model, const WindowGrid& grid, const std::vector<WindowIndex>& windows, const ImageRows& image,
                   std::int64_t channels, const PatchInferenceOptions& options, float* values,
                   const std::function<void(std::int64_t)>& on_batch) {
  run_windows(
      model, grid, std::int64_t(windows.size()), [&](std::int64_t k) { return windows[std::size_t(k)]; }, image, channels,
      options, [&](std::int64_t k, const float* v) { std::copy(v, v + channels, values + k * channels); }, on_batch);
}

PatchMaps infer_image(PatchModel& model, const float* image, std::int64_t height, std::int64_t width,
                      const PatchInferenceOptions& options) {
  const WindowGrid grid(options.windows, height, width);
  return infer_window_rows(model, grid, {0, grid.map_rows()}, ImageRows{image, 0, height, width}, 0, options);
}

std::int64_t agreed_output_channels(const par::Comm& comm, PatchModel& model, const SampleShape& sample) {
  std::int64_t channels = 0;
  par::collectively(comm, [&] {
    channels = model.output_channels(sample);
    if (channels <= 0)
      throw InputError(model.name() + ": expected at least one output value per window " + sample.describe() +
                       ", found " + std::to_string(channels));
  });
  // The maps' shape is declared collectively: a model that answers differently on some rank
  // (e.g. different weight files) must stop the job, not corrupt the file.
  const std::int64_t fewest = comm.allreduce(channels, par::Op::min), most = comm.allreduce(channels, par::Op::max);
  if (fewest != most)
    throw InputError(model.name() + ": ranks disagree on the number of output values per window (found " +
                     std::to_string(fewest) + " to " + std::to_string(most) + ")");
  return channels;
}

std::vector<std::int64_t> infer_image_dataset(const par::Comm& comm, PatchModel& model, const h5::Dataset& image,
                                              const h5::Group& out, const std::string& name,
                                              const PatchInferenceOptions& options) {
  // Every rank sees the same shape and options, so these checks throw on all ranks alike.
  const h5::Shape shape = image.shape();
  if (shape.size() != 2)
    throw InputError::at(image.file_name(), image.path(), "image for patch inference", "2 axes (H, W)",
                         std::to_string(shape.size()) + " axes " + str::shape_string(shape));
  const WindowGrid grid(options.windows, shape[0], shape[1]);
  const std::int64_t width = shape[1], ny = grid.map_rows(), nx = grid.map_cols();
  const SampleShape sample = window_sample(grid);

  const std::int64_t channels = agreed_output_channels(comm, model, sample);

  const h5::Shape maps_shape{channels, ny, nx};
  h5::Dataset maps = out.create_dataset(name, io::Dtype::f32, maps_shape,
                                        {1, std::min<std::int64_t>(ny, 256), std::min<std::int64_t>(nx, 256)});
  maps.set_attr("window_shape", std::vector<double>{double(sample.height), double(sample.width)});
  maps.set_attr("window_stride", std::vector<double>{double(grid.windows().stride_y), double(grid.windows().stride_x)});
  maps.set_attr("window_padding", to_string(grid.windows().padding));

  // Blocks of window rows keep the image rows in memory bounded; every rank runs the same number
  // of steps (empty ones past its rows) so the collective reads and writes stay matched.
  const par::Range mine = par::block_partition(ny, comm.size(), comm.rank());
  std::int64_t block_rows = options.block_window_rows;
  if (block_rows <= 0)
    block_rows = std::max<std::int64_t>(1, (std::int64_t(16) << 20) / std::max<std::int64_t>(1, width * 4 * grid.windows().stride_y));
  const std::int64_t my_blocks = (mine.size() + block_rows - 1) / block_rows;
  const std::int64_t blocks = comm.allreduce(my_blocks, par::Op::max);

  std::unique_ptr<par::Progress> progress;
  if (options.show_progress)
    progress = std::make_unique<par::Progress>(comm, options.progress_label, std::uint64_t(grid.windows_count()), "windows");
  const auto on_batch = [&](std::int64_t n) {
    if (progress) progress->advance(std::uint64_t(n));
  };

  std::vector<float> rows_buffer(1);  // never empty: HDF5 wants a buffer even for empty selections
  for (std::int64_t b = 0; b < blocks; ++b) {
    const par::Range rows{std::min(mine.end, mine.begin + b * block_rows), std::min(mine.end, mine.begin + (b + 1) * block_rows)};
    const par::Range need = grid.image_rows_for(rows);
    rows_buffer.resize(std::size_t(std::max<std::int64_t>(1, need.size() * width)));
    std::exception_ptr error;
    try {
      image.read<float>({need.begin, 0}, {need.size(), width}, rows_buffer.data());
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);

    PatchMaps block;
    par::collectively(comm, [&] {
      block = infer_window_rows(model, grid, rows, ImageRows{rows_buffer.data(), need.begin, need.size(), width}, channels,
                                options, on_batch);
    });
    if (block.values.empty()) block.values.resize(1);
    try {
      maps.write<float>({0, rows.begin, 0}, {channels, rows.size(), nx}, block.values.data());
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);
  }
  if (progress) progress->finish();
  return maps_shape;
}

}  // namespace tmdflow::learn
