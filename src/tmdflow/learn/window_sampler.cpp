#include "tmdflow/learn/window_sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::learn {
namespace h5 = io::h5;

namespace {

/// A block of window rows of one image: the unit of one read, one model run and one write.
struct Piece {
  std::int64_t image = 0;
  par::Range rows;  // window (map) rows of the coarse grid
};

/// This rank's window rows [mine) of the stack's N * ny rows, cut at image boundaries and into
/// blocks of at most block_rows.
std::vector<Piece> pieces_of(const par::Range& mine, std::int64_t ny, std::int64_t block_rows) {
  std::vector<Piece> pieces;
  for (std::int64_t g = mine.begin; g < mine.end;) {
    const std::int64_t n = g / ny, end = std::min({mine.end, (n + 1) * ny, g + block_rows});
    pieces.push_back({n, {g - n * ny, end - n * ny}});
    g = end;
  }
  return pieces;
}

/// Collective read of image rows [rows) of image n (an empty selection when has_rows is false).
void read_rows(const h5::Dataset& images, std::int64_t n, const par::Range& rows, std::int64_t width, bool has_rows,
               std::vector<float>& buffer) {
  buffer.resize(std::size_t(std::max<std::int64_t>(1, has_rows ? rows.size() * width : 1)));
  if (has_rows)
    images.read<float>({n, rows.begin, 0}, {1, rows.size(), width}, buffer.data());
  else
    images.read<float>({0, 0, 0}, {0, 0, 0}, buffer.data());
}

h5::Dataset create_maps(const h5::Group& out, const std::string& name, const h5::Shape& shape, const WindowGrid& grid) {
  h5::Dataset maps = out.create_dataset(name, io::Dtype::f32, shape,
                                        {1, 1, std::min<std::int64_t>(shape[2], 256), std::min<std::int64_t>(shape[3], 256)});
  maps.set_attr("window_shape", std::vector<double>{double(grid.windows().window_y), double(grid.windows().window_x)});
  maps.set_attr("window_stride", std::vector<double>{double(grid.windows().stride_y), double(grid.windows().stride_x)});
  maps.set_attr("window_padding", to_string(grid.windows().padding));
  return maps;
}

/// Coarse cell (row or column) of each fine window row (or column): the coarse stride cell that
/// holds the fine window's first pixel, clamped to the map (see the header).
std::vector<std::int64_t> cells_of(std::int64_t fine_count, std::int64_t coarse_count, std::int64_t coarse_stride,
                                   std::int64_t coarse_first, const std::function<std::int64_t(std::int64_t)>& fine_first) {
  std::vector<std::int64_t> cells(static_cast<std::size_t>(fine_count));
  for (std::int64_t p = 0; p < fine_count; ++p) {
    const std::int64_t d = fine_first(p) - coarse_first;
    const std::int64_t cell = d >= 0 ? d / coarse_stride : -((-d + coarse_stride - 1) / coarse_stride);
    cells[std::size_t(p)] = std::clamp<std::int64_t>(cell, 0, coarse_count - 1);
  }
  return cells;
}

}  // namespace

RefineSelector refine_where_changes(float threshold) {
  return [threshold](const CoarseNeighbourhood& at) {
    for (std::int64_t c = 0; c < at.channels(); ++c) {
      const float v = at.value(c, 0, 0);
      for (auto [di, dj] : {std::pair{-1, 0}, std::pair{1, 0}, std::pair{0, -1}, std::pair{0, 1}})
        if (std::abs(at.value(c, di, dj) - v) > threshold) return true;
    }
    return false;
  };
}

