// The pattern pass reads one chunk per pattern directly when the datacube is chunked (1, 1, Qx, Qy),
// unfiltered and stored in the native type -- in place from the mapped file where the chunks lie
// one after another, else by H5Dread_chunk -- and through collective hyperslab reads otherwise.
// Every path must hand the analyses the same patterns in the same order with consistent block
// indices, whatever the block size, on every rank; virtual detectors computed on those blocks must
// equal a plain loop over the data, and be bit-identical in place and read.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <functional>
#include <random>

#include "common/testing.hpp"
#include "tmdflow/analysis/virtual_detectors.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/pattern_pass.hpp"
#include "tmdflow/par/failure.hpp"

namespace io = tmdflow::io;
namespace h5 = tmdflow::io::h5;
namespace analysis = tmdflow::analysis;

namespace {

const tmdflow::par::Comm& world() { return tmdflow::par::Runtime::world_comm(); }

/// How a test datacube is stored.
struct Layout {
  std::string name;
  h5::Shape chunks;  // empty: contiguous
  bool big_endian = false;
  bool deflate = false;
  bool sparse = false;  // every third pattern never written (reads as the fill value, 0)
};

/// Pattern g, pixel q of a test cube: varied values, negative ones for signed types.
double value_at(io::Dtype dtype, std::int64_t g, std::int64_t q) {
  const double v = double((g * 7919 + q * 104729) % 997);
  if (dtype == io::Dtype::f32) return v * 0.25 + 0.125;
  if (dtype == io::Dtype::i16) return v - 500.0;
  return v;
}

bool stored(const Layout& layout, std::int64_t g) { return !layout.sparse || g % 3 != 1; }

/// Writes the cube serially on rank 0 with the plain HDF5 API (byte order, filters and fill
/// values the project's writer does not make), then waits for it on every rank.
void write_cube(const std::string& path, const h5::Shape& shape, io::Dtype dtype, const Layout& layout) {
  if (world().is_root()) {
    const std::int64_t n = shape[0] * shape[1], npix = shape[2] * shape[3];
    std::vector<double> values(std::size_t(n * npix));
    for (std::int64_t g = 0; g < n; ++g)
      for (std::int64_t q = 0; q < npix; ++q) values[std::size_t(g * npix + q)] = value_at(dtype, g, q);
    h5::Handle file(TMDFLOW_H5(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path), H5Fclose);
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    h5::Handle space(TMDFLOW_H5(H5Screate_simple(4, dims.data(), nullptr), path), H5Sclose);
    h5::Handle dcpl(TMDFLOW_H5(H5Pcreate(H5P_DATASET_CREATE), path), H5Pclose);
    if (!layout.chunks.empty()) {
      std::vector<hsize_t> c(layout.chunks.begin(), layout.chunks.end());
      TMDFLOW_H5(H5Pset_chunk(dcpl.get(), 4, c.data()), path);
    }
    if (layout.deflate) TMDFLOW_H5(H5Pset_deflate(dcpl.get(), 4), path);
    h5::Handle type(TMDFLOW_H5(H5Tcopy(h5::native_type(dtype)), path), H5Tclose);
    TMDFLOW_H5(H5Tset_order(type.get(), layout.big_endian ? H5T_ORDER_BE : H5T_ORDER_LE), path);
    h5::Handle data(TMDFLOW_H5(H5Dcreate2(file.get(), "data", type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), path),
                    H5Dclose);
    for (std::int64_t g = 0; g < n; ++g) {
      if (!stored(layout, g)) continue;
      hsize_t off[4] = {hsize_t(g / shape[1]), hsize_t(g % shape[1]), 0, 0}, cnt[4] = {1, 1, dims[2], dims[3]};
      h5::Handle fspace(TMDFLOW_H5(H5Dget_space(data.get()), path), H5Sclose);
      TMDFLOW_H5(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, off, nullptr, cnt, nullptr), path);
      h5::Handle mspace(TMDFLOW_H5(H5Screate_simple(4, cnt, nullptr), path), H5Sclose);
      TMDFLOW_H5(H5Dwrite(data.get(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(), H5P_DEFAULT, &values[std::size_t(g * npix)]), path);
    }
  }
  world().barrier();
}

/// Records the blocks it is handed (as double, by global pattern) and checks their indices.
class RecordBlocks : public io::PatternAnalysis {
 public:
  void prepare(const io::DatacubeMeta& meta, const io::Shard& shard) override {
    shard_ = shard;
    npix_ = meta.pattern_pixels();
    next_local_ = 0;
    values_.assign(std::size_t(shard.patterns() * npix_), -1.0);
  }
  void process(const io::PatternBlock& block) override {
    EXPECT_GT(block.count, 0);
    EXPECT_EQ(block.first_local, next_local_) << "blocks in order, none skipped";
    EXPECT_EQ(block.first, shard_.first_pattern() + block.first_local);
    ASSERT_LE(block.first_local + block.count, shard_.patterns());
    next_local_ = block.first_local + block.count;
    block.visit([&](auto view) {
      auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
      for (std::int64_t k = 0; k < block.count; ++k)
        for (std::int64_t q = 0; q < npix_; ++q) values_[std::size_t((block.first_local + k) * npix_ + q)] = double(host(k, q));
    });
  }
  void merge(const tmdflow::par::Comm&) override { EXPECT_EQ(next_local_, shard_.patterns()) << "every pattern of the shard"; }
  const std::vector<double>& values() const { return values_; }

