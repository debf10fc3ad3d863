// EMD 1.0 round trip of a datacube product written by several ranks (uneven rows), read back by
// DatacubeReader with its calibration, dims and product attributes; the py4DSTEM fixture read by
// the same reader; and reductions of Kokkos Views through par::allreduce_view.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "common/testing.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/reduce.hpp"

namespace io = tmdflow::io;
using tmdflow::par::block_partition;

TEST(EmdRoundTrip, DatacubeWrittenByAllRanksReadsBackWithCalibration) {
  const auto& comm = tmdflow::par::Runtime::world_comm();
  tmdflow::testing::ScratchDir dir;
  const std::string file = dir.file("cube.h5");
  io::DatacubeMeta meta;
  meta.shape = {5, 3, 4, 6};
  meta.dtype = io::Dtype::u16;
  meta.calibration = {0.25, "nm", 0.0125, "A^-1", true};
  meta.acquisition["voltage_kV"] = 80.0;
  meta.acquisition["convergence_mrad"] = 1.5;
  auto value = [](std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
    return std::uint16_t(a * 1000 + b * 100 + c * 10 + d);
  };
  {
    io::ProductWriter out(comm, io::parse_target(file + ":/cube_root", "/x"), {"datacube/1", "test", "0123456789abcdef", false, ""});
    auto writer = std::make_unique<io::DatacubeWriter>(out, meta);
    auto rows = block_partition(meta.shape[0], comm.size(), comm.rank());
    std::vector<std::uint16_t> buf;
    for (auto r = rows.begin; r < rows.end; ++r)
      for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t i = 0; i < 4; ++i)
          for (std::int64_t j = 0; j < 6; ++j) buf.push_back(value(r, c, i, j));
    writer->write_rows(rows.begin, rows.size(), buf.data());
    writer.reset();  // its datasets must be closed before the product is committed
    out.commit();
  }
  auto reader = io::DatacubeReader::open(file, &comm);  // no path: the file's only DataCube
  const auto& m = reader.meta();
  EXPECT_EQ(m.shape, meta.shape);
  EXPECT_EQ(m.dtype, io::Dtype::u16);
  EXPECT_DOUBLE_EQ(m.calibration.R_pixel_size, 0.25);
  EXPECT_EQ(m.calibration.R_pixel_units, "nm");
  EXPECT_DOUBLE_EQ(m.calibration.Q_pixel_size, 0.0125);
  EXPECT_EQ(m.calibration.Q_pixel_units, "A^-1");
  EXPECT_TRUE(m.calibration.QR_flip);
  EXPECT_TRUE(m.q_calibrated());
  EXPECT_DOUBLE_EQ(m.acquisition.at("voltage_kV"), 80.0);
  EXPECT_DOUBLE_EQ(m.acquisition.at("convergence_mrad"), 1.5);
  ASSERT_TRUE(reader.product().has_value());
  EXPECT_EQ(reader.product()->schema, "datacube/1");
  EXPECT_TRUE(reader.product()->complete);
  EXPECT_EQ(reader.product()->config_hash, "0123456789abcdef");
  // Every rank reads a shard other than the one it wrote.
  auto rows = block_partition(5, comm.size(), (comm.rank() + 1) % comm.size());
  std::vector<float> got(std::size_t(rows.size() * 3 * 4 * 6));
  reader.read_rows(rows.begin, rows.size(), got.data());
  std::size_t k = 0;
  for (auto r = rows.begin; r < rows.end; ++r)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t i = 0; i < 4; ++i)
        for (std::int64_t j = 0; j < 6; ++j) ASSERT_EQ(got[k++], float(value(r, c, i, j)));
  // The EMD dims carry the calibration: [0, step].
  auto dims = io::emd::read_dims(reader.file()->group("/cube_root/datacube"), 4);
  ASSERT_EQ(dims.size(), 4u);
  EXPECT_EQ(dims[0].name, "Rx");
  EXPECT_EQ(dims[3].name, "Qy");
  EXPECT_DOUBLE_EQ(dims[1].step, 0.25);
  EXPECT_DOUBLE_EQ(dims[2].step, 0.0125);
  EXPECT_EQ(dims[2].units, "A^-1");
}

TEST(EmdRoundTrip, ReadsThePy4DSTEMFixture) {
  const auto& comm = tmdflow::par::Runtime::world_comm();
  const std::string fixture = tmdflow::testing::shared_data("4dstem/py4DSTEM_size2x3x4x5.h5");
  auto reader = io::DatacubeReader::open(fixture, &comm);
  const auto& m = reader.meta();
  EXPECT_EQ(m.shape, (io::h5::Shape{2, 3, 4, 5}));
  EXPECT_EQ(m.dtype, io::Dtype::f32);
  EXPECT_NEAR(m.calibration.R_pixel_size, 0.126796875, 1e-12);
  EXPECT_EQ(m.calibration.R_pixel_units, "nm");
  EXPECT_NEAR(m.calibration.Q_pixel_size, 0.044251566616087125, 1e-12);
  EXPECT_EQ(m.calibration.Q_pixel_units, "A^-1");
  EXPECT_FALSE(m.calibration.QR_flip);
  EXPECT_FALSE(reader.product().has_value());
  // Sum over all ranks' shards equals the sum of a whole read on one rank.
  auto rows = block_partition(2, comm.size(), comm.rank());
  std::vector<double> mine(std::size_t(rows.size() * 60));
  reader.read_rows(rows.begin, rows.size(), mine.data());
  double s = 0;
  for (double v : mine) s += v;
  const double total = comm.allreduce(s, tmdflow::par::Op::sum);
  std::vector<double> all = reader.dataset().read_all<double>();
  double whole = 0;
  for (double v : all) whole += v;
  EXPECT_NEAR(total, whole, 1e-6 * std::abs(whole));
  EXPECT_GT(whole, 0.0);
}

TEST(Reductions, AllreduceViewSumsAndMaxima) {
  const auto& comm = tmdflow::par::Runtime::world_comm();
  const int n = comm.size(), r = comm.rank();
  Kokkos::View<double*> sum("sum", 7);
  Kokkos::View<float*> mx("max", 7);
  Kokkos::parallel_for("tmdflow::test::fill", 7, KOKKOS_LAMBDA(int i) {
    sum(i) = double(i + r);
    mx(i) = float(i * (r + 1));
  });
  tmdflow::par::allreduce_view(comm, sum, tmdflow::par::Op::sum);
  tmdflow::par::allreduce_view(comm, mx, tmdflow::par::Op::max);
  auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sum);
  auto hm = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), mx);
  for (int i = 0; i < 7; ++i) {
    EXPECT_DOUBLE_EQ(hs(i), double(n * i + n * (n - 1) / 2));
    EXPECT_FLOAT_EQ(hm(i), float(i * n));
  }
}
