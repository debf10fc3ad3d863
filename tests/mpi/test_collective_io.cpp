// Collective hyperslab I/O with uneven shards (and empty ones when ranks outnumber rows): each
// rank writes its block of rows of a chunked 4-D dataset; every rank then reads a different
// block and checks the values that the other ranks wrote.
#include <gtest/gtest.h>

#include <numeric>

#include "common/testing.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/par/partition.hpp"

namespace h5 = tmdflow::io::h5;
using tmdflow::par::block_partition;

namespace {

float value_at(std::int64_t rx, std::int64_t ry, std::int64_t qx, std::int64_t qy) {
  return float(rx * 1000 + ry * 100 + qx * 10 + qy) + 0.25f;
}

void round_trip(std::int64_t rows, std::int64_t cols) {
  const auto& comm = tmdflow::par::Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("cube.h5");
  const std::int64_t qx = 3, qy = 4;
  const h5::Shape shape{rows, cols, qx, qy};
  {
    h5::File f = h5::File::create(path, &comm);
    h5::Dataset d = f.root().create_dataset("data", tmdflow::io::Dtype::f32, shape, {1, 1, qx, qy});
    auto mine = block_partition(rows, comm.size(), comm.rank());
    std::vector<float> buf(std::size_t(mine.size() * cols * qx * qy));
    std::size_t i = 0;
    for (auto r = mine.begin; r < mine.end; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        for (std::int64_t a = 0; a < qx; ++a)
          for (std::int64_t b = 0; b < qy; ++b) buf[i++] = value_at(r, c, a, b);
    d.write<float>({mine.begin, 0, 0, 0}, {mine.size(), cols, qx, qy}, buf.data());
    d = h5::Dataset();
    f.close();
  }
  h5::File f = h5::File::open(path, h5::Mode::read, &comm);
  h5::Dataset d = f.root().open_dataset("data");
  EXPECT_EQ(d.shape(), shape);
  EXPECT_EQ(d.chunks(), (h5::Shape{1, 1, qx, qy}));
  // Read the block of the next rank (so values written by another rank are checked).
  auto other = block_partition(rows, comm.size(), (comm.rank() + 1) % comm.size());
  std::vector<float> got(std::size_t(other.size() * cols * qx * qy), -1.f);
  d.read<float>({other.begin, 0, 0, 0}, {other.size(), cols, qx, qy}, got.data());
  std::size_t i = 0;
  for (auto r = other.begin; r < other.end; ++r)
    for (std::int64_t c = 0; c < cols; ++c)
      for (std::int64_t a = 0; a < qx; ++a)
        for (std::int64_t b = 0; b < qy; ++b) ASSERT_FLOAT_EQ(got[i++], value_at(r, c, a, b));
  // Converting read: the same data as double.
  std::vector<double> all = d.read_all<double>();
  ASSERT_EQ(all.size(), std::size_t(rows * cols * qx * qy));
  EXPECT_DOUBLE_EQ(all.back(), value_at(rows - 1, cols - 1, qx - 1, qy - 1));
  d = h5::Dataset();
  f.close();
}

}  // namespace

TEST(CollectiveIO, UnevenShardsRoundTrip) { round_trip(5, 3); }
TEST(CollectiveIO, FewerRowsThanRanksLeavesEmptyShards) { round_trip(1, 2); }

TEST(CollectiveIO, StringMetadataOfAParallelFileIsWrittenOnClose) {
  const auto& comm = tmdflow::par::Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("strings.h5");
  {
    h5::File f = h5::File::create(path, &comm);
    auto g = f.root().create_group("meta");
    g.write_scalar_string("units", "A^-1");
    g.set_attr("note", std::string("Å"));
    g = h5::Group();
    f.close();
  }
  h5::File f = h5::File::open(path, h5::Mode::read, &comm);
  auto g = f.group("meta");
  EXPECT_EQ(g.open_dataset("units").read_string(), "A^-1");
  EXPECT_EQ(g.attr_string("note").value_or(""), "Å");
}