WindowSamplerResult sample_image_stack(const par::Comm& comm, PatchModel& model, const h5::Dataset& images, const h5::Group& out,
                                       const WindowSamplerOptions& options) {
  // Every rank sees the same shape and options, so these checks throw on all ranks alike.
  const h5::Shape shape = images.shape();
  if (shape.size() != 3 || shape[0] <= 0)
    throw InputError::at(images.file_name(), images.path(), "image stack for the window sampler",
                         "3 axes [N, H, W] with N > 0", std::to_string(shape.size()) + " axes " + str::shape_string(shape));
  const std::int64_t count = shape[0], width = shape[2];
  const PatchInferenceOptions& inference = options.inference;
  const WindowGrid grid(inference.windows, shape[1], width);
  const std::int64_t ny = grid.map_rows(), nx = grid.map_cols();
  const bool fine = options.fine_stride_y > 0 || options.fine_stride_x > 0;
  if (fine) {
    if (options.fine_stride_y <= 0 || options.fine_stride_x <= 0 || options.fine_stride_y > inference.windows.stride_y ||
        options.fine_stride_x > inference.windows.stride_x)
      throw ConfigError("window sampler: fine stride: expected 1 to " + std::to_string(inference.windows.stride_y) + " x 1 to " +
                        std::to_string(inference.windows.stride_x) + " pixels (at most the first pass's stride), found " +
                        std::to_string(options.fine_stride_y) + "x" + std::to_string(options.fine_stride_x));
    if (!options.refine) throw ConfigError("window sampler: a fine stride needs a selector of the regions to refine");
  }
  const SampleShape sample{1, inference.windows.window_y, inference.windows.window_x};
  const std::int64_t channels = agreed_output_channels(comm, model, sample);

  WindowSamplerResult result;
  result.maps_shape = {count, channels, ny, nx};
  h5::Dataset maps = create_maps(out, options.maps_name, result.maps_shape, grid);

  // The window rows of the stack in (image, row) order, block-partitioned; blocks of rows bound
  // the image rows held in memory. Every rank makes the same number of steps (empty ones past its
  // pieces) so that the collective reads and writes stay matched.
  const par::Range mine = par::block_partition(count * ny, comm.size(), comm.rank());
  std::int64_t block_rows = inference.block_window_rows;
  if (block_rows <= 0)
    block_rows = std::max<std::int64_t>(1, (std::int64_t(16) << 20) / std::max<std::int64_t>(1, width * 4 * grid.windows().stride_y));
  const std::vector<Piece> pieces = pieces_of(mine, ny, block_rows);
  const std::int64_t steps = comm.allreduce(std::int64_t(pieces.size()), par::Op::max);

  std::unique_ptr<par::Progress> progress;
  if (inference.show_progress)
    progress = std::make_unique<par::Progress>(comm, inference.progress_label, std::uint64_t(count * ny * nx), "windows");
  const auto on_batch = [&](std::int64_t n) {
    if (progress) progress->advance(std::uint64_t(n));
  };

  // With a fine pass, this rank keeps its coarse rows (slot 1 + g - mine.begin, each (C, nx)) and
  // gets the rows just before and after them (slots 0 and last) from the neighbouring ranks.
  const std::int64_t row_values = channels * nx;
  std::vector<float> coarse(fine ? std::size_t((mine.size() + 2) * row_values) : 0);

  std::vector<float> rows_buffer;
  for (std::int64_t s = 0; s < steps; ++s) {
    const bool has = s < std::int64_t(pieces.size());
    const Piece piece = has ? pieces[std::size_t(s)] : Piece{};
    const par::Range need = has ? grid.image_rows_for(piece.rows) : par::Range{};
    std::exception_ptr error;
    try {
      read_rows(images, piece.image, need, width, has, rows_buffer);
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);  // also the interruption point of the step

    PatchMaps block;
    par::collectively(comm, [&] {
      if (!has) return;
      block = infer_window_rows(model, grid, piece.rows, ImageRows{rows_buffer.data(), need.begin, need.size(), width}, channels,
                                inference, on_batch);
      if (fine)
        for (std::int64_t i = 0; i < block.rows; ++i) {
          float* row = coarse.data() + (1 + piece.image * ny + piece.rows.begin + i - mine.begin) * row_values;
          for (std::int64_t c = 0; c < channels; ++c)
            std::copy_n(block.values.data() + (c * block.rows + i) * nx, nx, row + c * nx);
        }
    });
    try {
      if (has)
        maps.write<float>({piece.image, 0, piece.rows.begin, 0}, {1, channels, piece.rows.size(), nx}, block.values.data());
      else {
        const float dummy = 0;
        maps.write<float>({0, 0, 0, 0}, {0, 0, 0, 0}, &dummy);
      }
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);
  }
  if (progress) progress->finish();
  if (!fine) return result;

  // The coarse rows just outside this rank's range: every rank offers its first and last row
  // (a sum over zeros elsewhere: two rows per rank, small), with the ranges they hold.
  {
    std::vector<float> edges(std::size_t(2 * comm.size() * row_values), 0.f);
    if (!mine.empty()) {
      std::copy_n(coarse.data() + row_values, row_values, edges.data() + 2 * comm.rank() * row_values);
      std::copy_n(coarse.data() + mine.size() * row_values, row_values, edges.data() + (2 * comm.rank() + 1) * row_values);
    }
    comm.allreduce_inplace(edges.data(), edges.size(), par::Op::sum);
    const std::vector<std::int64_t> begins = comm.allgather(mine.begin), ends = comm.allgather(mine.end);
    for (int r = 0; r < comm.size() && !mine.empty(); ++r) {
      if (begins[std::size_t(r)] >= ends[std::size_t(r)]) continue;
      if (ends[std::size_t(r)] == mine.begin)
        std::copy_n(edges.data() + (2 * r + 1) * row_values, row_values, coarse.data());
      if (begins[std::size_t(r)] == mine.end)
        std::copy_n(edges.data() + 2 * r * row_values, row_values, coarse.data() + (mine.size() + 1) * row_values);
    }
  }

  PatchWindows fine_windows = inference.windows;
  fine_windows.stride_y = options.fine_stride_y;
  fine_windows.stride_x = options.fine_stride_x;
  const WindowGrid fine_grid(fine_windows, shape[1], width);
  const std::int64_t nyf = fine_grid.map_rows(), nxf = fine_grid.map_cols();
  const std::vector<std::int64_t> cell_row =
      cells_of(nyf, ny, grid.windows().stride_y, grid.first_row(0), [&](std::int64_t p) { return fine_grid.first_row(p); });
  const std::vector<std::int64_t> cell_col =
      cells_of(nxf, nx, grid.windows().stride_x, grid.first_col(0), [&](std::int64_t q) { return fine_grid.first_col(q); });

  // Which cells of each piece are refined, and the fine windows that lie in them.
  struct FinePiece {
    par::Range fine_rows;
    std::vector<std::uint8_t> refined;  // (piece rows, nx)
    std::vector<WindowIndex> windows;
  };
  std::vector<FinePiece> fine_pieces(pieces.size());
  std::int64_t local_cells = 0, local_windows = 0;
  par::collectively(comm, [&] {
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      const Piece& piece = pieces[k];
      FinePiece& fp = fine_pieces[k];
      fp.refined.assign(std::size_t(piece.rows.size() * nx), 0);
      for (std::int64_t i = piece.rows.begin; i < piece.rows.end; ++i) {
        const std::int64_t slot = 1 + piece.image * ny + i - mine.begin;
        const float* rows[3] = {coarse.data() + (i > 0 ? slot - 1 : slot) * row_values, coarse.data() + slot * row_values,
                                coarse.data() + (i + 1 < ny ? slot + 1 : slot) * row_values};
        for (std::int64_t j = 0; j < nx; ++j)
          if (options.refine(CoarseNeighbourhood(rows, channels, nx, piece.image, i, j))) {
            fp.refined[std::size_t((i - piece.rows.begin) * nx + j)] = 1;
            ++local_cells;
          }
      }
      // Fine rows whose cell row lies in the piece (contiguous: cells grow with the fine row).
      const auto lo = std::lower_bound(cell_row.begin(), cell_row.end(), piece.rows.begin);
      const auto hi = std::lower_bound(cell_row.begin(), cell_row.end(), piece.rows.end);
      fp.fine_rows = {std::int64_t(lo - cell_row.begin()), std::int64_t(hi - cell_row.begin())};
      for (std::int64_t p = fp.fine_rows.begin; p < fp.fine_rows.end; ++p)
        for (std::int64_t q = 0; q < nxf; ++q)
          if (fp.refined[std::size_t((cell_row[std::size_t(p)] - piece.rows.begin) * nx + cell_col[std::size_t(q)])])
            fp.windows.push_back({p, q});
      local_windows += std::int64_t(fp.windows.size());
    }
  });
  result.refined_cells = comm.allreduce(local_cells, par::Op::sum);
  result.refined_windows = comm.allreduce(local_windows, par::Op::sum);
  result.fine_maps_shape = {count, channels, nyf, nxf};
  h5::Dataset fine_maps = create_maps(out, options.fine_maps_name, result.fine_maps_shape, fine_grid);
  fine_maps.set_attr("refined_windows", result.refined_windows);
  h5::Dataset refined = out.create_dataset(options.refined_name, io::Dtype::u8, {count, ny, nx},
                                           {1, std::min<std::int64_t>(ny, 256), std::min<std::int64_t>(nx, 256)});

  if (inference.show_progress)
    progress = std::make_unique<par::Progress>(comm, inference.progress_label + " (fine)", std::uint64_t(result.refined_windows),
                                               "windows");
  std::vector<float> values, fine_block;
  for (std::int64_t s = 0; s < steps; ++s) {
    const bool has = s < std::int64_t(pieces.size());
    const Piece piece = has ? pieces[std::size_t(s)] : Piece{};
    const FinePiece* fp = has ? &fine_pieces[std::size_t(s)] : nullptr;
    // Only the image rows of the refined windows (none when no cell of the piece is refined).
    par::Range need;
    if (fp && !fp->windows.empty()) need = fine_grid.image_rows_for({fp->windows.front().row, fp->windows.back().row + 1});
    std::exception_ptr error;
    try {
      read_rows(images, piece.image, need, width, !need.empty(), rows_buffer);
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);

    par::collectively(comm, [&] {
      if (!fp) return;
      values.resize(fp->windows.size() * std::size_t(channels));
      infer_windows(model, fine_grid, fp->windows, ImageRows{rows_buffer.data(), need.begin, need.size(), width}, channels,
                    inference, values.data(), on_batch);
      // Full-resolution rows of the fine maps: NaN where not refined.
      const std::int64_t rows = fp->fine_rows.size();
      fine_block.assign(std::size_t(std::max<std::int64_t>(1, channels * rows * nxf)), std::numeric_limits<float>::quiet_NaN());
      for (std::size_t k = 0; k < fp->windows.size(); ++k)
        for (std::int64_t c = 0; c < channels; ++c)
          fine_block[std::size_t((c * rows + fp->windows[k].row - fp->fine_rows.begin) * nxf + fp->windows[k].col)] =
              values[k * std::size_t(channels) + std::size_t(c)];
    });
    try {
      if (fp) {
        fine_maps.write<float>({piece.image, 0, fp->fine_rows.begin, 0}, {1, channels, fp->fine_rows.size(), nxf}, fine_block.data());
        refined.write<std::uint8_t>({piece.image, piece.rows.begin, 0}, {1, piece.rows.size(), nx}, fp->refined.data());
      } else {
        const float dummy = 0;
        const std::uint8_t none = 0;
        fine_maps.write<float>({0, 0, 0, 0}, {0, 0, 0, 0}, &dummy);
        refined.write<std::uint8_t>({0, 0, 0}, {0, 0, 0}, &none);
      }
    } catch (...) {
      error = std::current_exception();
    }
    par::agree(comm, error);
  }
  if (progress) progress->finish();
  return result;
}

}  // namespace tmdflow::learn
