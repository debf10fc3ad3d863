// The image pass hands every pixel of a stack to the analyses exactly once, sharded by image or by
// tile, with halos holding the right neighbours (a box filter computed tile by tile equals the
// whole-image filter, seamless across tile borders, with both border rules), writes the owned part
// of each pixel map, merges global results, and stops every rank together on an error or an
// interruption on one rank. Runs at 1 and 2 ranks with the same expectations.
#include <gtest/gtest.h>

#include <csignal>
#include <cmath>
#include <cstdlib>

#include "common/testing.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/image_pass.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"

namespace io = tmdflow::io;
namespace h5 = tmdflow::io::h5;
namespace par = tmdflow::par;

namespace {

const par::Comm& world() { return par::Runtime::world_comm(); }

// Every pixel of the stack has its own value (exact in float and in uint16 for these sizes).
double pixel_value(std::int64_t n, std::int64_t y, std::int64_t x) { return double(n * 5000 + y * 97 + x * 3 + (y * x) % 5); }

/// Writes a stack [n, h, w] of `dtype` collectively (each rank a block of images; none with n < ranks).
void write_stack(h5::Group root, const std::string& name, std::int64_t n, std::int64_t h, std::int64_t w, io::Dtype dtype) {
  h5::Dataset d = root.create_dataset(name, dtype, {n, h, w}, {1, h, w});
  const par::Range mine = par::block_partition(n, world().size(), world().rank());
  std::vector<double> values(std::size_t(std::max<std::int64_t>(1, mine.size() * h * w)));
  for (std::int64_t k = mine.begin; k < mine.end; ++k)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) values[std::size_t(((k - mine.begin) * h + y) * w + x)] = pixel_value(k, y, x);
  d.write<double>({mine.begin, 0, 0}, {mine.size(), h, w}, values.data());
}

// The border rules restated independently of the pass: clamp to the edge, or mirror by unfolding.
std::int64_t expected_index(std::int64_t i, std::int64_t n, io::ImageBorder border) {
  if (border == io::ImageBorder::clamp) return i < 0 ? 0 : i >= n ? n - 1 : i;
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/// Copies each owned pixel to a map, counts how often each pixel is seen (merged by a sum), checks
/// every halo pixel against the border rule, and keeps a global sum and maximum.
class CopyAndCount : public io::TileAnalysis {
 public:
  CopyAndCount(std::int64_t halo, io::ImageBorder border) : halo_(halo), border_(border) {}
  std::vector<std::string> pixel_maps() const override { return {"copy", "tile_index"}; }
  std::int64_t halo() const override { return halo_; }
  void prepare(const io::ImagePassShape& meta, std::int64_t local_tiles) override {
    meta_ = meta;
    local_tiles_ = local_tiles;
    seen_.assign(std::size_t(meta.images * meta.height * meta.width), 0);
    images_seen_.assign(std::size_t(meta.images), 0);
  }
  void process(const io::ImageTile& tile, const std::vector<io::TileMap>& maps) override {
    EXPECT_EQ(tile.local, processed_++) << "tiles in order";
    EXPECT_EQ(tile.halo, halo_);
    ++images_seen_[std::size_t(tile.image)];
    for (std::int64_t y = tile.owned_y.begin - halo_; y < tile.owned_y.end + halo_; ++y)
      for (std::int64_t x = tile.owned_x.begin - halo_; x < tile.owned_x.end + halo_; ++x) {
        const double want = pixel_value(tile.image, expected_index(y, meta_.height, border_), expected_index(x, meta_.width, border_));
        ASSERT_EQ(double(tile.at(y, x)), want) << "image " << tile.image << " pixel (" << y << ", " << x << ")";
      }
    for (std::int64_t y = tile.owned_y.begin; y < tile.owned_y.end; ++y)
      for (std::int64_t x = tile.owned_x.begin; x < tile.owned_x.end; ++x) {
        ++seen_[std::size_t((tile.image * meta_.height + y) * meta_.width + x)];
        maps[0].at(y, x) = tile.at(y, x);
        maps[1].at(y, x) = float(tile.index);
        sum_ += tile.at(y, x);
        max_ = std::max(max_, double(tile.at(y, x)));
      }
  }
  void merge(const par::Comm& comm) override {
    EXPECT_EQ(processed_, local_tiles_);
    comm.allreduce_inplace(seen_.data(), seen_.size(), par::Op::sum);
    comm.allreduce_inplace(images_seen_.data(), images_seen_.size(), par::Op::sum);
    sum_ = comm.allreduce(sum_, par::Op::sum);
    max_ = comm.allreduce(max_, par::Op::max);
  }
  std::vector<std::int64_t> seen_, images_seen_;
  double sum_ = 0, max_ = -1e300;

 private:
  std::int64_t halo_;
  io::ImageBorder border_;
  io::ImagePassShape meta_;
  std::int64_t local_tiles_ = 0, processed_ = 0;
};

/// Mean over a (2r+1)^2 box, computed from the tile and its halo.
class BoxFilter : public io::TileAnalysis {
 public:
  explicit BoxFilter(std::int64_t radius) : radius_(radius) {}
  std::vector<std::string> pixel_maps() const override { return {"box"}; }
  std::int64_t halo() const override { return radius_; }
  void process(const io::ImageTile& tile, const std::vector<io::TileMap>& maps) override {
    for (std::int64_t y = tile.owned_y.begin; y < tile.owned_y.end; ++y)
      for (std::int64_t x = tile.owned_x.begin; x < tile.owned_x.end; ++x) {
        double s = 0;
        for (std::int64_t dy = -radius_; dy <= radius_; ++dy)
          for (std::int64_t dx = -radius_; dx <= radius_; ++dx) s += tile.at(y + dy, x + dx);
        maps[0].at(y, x) = float(s / double((2 * radius_ + 1) * (2 * radius_ + 1)));
      }
  }

 private:
  std::int64_t radius_;
};

io::ImagePassOptions pass_options(io::ImageSharding sharding, std::int64_t tile, io::ImageBorder border) {
  io::ImagePassOptions o;
  o.sharding = sharding;
  o.tile = tile;
  o.border = border;
  o.show_progress = false;
  return o;
}

std::string describe(const io::ImagePassOptions& o) {
  return (o.sharding == io::ImageSharding::by_image ? std::string("by image") : "tiles of " + std::to_string(o.tile)) +
         ", border " + io::to_string(o.border);
}

}  // namespace

