// Per-pattern inference over a datacube (one pattern = one sample): a plain C++ model over every
// pattern of a uint16 datacube whose scan rows do not split evenly over the ranks, in blocks and
// batches that divide nothing, written as maps (C, Rx, Ry) and checked position by position.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/testing.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/pattern_inference.hpp"

namespace h5 = tmdflow::io::h5;
namespace learn = tmdflow::learn;
using tmdflow::par::Runtime;

namespace {

constexpr std::int64_t kRx = 5, kRy = 3, kQx = 4, kQy = 6;

std::uint16_t counts(std::int64_t rx, std::int64_t ry, std::int64_t qx, std::int64_t qy) {
  return std::uint16_t((rx * 131 + ry * 71 + qx * 13 + qy * 7) % 97);
}

// Per pattern: total counts, the brightest pixel, and pixel (qx = 1, qy = 2).
class PatternStats : public learn::PatchModel {
 public:
  std::int64_t output_channels(const learn::SampleShape&) override { return 3; }
  learn::ModelOutput forward(const float* batch, std::int64_t n, const learn::SampleShape& s) override {
    largest_batch = std::max(largest_batch, n);
    EXPECT_EQ(s.channels, 1);
    EXPECT_EQ(s.height, kQx);
    EXPECT_EQ(s.width, kQy);
    learn::ModelOutput out{{n, 3}, {}};
    for (std::int64_t k = 0; k < n; ++k) {
      const float* p = batch + k * s.size();
      float total = 0;
      for (std::int64_t i = 0; i < s.size(); ++i) total += p[i];
      out.values.insert(out.values.end(), {total, *std::max_element(p, p + s.size()), p[1 * kQy + 2]});
    }
    return out;
  }
  std::string name() const override { return "pattern-stats"; }
  std::int64_t largest_batch = 0;
};

}  // namespace

TEST(PatternInference, OnePatternIsOneSampleAndMapsFollowTheScan) {
  const auto& comm = Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  const std::string cube = dir.file("cube.h5"), out = dir.file("maps.h5");
  {
    h5::File f = h5::File::create(cube, &comm);
    h5::Dataset d = f.root().create_dataset("data", tmdflow::io::Dtype::u16, {kRx, kRy, kQx, kQy}, {1, 1, kQx, kQy});
    const auto mine = tmdflow::par::block_partition(kRx, comm.size(), comm.rank());
    std::vector<std::uint16_t> rows;
    for (auto rx = mine.begin; rx < mine.end; ++rx)
      for (std::int64_t ry = 0; ry < kRy; ++ry)
        for (std::int64_t qx = 0; qx < kQx; ++qx)
          for (std::int64_t qy = 0; qy < kQy; ++qy) rows.push_back(counts(rx, ry, qx, qy));
    rows.resize(std::max<std::size_t>(rows.size(), 1));
    d.write<std::uint16_t>({mine.begin, 0, 0, 0}, {mine.size(), kRy, kQx, kQy}, rows.data());
    d = h5::Dataset();
    f.close();
  }
  PatternStats model;
  learn::PatternInferenceOptions options;
  options.batch_size = 2;               // odd: batches straddle scan rows
  options.pass.block_patterns = 2 * kRy;  // two scan rows per read block
  options.pass.show_progress = false;
  {
    const auto reader = tmdflow::io::DatacubeReader::open(cube + ":/data", &comm);
    h5::File f = h5::File::create(out, &comm);
    const auto shape = learn::infer_datacube_patterns(comm, model, reader, f.root(), "stats", options);
    EXPECT_EQ(shape, (std::vector<std::int64_t>{3, kRx, kRy}));
    f.close();
  }
  EXPECT_LE(model.largest_batch, 2);
  h5::File f = h5::File::open(out, h5::Mode::read, &comm);
  h5::Dataset d = f.root().open_dataset("stats");
  ASSERT_EQ(d.shape(), (h5::Shape{3, kRx, kRy}));
  const auto maps = d.read_all<float>();
  for (std::int64_t rx = 0; rx < kRx; ++rx)
    for (std::int64_t ry = 0; ry < kRy; ++ry) {
      float total = 0, peak = 0;
      for (std::int64_t qx = 0; qx < kQx; ++qx)
        for (std::int64_t qy = 0; qy < kQy; ++qy) {
          total += counts(rx, ry, qx, qy);
          peak = std::max<float>(peak, counts(rx, ry, qx, qy));
        }
      const std::size_t at = std::size_t(rx * kRy + ry), plane = std::size_t(kRx * kRy);
      EXPECT_EQ(maps[at], total) << rx << "," << ry;
      EXPECT_EQ(maps[plane + at], peak) << rx << "," << ry;
      EXPECT_EQ(maps[2 * plane + at], counts(rx, ry, 1, 2)) << rx << "," << ry;
    }
}
