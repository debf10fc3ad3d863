// The DECTRIS Arina reader on the real fixture (../shared/data/4dstem/arina: a master, one
// bitshuffle/LZ4 data file, the scan's BASE.h5): which file is which, the master found from any of
// them, the scan metadata, the frames and metadata; the missing-filter message; the voltage from a
// wavelength. (Whole ingests at 1 and 2 ranks: tests/e2e/test_ingest_arina.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/testing.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/io/formats/arina.hpp"
#include "tmdflow/io/formats/arina_files.hpp"
#include "tmdflow/io/formats/arina_filters.hpp"
#include "tmdflow/io/formats/frame_source.hpp"

using namespace tmdflow;
namespace fs = std::filesystem;

namespace {

std::string arina(const std::string& name) { return tmdflow::testing::shared_data("4dstem/arina/" + name); }

// Runs f, which must throw E; returns its message.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error of the expected type";
  return "";
}

void expect_contains(const std::string& message, std::initializer_list<std::string> pieces) {
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const auto& p : pieces) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
}

}  // namespace

TEST(ArinaFiles, TellsMasterDataAndScanMetadataFilesByNameAndContent) {
  EXPECT_EQ(io::dectris_role(arina("test_00_master.h5")), io::DectrisRole::master);
  EXPECT_EQ(io::dectris_role(arina("test_00_data_000001.h5")), io::DectrisRole::data);
  EXPECT_EQ(io::dectris_role(arina("test_00.h5")), io::DectrisRole::scan_metadata);
  EXPECT_EQ(io::dectris_role(tmdflow::testing::shared_data("4dstem/py4DSTEM_size2x3x4x5.h5")), io::DectrisRole::none);
  // Renamed, the files are still known by what they hold.
  tmdflow::testing::ScratchDir dir;
  fs::copy_file(arina("test_00_master.h5"), dir.file("scan.h5"));
  fs::copy_file(arina("test_00_data_000001.h5"), dir.file("frames.h5"));
  EXPECT_EQ(io::dectris_role(dir.file("scan.h5")), io::DectrisRole::master);
  EXPECT_EQ(io::dectris_role(dir.file("frames.h5")), io::DectrisRole::data);
  EXPECT_EQ(io::detect_input_format(dir.file("scan.h5")), io::InputFormat::arina);
  EXPECT_EQ(io::detect_input_format(tmdflow::testing::shared_data("4dstem/py4DSTEM_size2x3x4x5.h5")), io::InputFormat::hdf5);
  EXPECT_EQ(io::input_format_from_name("DECTRIS"), io::InputFormat::arina);
}

TEST(ArinaFiles, FindsTheMasterBesideADataOrMetadataFileAndNamesItWhenMissing) {
  EXPECT_EQ(io::dectris_master_of(arina("test_00_data_000001.h5"), io::DectrisRole::data), arina("test_00_master.h5"));
  EXPECT_EQ(io::dectris_master_of(arina("test_00.h5"), io::DectrisRole::scan_metadata), arina("test_00_master.h5"));
  tmdflow::testing::ScratchDir dir;
  fs::create_symlink(arina("test_00_data_000001.h5"), dir.file("test_00_data_000001.h5"));
  expect_contains(message_of<InputError>([&] { io::dectris_master_of(dir.file("test_00_data_000001.h5"), io::DectrisRole::data); }),
                  {dir.file("test_00_data_000001.h5"), "expected test_00_master.h5 beside this data file", "found no such file"});
}

TEST(ArinaFiles, ResolvesTheMastersExternalLinksBesideIt) {
  const auto master = io::h5::File::open(arina("test_00_master.h5"), io::h5::Mode::read, nullptr);
  const auto links = io::dectris_data_links(master);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].link, "/entry/data/data_000001");
  EXPECT_EQ(fs::canonical(links[0].file), fs::canonical(arina("test_00_data_000001.h5")));
  EXPECT_EQ(links[0].dataset, "/entry/data/data");
}

