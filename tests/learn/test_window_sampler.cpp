// The sliding-window sampler over an image stack: every window of every image is evaluated exactly
// once and lands at its place in the maps, whatever the sharding (by image, by window rows inside
// an image, rank boundaries inside an image); the fine pass evaluates exactly the fine windows of
// the selected coarse cells, sees the right neighbouring coarse values across rank boundaries,
// and writes NaN elsewhere. Plain C++ models (no LibTorch): exact values. Runs at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "common/testing.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/window_sampler.hpp"
#include "tmdflow/par/partition.hpp"

namespace h5 = tmdflow::io::h5;
namespace learn = tmdflow::learn;
using tmdflow::par::Runtime;

namespace {

const tmdflow::par::Comm& world() { return Runtime::world_comm(); }

// Each pixel's value names it: image n, row y, column x (exact in float).
float code(std::int64_t n, std::int64_t y, std::int64_t x) { return float(n * 100000 + y * 256 + x); }

// numpy 'reflect' by unfolding, restated independently of window_grid.
std::int64_t mirror(std::int64_t r, std::int64_t n) {
  while (r < 0 || r >= n) r = r < 0 ? -r : 2 * (n - 1) - r;
  return r;
}

/// Two values per window: its first pixel (which names the window) and its mean. Counts windows.
class WindowProbe : public learn::PatchModel {
 public:
  std::int64_t output_channels(const learn::SampleShape&) override { return 2; }
  learn::ModelOutput forward(const float* batch, std::int64_t n, const learn::SampleShape& s) override {
    learn::ModelOutput out{{n, 2}, std::vector<float>(std::size_t(2 * n))};
    for (std::int64_t k = 0; k < n; ++k) {
      const float* w = batch + k * s.size();
      double sum = 0;
      for (std::int64_t i = 0; i < s.size(); ++i) sum += w[i];
      out.values[std::size_t(2 * k)] = w[0];
      out.values[std::size_t(2 * k + 1)] = float(sum / double(s.size()));
    }
    windows += n;
    return out;
  }
  std::string name() const override { return "window-probe"; }
  std::int64_t windows = 0;
};

struct Stack {
  std::int64_t n = 0, h = 0, w = 0;
};

void write_stack(const h5::File& f, const Stack& s) {
  h5::Dataset d = f.root().create_dataset("images", tmdflow::io::Dtype::i32, {s.n, s.h, s.w}, {1, s.h, s.w});
  const auto mine = tmdflow::par::block_partition(s.n, world().size(), world().rank());
  std::vector<float> values(std::size_t(std::max<std::int64_t>(1, mine.size() * s.h * s.w)));
  for (std::int64_t k = mine.begin; k < mine.end; ++k)
    for (std::int64_t y = 0; y < s.h; ++y)
      for (std::int64_t x = 0; x < s.w; ++x) values[std::size_t(((k - mine.begin) * s.h + y) * s.w + x)] = code(k, y, x);
  d.write<float>({mine.begin, 0, 0}, {mine.size(), s.h, s.w}, values.data());
}

/// What window (i, j) of image n must give: its first pixel and mean, from the convention.
struct Direct {
  Stack s;
  learn::PatchWindows w;
  std::int64_t rows() const { return w.padding == learn::Padding::reflect ? (s.h + w.stride_y - 1) / w.stride_y : (s.h - w.window_y) / w.stride_y + 1; }
  std::int64_t cols() const { return w.padding == learn::Padding::reflect ? (s.w + w.stride_x - 1) / w.stride_x : (s.w - w.window_x) / w.stride_x + 1; }
  std::int64_t off_y() const { return w.padding == learn::Padding::reflect ? (w.window_y - 1) / 2 - (w.stride_y - 1) / 2 : 0; }
  std::int64_t off_x() const { return w.padding == learn::Padding::reflect ? (w.window_x - 1) / 2 - (w.stride_x - 1) / 2 : 0; }
  std::int64_t first_y(std::int64_t i) const { return i * w.stride_y - off_y(); }
  std::int64_t first_x(std::int64_t j) const { return j * w.stride_x - off_x(); }
  float first(std::int64_t n, std::int64_t i, std::int64_t j) const { return code(n, mirror(first_y(i), s.h), mirror(first_x(j), s.w)); }
  double mean(std::int64_t n, std::int64_t i, std::int64_t j) const {
    double sum = 0;
    for (std::int64_t dy = 0; dy < w.window_y; ++dy)
      for (std::int64_t dx = 0; dx < w.window_x; ++dx) sum += code(n, mirror(first_y(i) + dy, s.h), mirror(first_x(j) + dx, s.w));
    return sum / double(w.window_y * w.window_x);
  }
};

learn::WindowSamplerOptions sampler_options(const learn::PatchWindows& windows) {
  learn::WindowSamplerOptions o;
  o.inference.windows = windows;
  o.inference.batch_size = 4;         // does not divide a row of windows
  o.inference.block_window_rows = 2;  // several steps per rank, not the same count on every rank
  o.inference.show_progress = false;
  return o;
}

}  // namespace