TEST(ImagePass, BorderIndexFollowsNumpyEdgeAndReflect) {
  const std::vector<std::int64_t> clamp = {0, 0, 0, 0, 1, 2, 3, 3}, reflect = {3, 2, 1, 0, 1, 2, 3, 2};
  for (std::int64_t i = -3; i < 5; ++i) {
    EXPECT_EQ(io::border_index(i, 4, io::ImageBorder::clamp), clamp[std::size_t(i + 3)]) << i;
    EXPECT_EQ(io::border_index(i, 4, io::ImageBorder::reflect), reflect[std::size_t(i + 3)]) << i;
  }
  EXPECT_EQ(io::border_index(-5, 1, io::ImageBorder::reflect), 0);
  EXPECT_EQ(io::image_border_from_string("clamp"), io::ImageBorder::clamp);
  EXPECT_THROW(io::image_border_from_string("wrap"), tmdflow::ConfigError);
}

TEST(ImagePass, EveryPixelOnceAndMapsEqualTheInput) {
  tmdflow::testing::ScratchDir dir;
  const std::int64_t n = 3, h = 23, w = 17;  // 3 images: 2 + 1 on two ranks; tiles that do not divide
  for (io::Dtype dtype : {io::Dtype::u16, io::Dtype::f64}) {
    for (const auto& options : {pass_options(io::ImageSharding::by_image, 0, io::ImageBorder::reflect),
                                pass_options(io::ImageSharding::by_tile, 5, io::ImageBorder::clamp),
                                pass_options(io::ImageSharding::by_tile, 8, io::ImageBorder::reflect),
                                pass_options(io::ImageSharding::by_tile, 100, io::ImageBorder::clamp)}) {
      const std::string what = io::dtype_name(dtype) + ", " + describe(options);
      const std::string path = dir.file("stack.h5");
      h5::File f = h5::File::create(path, &world());
      write_stack(f.root(), "images", n, h, w, dtype);
      h5::Group out = f.root().create_group("maps");
      CopyAndCount copy(2, options.border);
      io::run_image_pass(world(), f.root().open_dataset("images"), {&copy}, &out, options);
      const std::int64_t tiles_y = options.sharding == io::ImageSharding::by_image ? 1 : (h + options.tile - 1) / options.tile;
      const std::int64_t tiles_x = options.sharding == io::ImageSharding::by_image ? 1 : (w + options.tile - 1) / options.tile;
      double sum = 0, max = -1e300;
      for (std::int64_t k = 0; k < n; ++k) {
        EXPECT_EQ(copy.images_seen_[std::size_t(k)], tiles_y * tiles_x) << what << ": tiles of image " << k;
        for (std::int64_t y = 0; y < h; ++y)
          for (std::int64_t x = 0; x < w; ++x) {
            ASSERT_EQ(copy.seen_[std::size_t((k * h + y) * w + x)], 1) << what << ": image " << k << " pixel (" << y << ", " << x << ")";
            sum += pixel_value(k, y, x);
            max = std::max(max, pixel_value(k, y, x));
          }
      }
      EXPECT_DOUBLE_EQ(copy.sum_, sum) << what;
      EXPECT_EQ(copy.max_, max) << what;

      const auto copied = out.open_dataset("copy").read_all<double>();
      const auto tile_index = out.open_dataset("tile_index").read_all<double>();
      EXPECT_EQ(out.open_dataset("copy").shape(), (h5::Shape{n, h, w})) << what;
      for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t y = 0; y < h; ++y)
          for (std::int64_t x = 0; x < w; ++x) {
            const std::size_t at = std::size_t((k * h + y) * w + x);
            ASSERT_EQ(copied[at], pixel_value(k, y, x)) << what;
            const std::int64_t ty = options.sharding == io::ImageSharding::by_image ? 0 : y / options.tile;
            const std::int64_t tx = options.sharding == io::ImageSharding::by_image ? 0 : x / options.tile;
            ASSERT_EQ(tile_index[at], double((k * tiles_y + ty) * tiles_x + tx)) << what;
          }
      out = h5::Group();
      f.close();
    }
  }
}