TEST(ArinaFiles, ReadsTheScanShapeAndCalibrationOfStemMetadata) {
  EXPECT_EQ(io::dectris_scan_metadata_path(arina("test_00_master.h5")), arina("test_00.h5"));
  const auto s = io::read_stem_scan_metadata(arina("test_00.h5"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rows, 4);
  EXPECT_EQ(s->columns, 4);
  EXPECT_EQ(s->prescan, 0);
  EXPECT_NEAR(s->pixel_size_nm.value_or(0), 0.13915206, 1e-7);
  EXPECT_FALSE(s->pixel_size_calibrated);
  EXPECT_DOUBLE_EQ(s->high_tension_V.value_or(0), 300000.0);
  EXPECT_DOUBLE_EQ(s->camera_length_m.value_or(0), 0.115);
  EXPECT_FALSE(io::read_stem_scan_metadata(arina("test_00_master.h5")).has_value());
}

TEST(ArinaSource, ReadsTheFixtureWithItsMetadataAndChecksTheScan) {
  io::FrameSourceOptions o;
  o.scan = {2, 8};
  const auto src = io::open_frame_source(arina("test_00_master.h5"), o);
  EXPECT_EQ(src->meta().shape, (io::h5::Shape{2, 8, 192, 192}));
  EXPECT_EQ(src->meta().dtype, io::Dtype::u32);
  EXPECT_DOUBLE_EQ(src->meta().acquisition.at("voltage_kV"), 300.0);
  EXPECT_DOUBLE_EQ(src->meta().acquisition.at("detector_pixel_size_m"), 1e-4);
  EXPECT_DOUBLE_EQ(src->meta().acquisition.at("masked_pixels"), 0.0);
  // Q: a 100 um pixel at the nominal 0.115 m camera length, 300 kV.
  EXPECT_NEAR(src->meta().calibration.Q_pixel_size, 1e-4 / (0.115 * units::electron_wavelength_A(300)), 1e-12);
  EXPECT_EQ(src->meta().calibration.R_pixel_units, "nm");
  // The fixture's frames are all zero (data/README.md): read them across the whole file.
  std::vector<std::uint32_t> frames(std::size_t(16) * 192 * 192, 7u);
  src->read_frames(0, 16, frames.data());
  for (auto v : frames) ASSERT_EQ(v, 0u);

  o.scan = {5, 5};
  expect_contains(message_of<InputError>([&] { io::open_frame_source(arina("test_00_master.h5"), o); }),
                  {arina("test_00_master.h5"), "frame count", "expected 25 (--scan 5,5)", "found 16"});
  o.scan = {};
  o.dataset = "/entry/data/data_000001";
  expect_contains(message_of<ConfigError>([&] { io::open_frame_source(arina("test_00_master.h5"), o); }),
                  {"dataset", "arina"});
}

TEST(ArinaSource, AsksForTheScanWhenNothingRecordsIt) {
  tmdflow::testing::ScratchDir dir;
  for (const char* f : {"test_00_master.h5", "test_00_data_000001.h5"}) fs::create_symlink(arina(f), dir.file(f));
  const std::string m = message_of<ConfigError>([&] { io::open_frame_source(dir.file("test_00_master.h5"), {}); });
  expect_contains(m, {"scan: expected --scan Rx,Ry", dir.file("test_00_master.h5"), "16 frames", "no test_00.h5", "e.g. --scan 4,4"});
}

TEST(ArinaFilters, MissingFilterMessageNamesFileDatasetFilterAndPackage) {
  const std::string m = io::missing_filter_message("d.h5", "/entry/data/data", 32008, "bitshuffle; see https://x",
                                                   {"/a", "/b"}, nullptr);
  expect_contains(m, {"d.h5:/entry/data/data", "filter 32008 (bitshuffle/LZ4)", "found none in /a:/b", "'bitshuffle'"});
  const std::string env = io::missing_filter_message("d.h5", "/x", 32008, "", {}, "/empty");
  expect_contains(env, {"HDF5_PLUGIN_PATH=/empty", "unset it"});
  expect_contains(io::missing_filter_message("d.h5", "/x", 32004, "lz4", {"/a"}, nullptr), {"(LZ4)", "serial HDF5 only"});
  // Unknown to tmdflow: the file's own name for it, first clause.
  expect_contains(io::missing_filter_message("d.h5", "/x", 40000, "acme squeeze; v2", {"/a"}, nullptr),
                  {"filter 40000 (acme squeeze)", "no Debian 12 package"});
}

TEST(ArinaFilters, TheBitshufflePluginIsFoundWithoutHdf5PluginPath) {
  if (std::getenv("HDF5_PLUGIN_PATH")) GTEST_SKIP() << "HDF5_PLUGIN_PATH is set: the user's search path";
  io::add_filter_plugin_dir();
  const auto dirs = io::filter_plugin_dirs();
  EXPECT_TRUE(std::any_of(dirs.begin(), dirs.end(), [](const std::string& d) { return fs::exists(d + "/libh5bshuf.so"); }))
      << "no libh5bshuf.so in HDF5's plugin path (Debian package bitshuffle)";
  const auto data = io::h5::File::open(arina("test_00_data_000001.h5"), io::h5::Mode::read, nullptr);
  EXPECT_NO_THROW(io::require_filters(data.root().open_dataset("entry/data/data")));
}

TEST(ElectronVoltage, InvertsTheRelativisticWavelength) {
  for (double kV : {30.0, 80.0, 200.0, 300.0}) EXPECT_NEAR(io::electron_voltage_kV(units::electron_wavelength_A(kV)), kV, 1e-9 * kV);
  // The tabulated 300 kV wavelength (5 digits; the non-relativistic formula would give 388 kV).
  EXPECT_NEAR(io::electron_voltage_kV(0.019687), 300.0, 0.05);
}