TEST(WindowSampler, EveryWindowOnceAtItsPlaceAtAnyRankCount) {
  tmdflow::testing::ScratchDir dir;
  for (std::int64_t n : {1, 3}) {  // one image split by rows; three images split 8 + 7 rows at 2 ranks
    for (auto padding : {learn::Padding::none, learn::Padding::reflect}) {
      const Stack s{n, 22, 19};
      const Direct direct{s, {4, 5, 4, 3, padding}};
      const std::string what = std::to_string(n) + " images, padding " + learn::to_string(padding);
      const std::string path = dir.file("stack.h5");
      WindowProbe model;
      learn::WindowSamplerResult result;
      {
        h5::File f = h5::File::create(path, &world());
        write_stack(f, s);
        result = learn::sample_image_stack(world(), model, f.root().open_dataset("images"), f.root().create_group("out"),
                                           sampler_options(direct.w));
        f.close();
      }
      const std::int64_t ny = direct.rows(), nx = direct.cols();
      EXPECT_EQ(result.maps_shape, (std::vector<std::int64_t>{n, 2, ny, nx})) << what;
      EXPECT_TRUE(result.fine_maps_shape.empty());
      // Exactly as many model evaluations as windows, over all ranks ...
      EXPECT_EQ(world().allreduce(model.windows, tmdflow::par::Op::sum), n * ny * nx) << what;
      // ... and each window where it belongs, with its own pixels.
      h5::File f = h5::File::open(path, h5::Mode::read, &world());
      const h5::Dataset maps = f.root().open_dataset("out/maps");
      EXPECT_EQ(maps.attr_doubles("window_stride").value_or(std::vector<double>{}), (std::vector<double>{4, 3}));
      EXPECT_EQ(maps.attr_string("window_padding").value_or(""), learn::to_string(padding));
      const auto values = maps.read_all<float>();
      for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t i = 0; i < ny; ++i)
          for (std::int64_t j = 0; j < nx; ++j) {
            ASSERT_EQ(values[std::size_t(((k * 2 + 0) * ny + i) * nx + j)], direct.first(k, i, j)) << what << " window " << k << ", " << i << ", " << j;
            ASSERT_NEAR(values[std::size_t(((k * 2 + 1) * ny + i) * nx + j)], direct.mean(k, i, j), 1e-2) << what;
          }
      if (padding == learn::Padding::none) {  // first pixels name the windows: all distinct
        std::set<float> firsts;
        for (std::int64_t k = 0; k < n; ++k)
          for (std::int64_t i = 0; i < ny * nx; ++i) firsts.insert(values[std::size_t(k * 2 * ny * nx + i)]);
        EXPECT_EQ(std::int64_t(firsts.size()), n * ny * nx);
      }
    }
  }
}

