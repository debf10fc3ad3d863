// The window convention (map shape, halos, reflection), sharding of window rows with only the
// image rows a shard needs, and the failure policy of the sharded runner, with plain C++ models
// (no LibTorch): exact results, fast to compile.
#include <gtest/gtest.h>

#include "common/testing.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/patch_inference.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/partition.hpp"

namespace h5 = tmdflow::io::h5;
namespace learn = tmdflow::learn;
using tmdflow::par::Range;
using tmdflow::par::Runtime;

namespace {

// Two values per window: its sum and a position-weighted sum, so a window shifted or transposed
// by one pixel gives a different answer. Integer-valued images keep float sums exact.
class WindowMoments : public learn::PatchModel {
 public:
  std::int64_t output_channels(const learn::SampleShape&) override { return 2; }
  learn::ModelOutput forward(const float* batch, std::int64_t n, const learn::SampleShape& s) override {
    largest_batch = std::max(largest_batch, n);
    learn::ModelOutput out{{n, 2}, std::vector<float>(std::size_t(2 * n))};
    for (std::int64_t k = 0; k < n; ++k)
      for (std::int64_t dy = 0; dy < s.height; ++dy)
        for (std::int64_t dx = 0; dx < s.width; ++dx) {
          const float v = batch[(k * s.height + dy) * s.width + dx];
          out.values[std::size_t(2 * k)] += v;
          out.values[std::size_t(2 * k + 1)] += float((dy + 1) * 10 + dx + 1) * v;
        }
    return out;
  }
  std::string name() const override { return "window-moments"; }
  std::int64_t largest_batch = 0;
};

std::vector<float> integer_image(std::int64_t h, std::int64_t w) {
  std::vector<float> image(std::size_t(h * w));
  for (std::int64_t i = 0; i < h * w; ++i) image[std::size_t(i)] = float((i * 37) % 23);
  return image;
}

}  // namespace

TEST(WindowGrid, ValidWindowsCoverRowsFromIStrideAndShareHaloRows) {
  const learn::WindowGrid grid({5, 6, 2, 3, learn::Padding::none}, 25, 19);
  EXPECT_EQ(grid.map_rows(), 11);  // (25 - 5) / 2 + 1
  EXPECT_EQ(grid.map_cols(), 5);   // (19 - 6) / 3 + 1: column 18 is seen by no window
  EXPECT_EQ(grid.first_row(4), 8);
  EXPECT_EQ(grid.image_row(4, 4), 12);
  EXPECT_EQ(grid.image_col(4, 5), 17);
  const Range first = grid.image_rows_for({0, 6}), second = grid.image_rows_for({6, 11});
  EXPECT_EQ(first, (Range{0, 15}));
  EXPECT_EQ(second, (Range{12, 25}));
  EXPECT_EQ(first.end - second.begin, 5 - 2);  // the halo: wy - sy rows read by both shards
  EXPECT_TRUE(grid.image_rows_for({3, 3}).empty());
}

TEST(WindowGrid, ReflectPaddingGivesOneWindowPerStrideCell) {
  EXPECT_EQ(learn::reflect_index(-1, 5), 1);
  EXPECT_EQ(learn::reflect_index(-4, 5), 4);
  EXPECT_EQ(learn::reflect_index(5, 5), 3);
  EXPECT_EQ(learn::reflect_index(9, 5), 1);
  EXPECT_EQ(learn::reflect_index(7, 1), 0);
  // 'same' padding: stride 1, odd window, centred on its pixel.
  const learn::WindowGrid same({3, 3, 1, 1, learn::Padding::reflect}, 7, 4);
  EXPECT_EQ(same.map_rows(), 7);
  EXPECT_EQ(same.map_cols(), 4);
  EXPECT_EQ(same.first_row(0), -1);
  EXPECT_EQ(same.image_row(0, 0), 1);
  EXPECT_EQ(same.image_row(6, 2), 5);
  EXPECT_EQ(same.image_rows_for({0, 1}), (Range{0, 2}));
  // Stride 2, window 5: ceil(7 / 2) = 4 rows, window i starts at 2i - 2.
  const learn::WindowGrid strided({5, 5, 2, 2, learn::Padding::reflect}, 7, 7);
  EXPECT_EQ(strided.map_rows(), 4);
  EXPECT_EQ(strided.first_row(3), 4);
  EXPECT_EQ(strided.image_rows_for({3, 4}), (Range{4, 7}));  // rows 4, 5, 6, 5, 4
  // A window larger than the image is fine with reflection.
  EXPECT_NO_THROW(learn::WindowGrid({9, 9, 1, 1, learn::Padding::reflect}, 3, 3));
}