 private:
  io::Shard shard_;
  std::int64_t npix_ = 0, next_local_ = 0;
  std::vector<double> values_;
};

io::PassOptions pass_options(std::int64_t block_patterns, bool direct, bool in_place = true) {
  io::PassOptions o;
  o.block_patterns = block_patterns;
  o.direct_chunk_reads = direct;
  o.in_place = in_place;
  o.show_progress = false;
  return o;
}

const std::vector<Layout>& layouts() {
  static const std::vector<Layout> all = {
      {"pattern chunks", {1, 1, 6, 5}},
      {"pattern chunks, some never written", {1, 1, 6, 5}, false, false, true},
      {"two patterns per chunk", {1, 2, 6, 5}},
      {"half patterns", {1, 1, 3, 5}},
      {"big-endian", {1, 1, 6, 5}, true},
      {"deflate", {1, 1, 6, 5}, false, true},
      {"contiguous", {}},
  };
  return all;
}

}  // namespace

TEST(PatternPass, ReadsChunksDirectlyOnlyForUnfilteredNativePatternChunks) {
  tmdflow::testing::ScratchDir dir;
  for (const auto& layout : layouts()) {
    const std::string path = dir.file("cube.h5");
    write_cube(path, {5, 3, 6, 5}, io::Dtype::u16, layout);
    {
      auto reader = io::DatacubeReader::open(path + ":/data", &world());
      const bool expected = layout.chunks == h5::Shape{1, 1, 6, 5} && !layout.big_endian && !layout.deflate;
      EXPECT_EQ(io::reads_chunks_directly(reader), expected) << layout.name;
    }
    world().barrier();
  }
}