TEST(WindowSampler, FinePassEvaluatesExactlyTheWindowsOfTheSelectedCells) {
  tmdflow::testing::ScratchDir dir;
  for (std::int64_t n : {1, 3}) {
    for (auto padding : {learn::Padding::none, learn::Padding::reflect}) {
      const Stack s{n, 22, 19};
      const Direct coarse{s, {4, 5, 4, 3, padding}};
      const Direct fine{s, {4, 5, 2, 2, padding}};  // 2 does not divide 3: cells of 1 or 2 fine columns
      const std::string what = std::to_string(n) + " images, padding " + learn::to_string(padding);
      const std::int64_t ny = coarse.rows(), nx = coarse.cols(), nyf = fine.rows(), nxf = fine.cols();
      auto selected = [](std::int64_t k, std::int64_t i, std::int64_t j) { return (i + 2 * j + k) % 3 == 0; };

      auto options = sampler_options(coarse.w);
      options.fine_stride_y = 2;
      options.fine_stride_x = 2;
      std::int64_t wrong_neighbours = 0;
      options.refine = [&](const learn::CoarseNeighbourhood& at) {
        // The neighbourhood holds the first pass's values of the neighbours (edge repeated),
        // across rank boundaries too.
        for (std::int64_t di = -1; di <= 1; ++di)
          for (std::int64_t dj = -1; dj <= 1; ++dj) {
            const std::int64_t i = std::clamp<std::int64_t>(at.row() + di, 0, ny - 1), j = std::clamp<std::int64_t>(at.col() + dj, 0, nx - 1);
            if (at.value(0, di, dj) != coarse.first(at.image(), i, j)) ++wrong_neighbours;
          }
        return selected(at.image(), at.row(), at.col());
      };
      const std::string path = dir.file("stack.h5");
      WindowProbe model;
      learn::WindowSamplerResult result;
      {
        h5::File f = h5::File::create(path, &world());
        write_stack(f, s);
        result = learn::sample_image_stack(world(), model, f.root().open_dataset("images"), f.root().create_group("out"), options);
        f.close();
      }
      EXPECT_EQ(world().allreduce(wrong_neighbours, tmdflow::par::Op::sum), 0) << what;

      // The expected fine windows: those whose first pixel lies in a selected coarse cell.
      auto cell = [](std::int64_t first, std::int64_t coarse_first0, std::int64_t stride, std::int64_t cells) {
        const double c = std::floor(double(first - coarse_first0) / double(stride));
        return std::clamp<std::int64_t>(std::int64_t(c), 0, cells - 1);
      };
      std::int64_t cells = 0, windows = 0;
      std::vector<char> expected(std::size_t(n * nyf * nxf), 0);
      for (std::int64_t k = 0; k < n; ++k) {
        for (std::int64_t i = 0; i < ny; ++i)
          for (std::int64_t j = 0; j < nx; ++j) cells += selected(k, i, j);
        for (std::int64_t p = 0; p < nyf; ++p)
          for (std::int64_t q = 0; q < nxf; ++q)
            if (selected(k, cell(fine.first_y(p), coarse.first_y(0), 4, ny), cell(fine.first_x(q), coarse.first_x(0), 3, nx))) {
              expected[std::size_t((k * nyf + p) * nxf + q)] = 1;
              ++windows;
            }
      }
      ASSERT_GT(windows, 0);
      ASSERT_LT(windows, n * nyf * nxf);
      EXPECT_EQ(result.refined_cells, cells) << what;
      EXPECT_EQ(result.refined_windows, windows) << what;
      EXPECT_EQ(result.fine_maps_shape, (std::vector<std::int64_t>{n, 2, nyf, nxf})) << what;
      // Each coarse and each refined window evaluated once, no other.
      EXPECT_EQ(world().allreduce(model.windows, tmdflow::par::Op::sum), n * ny * nx + windows) << what;

      h5::File f = h5::File::open(path, h5::Mode::read, &world());
      const h5::Dataset fine_maps = f.root().open_dataset("out/fine_maps");
      EXPECT_EQ(fine_maps.attr_doubles("window_stride").value_or(std::vector<double>{}), (std::vector<double>{2, 2}));
      EXPECT_EQ(fine_maps.attr_int("refined_windows").value_or(-1), windows);
      const auto values = fine_maps.read_all<float>();
      for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t p = 0; p < nyf; ++p)
          for (std::int64_t q = 0; q < nxf; ++q) {
            const float first = values[std::size_t(((k * 2 + 0) * nyf + p) * nxf + q)];
            const float mean = values[std::size_t(((k * 2 + 1) * nyf + p) * nxf + q)];
            if (expected[std::size_t((k * nyf + p) * nxf + q)]) {
              ASSERT_EQ(first, fine.first(k, p, q)) << what << " fine window " << k << ", " << p << ", " << q;
              ASSERT_NEAR(mean, fine.mean(k, p, q), 1e-2) << what;
            } else {
              ASSERT_TRUE(std::isnan(first) && std::isnan(mean)) << what << " fine window " << k << ", " << p << ", " << q;
            }
          }
      const auto refined = f.root().open_dataset("out/refined").read_all<std::uint8_t>();
      for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t i = 0; i < ny; ++i)
          for (std::int64_t j = 0; j < nx; ++j) ASSERT_EQ(refined[std::size_t((k * ny + i) * nx + j)], selected(k, i, j) ? 1 : 0) << what;
    }
  }
}

