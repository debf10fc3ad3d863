// The image readers (TIFF, MRC) against what RosettaSciIO reads from the same fixtures
// (../shared/data/images/RSCIIO_READINGS.json): shape, dtype, value sum/min/max, axes' scale and
// units (converted to Angstrom), and the dispatcher's format detection. The element checksums are
// compared end to end (tests/e2e/test_ingest_images.py, hashlib on the product).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/io/formats/image_source.hpp"
#include "tmdflow/io/formats/image_units.hpp"

using namespace tmdflow;

namespace {

nlohmann::json readings() {
  std::ifstream in(tmdflow::testing::shared_data("images/RSCIIO_READINGS.json"));
  return nlohmann::json::parse(in);
}

struct Stats {
  double sum = 0, min = HUGE_VAL, max = -HUGE_VAL;
};

Stats stats_of(const io::ImageSource& src, std::size_t signal) {
  const auto& s = src.signals()[signal];
  std::vector<char> buf(std::size_t(s.frames) * s.frame_bytes());
  src.read_frames(signal, 0, s.frames, buf.data());
  Stats st;
  io::visit_dtype(s.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* p = reinterpret_cast<const T*>(buf.data());
    for (std::size_t i = 0; i < buf.size() / sizeof(T); ++i) {
      st.sum += double(p[i]);
      st.min = std::min(st.min, double(p[i]));
      st.max = std::max(st.max, double(p[i]));
    }
  });
  return st;
}

void expect_matches_rsciio(const std::string& name, io::ImageFormat format) {
  SCOPED_TRACE(name);
  const auto all = readings();
  ASSERT_TRUE(all.contains(name));
  const auto& expected = all[name]["signals"][0];
  const auto src = io::open_image_source(tmdflow::testing::shared_data("images/" + name));
  EXPECT_EQ(io::detect_image_format(src->file()), format);
  EXPECT_TRUE(io::looks_like_image_file(src->file()));
  ASSERT_EQ(src->signals().size(), all[name]["signals"].size());
  const auto& s = src->signals()[0];
  std::vector<std::int64_t> shape;
  if (s.frames > 1 || expected["shape"].size() == 3) shape.push_back(s.frames);
  shape.push_back(s.height);
  shape.push_back(s.width);
  EXPECT_EQ(shape, expected["shape"].get<std::vector<std::int64_t>>());
  EXPECT_EQ(io::dtype_name(s.dtype), expected["dtype"].get<std::string>());
  const Stats st = stats_of(*src, 0);
  EXPECT_DOUBLE_EQ(st.sum, expected["sum"].get<double>());
  EXPECT_DOUBLE_EQ(st.min, expected["min"].get<double>());
  EXPECT_DOUBLE_EQ(st.max, expected["max"].get<double>());
  // Axes: the same scale (relative 1e-6: libtiff keeps resolutions in single precision) and the
  // same length in Angstrom.
  const auto& axes = expected["axes"];
  ASSERT_EQ(s.axes.size(), axes.size());
  for (std::size_t k = 0; k < axes.size(); ++k) {
    SCOPED_TRACE("axis " + std::to_string(k));
    const double scale = axes[k]["scale"].get<double>();
    EXPECT_NEAR(s.axes[k].scale, scale, 1e-6 * std::abs(scale));
    EXPECT_NEAR(s.axes[k].offset, axes[k]["offset"].get<double>(), 1e-6 * std::max(1.0, std::abs(axes[k]["offset"].get<double>())));
    const std::string units = axes[k]["units"].get<std::string>();
    if (units == "None") EXPECT_EQ(io::length_unit_in_A(s.axes[k].units), 0.0);
    else EXPECT_EQ(io::units_utf8(s.axes[k].units), units);
  }
  const double uy = io::length_unit_in_A(axes[axes.size() - 2]["units"].get<std::string>());
  const double ux = io::length_unit_in_A(axes[axes.size() - 1]["units"].get<std::string>());
  EXPECT_EQ(s.calibrated(), uy > 0 && ux > 0);
  if (s.calibrated()) {
    EXPECT_NEAR(s.pixel_size_y_A, axes[axes.size() - 2]["scale"].get<double>() * uy, 1e-6 * s.pixel_size_y_A);
    EXPECT_NEAR(s.pixel_size_x_A, axes[axes.size() - 1]["scale"].get<double>() * ux, 1e-6 * s.pixel_size_x_A);
  }
}

}  // namespace

TEST(ImageReaders, TiffImageJFloat32) { expect_matches_rsciio("tiff_imagej_float32.tif", io::ImageFormat::tiff); }
TEST(ImageReaders, TiffImageJStack) { expect_matches_rsciio("tiff_imagej_stack.tif", io::ImageFormat::tiff); }
TEST(ImageReaders, TiffSavedWithDM) { expect_matches_rsciio("tiff_saved_with_DM.tif", io::ImageFormat::tiff); }
TEST(ImageReaders, TiffSavedWithDMStack) {
  expect_matches_rsciio("tiff_saved_with_DM_stack.tif", io::ImageFormat::tiff);
  // The stack's frame axis is in seconds (DM tag 65005 "s", 65011 2.5): a frame time.
  const auto src = io::open_image_source(tmdflow::testing::shared_data("images/tiff_saved_with_DM_stack.tif"));
  EXPECT_DOUBLE_EQ(src->signals()[0].frame_time_s, 2.5);
}
TEST(ImageReaders, TiffZeissPaletteUncalibrated) { expect_matches_rsciio("tiff_Zeiss_AxioVision_uint8.tif", io::ImageFormat::tiff); }
TEST(ImageReaders, MrcHaadf) { expect_matches_rsciio("mrc_HAADFscan.mrc", io::ImageFormat::mrc); }

TEST(ImageReaders, StemImagesShapes) {
  const auto tif = io::open_image_source(tmdflow::testing::shared_data("stem-images/motif_MoSe2_monolayer_80K_small_region.tif"));
  EXPECT_EQ(tif->signals()[0].height, 512);
  EXPECT_EQ(tif->signals()[0].dtype, io::Dtype::f32);
  EXPECT_FALSE(tif->signals()[0].calibrated());
  const auto png = io::open_image_source(tmdflow::testing::shared_data("stem-images/tedgen_ReS2_large_field_1136_HAADF-1.png"));
  EXPECT_EQ(png->signals()[0].width, 1470);
  EXPECT_EQ(png->signals()[0].dtype, io::Dtype::u8);
}

TEST(ImageReaders, FormatNamesAndUnits) {
  EXPECT_EQ(io::image_format_from_name("TIF"), io::ImageFormat::tiff);
  EXPECT_EQ(io::image_format_name(io::ImageFormat::velox), "velox");
  EXPECT_THROW(io::image_format_from_name("jpeg"), ConfigError);
  EXPECT_DOUBLE_EQ(io::length_unit_in_A("\xb5m"), 1e4);  // Latin-1 micro sign, as DM writes it
  EXPECT_DOUBLE_EQ(io::length_unit_in_A("nm"), 10);
  EXPECT_DOUBLE_EQ(io::time_unit_in_s("ms"), 1e-3);
  EXPECT_EQ(io::length_unit_in_A("pixels"), 0.0);
}