TEST(ImagePass, TiledBoxFilterEqualsTheWholeImageFilter) {
  tmdflow::testing::ScratchDir dir;
  const std::int64_t n = 2, h = 19, w = 22;
  for (std::int64_t radius : {1, 3}) {  // radius 3 with tiles of 2: halos reach past the next tile
    for (const auto& options : {pass_options(io::ImageSharding::by_tile, 2, io::ImageBorder::reflect),
                                pass_options(io::ImageSharding::by_tile, 6, io::ImageBorder::clamp),
                                pass_options(io::ImageSharding::by_tile, 7, io::ImageBorder::reflect),
                                pass_options(io::ImageSharding::by_image, 0, io::ImageBorder::clamp)}) {
      const std::string what = "radius " + std::to_string(radius) + ", " + describe(options);
      const std::string path = dir.file("stack.h5");
      h5::File f = h5::File::create(path, &world());
      write_stack(f.root(), "images", n, h, w, io::Dtype::f32);
      h5::Group out = f.root().create_group("maps");
      BoxFilter box(radius);
      io::run_image_pass(world(), f.root().open_dataset("images"), {&box}, &out, options);
      const auto filtered = out.open_dataset("box").read_all<float>();
      for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t y = 0; y < h; ++y)
          for (std::int64_t x = 0; x < w; ++x) {
            double s = 0;
            for (std::int64_t dy = -radius; dy <= radius; ++dy)
              for (std::int64_t dx = -radius; dx <= radius; ++dx)
                s += pixel_value(k, expected_index(y + dy, h, options.border), expected_index(x + dx, w, options.border));
            const double want = s / double((2 * radius + 1) * (2 * radius + 1));
            ASSERT_NEAR(filtered[std::size_t((k * h + y) * w + x)], want, 1e-6 * (1 + std::abs(want)))
                << what << ": image " << k << " pixel (" << y << ", " << x << ")";
          }
      out = h5::Group();
      f.close();
    }
  }
}