TEST(WindowSampler, RefineWhereChangesFindsBoundaries) {
  // Two channels, a 3 x 3 map: channel 1 steps between columns 1 and 2 of row 1 only.
  const std::vector<float> r0 = {0, 0, 0, 5, 5, 5}, r1 = {0, 0, 0, 5, 5, 9}, r2 = {0, 0, 0, 5, 5, 5};
  const float* rows[3] = {r0.data(), r1.data(), r2.data()};
  const auto refine = learn::refine_where_changes(1.0f);
  EXPECT_FALSE(refine(learn::CoarseNeighbourhood(rows, 2, 3, 0, 1, 0)));
  EXPECT_TRUE(refine(learn::CoarseNeighbourhood(rows, 2, 3, 0, 1, 1)));  // right neighbour differs by 4
  EXPECT_TRUE(refine(learn::CoarseNeighbourhood(rows, 2, 3, 0, 1, 2)));  // its own value differs from all
  EXPECT_FALSE(learn::refine_where_changes(5.0f)(learn::CoarseNeighbourhood(rows, 2, 3, 0, 1, 2)));
}

TEST(WindowSampler, BadFineStridesAndFlatImagesAreRefused) {
  tmdflow::testing::ScratchDir dir;
  h5::File f = h5::File::create(dir.file("stack.h5"), &world());
  write_stack(f, {1, 12, 12});
  const h5::Dataset flat = f.root().create_dataset("flat", tmdflow::io::Dtype::f32, {12, 12});
  WindowProbe model;
  auto options = sampler_options({4, 4, 2, 2, learn::Padding::none});
  EXPECT_THROW(learn::sample_image_stack(world(), model, flat, f.root(), options), tmdflow::InputError);
  options.fine_stride_y = 3;  // larger than the first pass's stride
  options.fine_stride_x = 1;
  options.refine = learn::refine_where_changes(0.5f);
  EXPECT_THROW(learn::sample_image_stack(world(), model, f.root().open_dataset("images"), f.root().create_group("a"), options),
               tmdflow::ConfigError);
  options.fine_stride_y = 1;
  options.refine = nullptr;
  EXPECT_THROW(learn::sample_image_stack(world(), model, f.root().open_dataset("images"), f.root().create_group("b"), options),
               tmdflow::ConfigError);
}