TEST(WindowGrid, BadSizesAreConfigErrors) {
  try {
    learn::WindowGrid({30, 6, 1, 1, learn::Padding::none}, 25, 19);
    FAIL() << "expected a ConfigError";
  } catch (const tmdflow::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("expected at most 25x19, found window 30x6"), std::string::npos) << e.what();
  }
  EXPECT_THROW(learn::WindowGrid({5, 5, 0, 1, learn::Padding::none}, 25, 19), tmdflow::ConfigError);
  EXPECT_THROW(learn::padding_from_string("same"), tmdflow::ConfigError);
  EXPECT_EQ(learn::padding_from_string("reflect"), learn::Padding::reflect);
}

TEST(PatchInference, ShardsOfWindowRowsNeedOnlyTheirImageRows) {
  const std::int64_t h = 23, w = 17;
  const auto image = integer_image(h, w);
  for (auto padding : {learn::Padding::none, learn::Padding::reflect}) {
    learn::PatchInferenceOptions options;
    options.windows = {6, 4, 4, 3, padding};  // stride 4 < window 6: two halo rows
    options.batch_size = 5;
    WindowMoments model;
    const learn::PatchMaps whole = learn::infer_image(model, image.data(), h, w, options);
    EXPECT_LE(model.largest_batch, 5);
    const learn::WindowGrid grid(options.windows, h, w);
    for (int parts : {2, 3, 7}) {
      for (int p = 0; p < parts; ++p) {
        const Range rows = tmdflow::par::block_partition(grid.map_rows(), parts, p);
        const Range need = grid.image_rows_for(rows);
        // Only the rows this shard needs, as a rank would hold them after its read.
        const std::vector<float> held(image.begin() + need.begin * w, image.begin() + need.end * w);
        const auto part = learn::infer_window_rows(model, grid, rows, {held.data(), need.begin, need.size(), w}, 0, options);
        ASSERT_EQ(part.rows, rows.size());
        for (std::int64_t c = 0; c < 2; ++c)
          for (std::int64_t i = 0; i < part.rows; ++i)
            for (std::int64_t j = 0; j < part.cols; ++j)
              ASSERT_EQ(part.at(c, i, j), whole.at(c, rows.begin + i, j)) << learn::to_string(padding) << " parts " << parts;
      }
    }
  }
}

TEST(PatchInference, ImageRowsMissingFromTheBufferAreRejected) {
  const auto image = integer_image(10, 10);
  WindowMoments model;
  learn::PatchInferenceOptions options;
  options.windows = {4, 4, 2, 2, learn::Padding::none};
  const learn::WindowGrid grid(options.windows, 10, 10);
  // Window rows 1..2 read image rows 2..7; rows 3.. are not enough.
  EXPECT_THROW(learn::infer_window_rows(model, grid, {1, 3}, {image.data() + 30, 3, 7, 10}, 0, options), tmdflow::Error);
}

namespace {

// Writes an integer image collectively (each rank its block of rows) as dataset "image".
void write_image(const h5::File& f, const std::vector<float>& image, std::int64_t h, std::int64_t w) {
  const auto& comm = Runtime::world_comm();
  h5::Dataset d = f.root().create_dataset("image", tmdflow::io::Dtype::u16, {h, w}, {3, w});
  const Range mine = tmdflow::par::block_partition(h, comm.size(), comm.rank());
  d.write<float>({mine.begin, 0}, {mine.size(), w}, image.data() + mine.begin * w);
}

}  // namespace

