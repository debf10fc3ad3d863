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

}  // namespace

PatchMaps infer_window_rows(PatchModel& model, const WindowGrid& grid, const par::Range& window_rows, const ImageRows& image,
                            std::int64_t channels, const PatchInferenceOptions& options,
                            const std::function<void(std::int64_t)>& on_batch) {
  const SampleShape sample = window_sample(grid);
  if (channels <= 0) channels = model.output_channels(sample);
  const std::int64_t nx = grid.map_cols(), wy = sample.height, wx = sample.width;
  PatchMaps maps;
  maps.channels = channels;
  maps.rows = window_rows.size();
  maps.cols = nx;
  maps.first_row = window_rows.begin;
  maps.values.assign(std::size_t(channels * maps.rows * nx), 0.f);
  if (maps.rows <= 0) return maps;

  // A caller's bug, not a data error: the runner always hands in the rows the windows need.
  const par::Range need = grid.image_rows_for(window_rows);
  if (image.width != grid.image_width() || need.begin < image.first_row || need.end > image.first_row + image.rows)
    throw Error("infer_window_rows: window rows " + range_string(window_rows) + " of " + grid.describe() +
                    " need image rows " + range_string(need) + " of width " + std::to_string(grid.image_width()) +
                    ", found rows " + range_string({image.first_row, image.first_row + image.rows}) + " of width " +
                    std::to_string(image.width),
                ExitCode::failure);

  // Image column of each (window column, dx): the same for every window row.
  std::vector<std::int64_t> source_col(std::size_t(nx * wx));
  for (std::int64_t j = 0; j < nx; ++j)
    for (std::int64_t dx = 0; dx < wx; ++dx) source_col[std::size_t(j * wx + dx)] = grid.image_col(j, dx);

  const std::int64_t batch_size = std::max<std::int64_t>(1, options.batch_size);
  std::vector<float> batch(std::size_t(batch_size * sample.size()));
  std::vector<float> out(std::size_t(batch_size * channels));
  const std::int64_t total = maps.rows * nx;
  for (std::int64_t start = 0; start < total; start += batch_size) {
    const std::int64_t n = std::min(batch_size, total - start);
    // Cut the windows of this batch into one contiguous (n, 1, wy, wx) buffer.
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int64_t i = window_rows.begin + (start + k) / nx, j = (start + k) % nx;
      float* dst = batch.data() + k * sample.size();
      const std::int64_t* cols = source_col.data() + j * wx;
      for (std::int64_t dy = 0; dy < wy; ++dy) {
        const float* src = image.data + (grid.image_row(i, dy) - image.first_row) * image.width;
        for (std::int64_t dx = 0; dx < wx; ++dx) dst[dy * wx + dx] = src[cols[dx]];
      }
    }
    run_checked(model, batch.data(), n, sample, channels, out.data());
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int64_t li = (start + k) / nx, j = (start + k) % nx;
      for (std::int64_t c = 0; c < channels; ++c)
        maps.values[std::size_t((c * maps.rows + li) * nx + j)] = out[std::size_t(k * channels + c)];
    }
    if (on_batch) on_batch(n);
  }
  return maps;
}

PatchMaps infer_image(PatchModel& model, const float* image, std::int64_t height, std::int64_t width,
                      const PatchInferenceOptions& options) {
  const WindowGrid grid(options.windows, height, width);
  return infer_window_rows(model, grid, {0, grid.map_rows()}, ImageRows{image, 0, height, width}, 0, options);
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