TEST(PatternPass, DirectChunkAndHyperslabReadsGiveTheSameBlocks) {
  tmdflow::testing::ScratchDir dir;
  const h5::Shape shape{5, 3, 6, 5};  // 5 scan rows: uneven shards on 2 ranks
  for (io::Dtype dtype : {io::Dtype::u16, io::Dtype::f32, io::Dtype::i16}) {
    for (const auto& layout : layouts()) {
      const std::string path = dir.file("cube.h5");
      write_cube(path, shape, dtype, layout);
      {
        auto reader = io::DatacubeReader::open(path + ":/data", &world());
        const io::Shard shard = io::shard_of(reader.meta(), world().size(), world().rank());
        const std::int64_t npix = shape[2] * shape[3];
        const bool direct_layout = io::reads_chunks_directly(reader);
        std::int64_t stored_patterns = 0;
        for (std::int64_t k = 0; k < shard.patterns(); ++k) stored_patterns += stored(layout, shard.first_pattern() + k);
        for (std::int64_t block : {0, 1, 4, 7}) {
          for (int path = 0; path < 3; ++path) {  // in place allowed, direct reads only, hyperslab only
            const bool direct = path < 2, in_place = path == 0;
            // HDF5 1.10's collective reads fail on chunks never written ("MPI_File_set_view
            // failed: invalid datatype"); the direct path reads those independently.
            if (layout.sparse && !direct) continue;
            RecordBlocks rec;
            const io::PassReport report = io::run_pattern_pass(world(), reader, {&rec}, pass_options(block, direct, in_place));
            const std::string what = layout.name + ", " + io::dtype_name(dtype) + ", block " + std::to_string(block) +
                                     (in_place ? ", in place allowed" : direct ? ", direct reads" : ", hyperslab");
            // In place exactly where the chunks were written (the writer here fills them in scan
            // order, so they lie one after another); chunks never written are read (fill value).
            EXPECT_EQ(report.patterns_in_place, in_place && direct_layout ? stored_patterns : 0) << what;
            EXPECT_EQ(report.patterns_in_place + report.patterns_read, shard.patterns()) << what;
            for (std::int64_t k = 0; k < shard.patterns(); ++k) {
              const std::int64_t g = shard.first_pattern() + k;
              for (std::int64_t q = 0; q < npix; ++q)
                ASSERT_EQ(rec.values()[std::size_t(k * npix + q)], stored(layout, g) ? value_at(dtype, g, q) : 0.0)
                    << what << ": pattern " << g << ", pixel " << q;
            }
          }
        }
      }
      world().barrier();
    }
  }
}

TEST(PatternPass, AReadFailureOnOneRankStopsEveryRank) {
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("cube.h5");
  write_cube(path, {5, 3, 6, 5}, io::Dtype::u16, layouts()[0]);
  {
    auto reader = io::DatacubeReader::open(path + ":/data", &world());
    ASSERT_TRUE(io::reads_chunks_directly(reader));
    const std::string spec = "pattern-read:" + std::to_string(world().size() - 1);
    setenv("TMDFLOW_INJECT_FAULT", spec.c_str(), 1);
    for (bool direct : {true, false}) {
      RecordBlocks rec;
      std::string message;
      try {
        io::run_pattern_pass(world(), reader, {&rec}, pass_options(2, direct));
      } catch (const tmdflow::Error& e) {
        message = e.what();
      }
      EXPECT_NE(message.find("injected fault"), std::string::npos) << (direct ? "direct: " : "hyperslab: ") << message;
    }
    unsetenv("TMDFLOW_INJECT_FAULT");
  }
  world().barrier();
}