TEST(ImagePass, ShardsByImageWithFewerImagesThanRanks) {
  tmdflow::testing::ScratchDir dir;
  for (std::int64_t n : {1, 3}) {  // at 2 ranks: one rank with no image; 3 not divisible by 2
    const std::string path = dir.file("stack.h5");
    h5::File f = h5::File::create(path, &world());
    write_stack(f.root(), "images", n, 9, 11, io::Dtype::i16);
    h5::Group out = f.root().create_group("maps");
    CopyAndCount copy(1, io::ImageBorder::reflect);
    io::run_image_pass(world(), f.root().open_dataset("images"), {&copy}, &out,
                       pass_options(io::ImageSharding::by_image, 0, io::ImageBorder::reflect));
    const par::Range mine = par::block_partition(n, world().size(), world().rank());
    for (std::int64_t k = 0; k < n; ++k) EXPECT_EQ(copy.images_seen_[std::size_t(k)], 1) << "image " << k << " of " << n;
    const auto copied = out.open_dataset("copy").read_all<double>();
    for (std::int64_t k = 0; k < n; ++k)
      for (std::int64_t y = 0; y < 9; ++y)
        for (std::int64_t x = 0; x < 11; ++x) ASSERT_EQ(copied[std::size_t((k * 9 + y) * 11 + x)], pixel_value(k, y, x));
    // This rank's tiles are its block of images.
    EXPECT_EQ(io::image_tiling(io::image_pass_shape(f.root().open_dataset("images")), {}).tiles_of(world().size(), world().rank()), mine);
    out = h5::Group();
    f.close();
  }
}

namespace {

/// Throws on one tile of the last rank, or raises an interruption there.
class FailOnLastTile : public io::TileAnalysis {
 public:
  explicit FailOnLastTile(bool interrupt) : interrupt_(interrupt) {}
  void prepare(const io::ImagePassShape& meta, std::int64_t) override { tiles_ = meta.images; }
  void process(const io::ImageTile& tile, const std::vector<io::TileMap>&) override {
    if (tile.index != tiles_ - 1) return;
    if (interrupt_)
      par::simulate_interrupt(SIGTERM);
    else
      throw tmdflow::InputError("bad tile " + std::to_string(tile.index));
  }

 private:
  bool interrupt_;
  std::int64_t tiles_ = 0;
};

}  // namespace

TEST(ImagePass, AnErrorOrAnInterruptionOnOneRankStopsEveryRank) {
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("stack.h5");
  h5::File f = h5::File::create(path, &world());
  write_stack(f.root(), "images", 4, 6, 5, io::Dtype::u8);
  const h5::Dataset images = f.root().open_dataset("images");
  const auto options = pass_options(io::ImageSharding::by_image, 0, io::ImageBorder::clamp);
  for (bool interrupt : {false, true}) {
    FailOnLastTile fail(interrupt);
    int code = 0;
    std::string message;
    try {
      io::run_image_pass(world(), images, {&fail}, nullptr, options);
    } catch (const tmdflow::Error& e) {
      code = int(e.code());
      message = e.what();
    }
    par::clear_interrupt_for_tests();
    if (interrupt) {
      EXPECT_EQ(code, 143) << message;
    } else {
      EXPECT_EQ(code, int(tmdflow::ExitCode::input)) << message;
      EXPECT_NE(message.find("bad tile 3"), std::string::npos) << message;
    }
  }
  const std::string spec = "image-read:" + std::to_string(world().size() - 1);
  setenv("TMDFLOW_INJECT_FAULT", spec.c_str(), 1);
  std::string message;
  try {
    CopyAndCount copy(0, io::ImageBorder::clamp);
    h5::Group out = f.root().create_group("maps");
    io::run_image_pass(world(), images, {&copy}, &out, options);
  } catch (const tmdflow::Error& e) {
    message = e.what();
  }
  unsetenv("TMDFLOW_INJECT_FAULT");
  EXPECT_NE(message.find("injected fault"), std::string::npos) << message;
}

TEST(ImagePass, RefusesAnythingButAThreeAxisStack) {
  tmdflow::testing::ScratchDir dir;
  h5::File f = h5::File::create(dir.file("flat.h5"), &world());
  h5::Dataset flat = f.root().create_dataset("image", io::Dtype::f32, {4, 5});
  try {
    CopyAndCount copy(0, io::ImageBorder::clamp);
    io::run_image_pass(world(), flat, {&copy}, nullptr, {});
    FAIL() << "expected an InputError";
  } catch (const tmdflow::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("[N, H, W]"), std::string::npos) << e.what();
  }
}