TEST(PatchInference, RanksWithoutWindowsStillJoinTheCollectives) {
  // One window row only: with 2 ranks the second has nothing to compute, read or write.
  const auto& comm = Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  const std::int64_t h = 5, w = 9;
  const auto image = integer_image(h, w);
  learn::PatchInferenceOptions options;
  options.windows = {5, 3, 1, 2, learn::Padding::none};
  WindowMoments model;
  {
    h5::File f = h5::File::create(dir.file("one_row.h5"), &comm);
    write_image(f, image, h, w);
    const auto shape = learn::infer_image_dataset(comm, model, f.root().open_dataset("image"), f.root(), "moments", options);
    EXPECT_EQ(shape, (std::vector<std::int64_t>{2, 1, 4}));
    f.close();
  }
  // Read back after closing: what rank 0 wrote, seen by every rank.
  h5::File f = h5::File::open(dir.file("one_row.h5"), h5::Mode::read, &comm);
  const auto got = f.root().open_dataset("moments").read_all<float>();
  EXPECT_EQ(got, learn::infer_image(model, image.data(), h, w, options).values);
}

TEST(PatchInference, ShardedRunnerRejectsBadInputOnEveryRank) {
  const auto& comm = Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  h5::File f = h5::File::create(dir.file("bad.h5"), &comm);
  write_image(f, integer_image(6, 8), 6, 8);
  f.root().create_dataset("cube", tmdflow::io::Dtype::f32, {2, 2, 2});
  WindowMoments model;
  learn::PatchInferenceOptions options;
  options.windows = {7, 3, 1, 1, learn::Padding::none};
  EXPECT_THROW(learn::infer_image_dataset(comm, model, f.root().open_dataset("image"), f.root(), "a", options),
               tmdflow::ConfigError);
  options.windows = {2, 2, 1, 1, learn::Padding::none};
  try {
    learn::infer_image_dataset(comm, model, f.root().open_dataset("cube"), f.root(), "b", options);
    FAIL() << "expected an InputError";
  } catch (const tmdflow::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/cube"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected 2 axes (H, W), found 3 axes"), std::string::npos) << e.what();
  }
  f.close();
}

namespace {

// Fails on the last rank only, in the middle of the run.
class FailsOnLastRank : public WindowMoments {
 public:
  learn::ModelOutput forward(const float* batch, std::int64_t n, const learn::SampleShape& s) override {
    const auto& comm = Runtime::world_comm();
    if (comm.rank() == comm.size() - 1) throw tmdflow::InputError("deliberate failure on rank " + std::to_string(comm.rank()));
    return WindowMoments::forward(batch, n, s);
  }
};

}  // namespace

TEST(PatchInference, AModelFailingOnOneRankStopsEveryRankWithItsMessage) {
  const auto& comm = Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  h5::File f = h5::File::create(dir.file("fail.h5"), &comm);
  write_image(f, integer_image(12, 8), 12, 8);
  FailsOnLastRank model;
  learn::PatchInferenceOptions options;
  options.windows = {3, 3, 1, 1, learn::Padding::none};
  options.block_window_rows = 2;
  try {
    learn::infer_image_dataset(comm, model, f.root().open_dataset("image"), f.root(), "moments", options);
    FAIL() << "expected an error on every rank";
  } catch (const tmdflow::Error& e) {
    // With one rank the model's own error comes through; with several, every rank gets the
    // CollectiveError of the rank that failed.
    if (comm.size() > 1) {
      const auto* collective = dynamic_cast<const tmdflow::par::CollectiveError*>(&e);
      ASSERT_NE(collective, nullptr) << e.what();
      EXPECT_EQ(collective->origin_rank(), comm.size() - 1);
    }
    EXPECT_EQ(e.code(), tmdflow::ExitCode::input);
    EXPECT_NE(std::string(e.what()).find("deliberate failure"), std::string::npos) << e.what();
  }
  f.close();
}