namespace {

/// Virtual detectors of a cube against a plain loop over every pattern (in double).
void check_virtual_detectors(const h5::Shape& shape, io::Dtype dtype, const analysis::VirtualDetectorConfig& config) {
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("cube.h5");
  write_cube(path, shape, dtype, {"pattern chunks", {1, 1, shape[2], shape[3]}});
  const std::int64_t rows = shape[2], cols = shape[3], npix = rows * cols, n = shape[0] * shape[1];
  {
    auto reader = io::DatacubeReader::open(path + ":/data", &world());
    const io::Shard shard = io::shard_of(reader.meta(), world().size(), world().rank());
    // Expected values.
    std::vector<std::vector<float>> masks;
    for (const auto& [name, m] : config.binary) masks.push_back(m.dense());
    for (const auto& [name, w] : config.weighted) masks.push_back(w);
    std::vector<double> mean(std::size_t(npix), 0.0), max(std::size_t(npix), -1e300);
    for (std::int64_t g = 0; g < n; ++g)
      for (std::int64_t q = 0; q < npix; ++q) {
        mean[std::size_t(q)] += value_at(dtype, g, q) / double(n);
        max[std::size_t(q)] = std::max(max[std::size_t(q)], value_at(dtype, g, q));
      }
    auto expected = [&](std::int64_t g) {
      std::vector<double> out;
      for (const auto& w : masks) {
        double s = 0;
        for (std::int64_t q = 0; q < npix; ++q) s += value_at(dtype, g, q) * w[std::size_t(q)];
        out.push_back(s);
      }
      double total = 0, mx = 0, my = 0;
      for (std::int64_t q = 0; q < npix; ++q) {
        total += value_at(dtype, g, q);
        mx += value_at(dtype, g, q) * double(q % cols);
        my += value_at(dtype, g, q) * double(q / cols);
      }
      if (config.com) {  // 0 where the pattern has no positive total
        out.push_back(total > 0 ? (mx / total - config.centre_x) * config.q_pixel_size : 0.0);
        out.push_back(total > 0 ? (my / total - config.centre_y) * config.q_pixel_size : 0.0);
      }
      if (config.sum) out.push_back(total);
      return out;
    };
    for (std::int64_t block : {0, 3}) {
      for (bool direct : {true, false}) {
        analysis::VirtualDetectors vd(config);
        io::run_pattern_pass(world(), reader, {&vd}, pass_options(block, direct));
        const std::string what = io::dtype_name(dtype) + " " + std::to_string(rows) + "x" + std::to_string(cols) + ", block " +
                                 std::to_string(block) + (direct ? ", direct allowed" : ", hyperslab");
        for (std::int64_t k = 0; k < shard.patterns(); ++k) {
          const std::vector<double> want = expected(shard.first_pattern() + k);
          ASSERT_EQ(want.size(), vd.images().size());
          for (std::size_t i = 0; i < want.size(); ++i) {
            auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vd.images()[i].second.values());
            EXPECT_NEAR(host(k), want[i], 2e-5 * (1.0 + std::abs(want[i])))
                << what << ": " << vd.images()[i].first << " of pattern " << shard.first_pattern() + k;
          }
        }
        for (std::int64_t q = 0; q < npix; ++q) {
          EXPECT_NEAR(vd.mean_pattern()[std::size_t(q)], mean[std::size_t(q)], 1e-5 * (1.0 + std::abs(mean[std::size_t(q)]))) << what;
          EXPECT_EQ(vd.max_pattern()[std::size_t(q)], float(max[std::size_t(q)])) << what;
        }
      }
    }
  }
  world().barrier();
}

analysis::VirtualDetectorConfig detectors(std::int64_t rows, std::int64_t cols, bool many_masks) {
  analysis::VirtualDetectorConfig c;
  c.centre_x = 0.5 * double(cols - 1) + 0.3;
  c.centre_y = 0.5 * double(rows - 1) - 0.2;
  c.q_pixel_size = 0.05;
  const double r = 0.5 * double(std::min(rows, cols));
  c.binary.emplace_back("bf", analysis::annulus_mask(rows, cols, c.centre_x, c.centre_y, 0, 0.3 * r));
  c.binary.emplace_back("adf", analysis::annulus_mask(rows, cols, c.centre_x, c.centre_y, 0.5 * r, 2.0 * r));
  if (many_masks) {
    // More masks than the sweep sums itself: the tiles where more than two are non-zero take the
    // second pass over the converted values.
    std::vector<float> half(std::size_t(rows * cols), 0.0f), weights(std::size_t(rows * cols));
    std::mt19937 rng(7);
    for (std::int64_t q = 0; q < rows * cols; ++q) {
      half[std::size_t(q)] = q % cols < cols / 2 ? 1.0f : 0.0f;
      weights[std::size_t(q)] = float(rng() % 1000) / 500.0f - 0.5f;
    }
    c.binary.emplace_back("left", analysis::mask_from_dense(rows, cols, half));
    c.weighted.emplace_back("random", weights);
  }
  c.com = true;
  c.sum = true;
  c.max_pattern = true;
  return c;
}

}  // namespace

TEST(VirtualDetectors, EqualAPlainLoopOverEveryPattern) {
  // 40 x 37: tiles of 27 rows (the last one shorter); 3 x 1100: tiles that are row segments.
  for (const h5::Shape& shape : {h5::Shape{5, 3, 40, 37}, h5::Shape{3, 2, 3, 1100}})
    for (io::Dtype dtype : {io::Dtype::u16, io::Dtype::f32, io::Dtype::i16})
      for (bool many_masks : {false, true}) check_virtual_detectors(shape, dtype, detectors(shape[2], shape[3], many_masks));
}

namespace {

/// A datacube product written by tmdflow's own writer on every rank (parallel HDF5, the file
/// format and allocation tmdflow's stages write).
template <class T>
void write_tmdflow_cube(const std::string& file, const h5::Shape& shape) {
  io::DatacubeMeta meta;
  meta.shape = shape;
  meta.dtype = io::dtype_of<T>();
  meta.calibration = {0.25, "nm", 0.05, "A^-1", false};
  io::ProductInfo info;
  info.schema = "datacube/1";
  info.stage = "test";
  info.config_hash = "0123456789abcdef";
  io::ProductWriter out(world(), io::parse_target(file + ":/cube_root", "/x"), info);
  auto writer = std::make_unique<io::DatacubeWriter>(out, meta);
  const auto rows = tmdflow::par::block_partition(shape[0], world().size(), world().rank());
  const std::int64_t npix = shape[2] * shape[3];
  std::vector<T> buf;
  for (std::int64_t g = rows.begin * shape[1]; g < rows.end * shape[1]; ++g)
    for (std::int64_t q = 0; q < npix; ++q) buf.push_back(T(value_at(meta.dtype, g, q)));
  writer->write_rows(rows.begin, rows.size(), buf.data());
  writer.reset();
  out.commit();
}

std::vector<std::vector<float>> images_of(const analysis::VirtualDetectors& vd) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, map] : vd.images()) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), map.values());
    out.emplace_back(host.data(), host.data() + host.size());
  }
  out.push_back(vd.mean_pattern());
  out.push_back(vd.max_pattern());
  return out;
}

}  // namespace

TEST(PatternPass, FilesTmdflowWritesAreReadInPlaceWithBitIdenticalResults) {
  tmdflow::testing::ScratchDir dir;
  const h5::Shape shape{7, 5, 24, 20};  // 7 scan rows: uneven shards on 2 ranks
  for (io::Dtype dtype : {io::Dtype::u16, io::Dtype::f32}) {
    const std::string file = dir.file(io::dtype_name(dtype) + ".h5");
    if (dtype == io::Dtype::u16) write_tmdflow_cube<std::uint16_t>(file, shape);
    else write_tmdflow_cube<float>(file, shape);
    auto reader = io::DatacubeReader::open(file, &world());
    ASSERT_TRUE(io::reads_chunks_directly(reader));
    const io::Shard shard = io::shard_of(reader.meta(), world().size(), world().rank());
    const analysis::VirtualDetectorConfig config = detectors(shape[2], shape[3], true);
    for (std::int64_t block : {0, 4}) {
      const std::string what = io::dtype_name(dtype) + ", block " + std::to_string(block);
      analysis::VirtualDetectors in_place(config), read(config);
      const io::PassReport a = io::run_pattern_pass(world(), reader, {&in_place}, pass_options(block, true, true));
      const io::PassReport b = io::run_pattern_pass(world(), reader, {&read}, pass_options(block, true, false));
      EXPECT_EQ(a.patterns_in_place, shard.patterns()) << what << ": every pattern of the rank in place";
      EXPECT_EQ(a.patterns_read, 0) << what;
      EXPECT_EQ(b.patterns_in_place, 0) << what;
      EXPECT_EQ(b.patterns_read, shard.patterns()) << what;
      const auto images_in_place = images_of(in_place), images_read = images_of(read);
      ASSERT_EQ(images_in_place.size(), images_read.size());
      for (std::size_t i = 0; i < images_read.size(); ++i) {
        ASSERT_EQ(images_in_place[i].size(), images_read[i].size()) << what;
        EXPECT_EQ(0, std::memcmp(images_in_place[i].data(), images_read[i].data(), images_read[i].size() * sizeof(float)))
            << what << ": product " << i << " differs between in-place and read patterns";
      }
    }
  }
  world().barrier();
}
