// TIFF layouts made here byte by byte: big-endian 16-bit pixels in several strips (read in one go
// by the contiguous-strips path and swapped), a file cut inside its pixels (one-line error), and a
// page refused after libtiff opened the file (closed again: no leak under the sanitizers).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/io/formats/image_source.hpp"

using namespace tmdflow;

namespace {

struct Entry {
  std::uint16_t tag, type;
  std::uint32_t value;  // SHORT (type 3) or LONG (type 4), one value
};

// A one-page TIFF: 8-byte header, the pixels, then the directory. `strips` strips of equal rows.
std::string tiff(bool big_endian, std::uint16_t bits, std::uint16_t samples, std::uint32_t width, std::uint32_t height,
                 const std::string& pixels, std::uint32_t strips) {
  std::string out;
  auto put = [&](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += char(big_endian ? (v >> (8 * (bytes - 1 - i))) & 0xff : (v >> (8 * i)) & 0xff);
  };
  out += big_endian ? "MM" : "II";
  put(42, 2);
  const std::uint32_t ifd = 8 + std::uint32_t(pixels.size()) + (pixels.size() & 1) + 4 * 2 * strips;
  put(ifd, 4);
  out += pixels;
  if (pixels.size() & 1) out += '\0';
  const std::uint32_t rows = height / strips, strip_bytes = std::uint32_t(pixels.size()) / strips;
  const std::uint32_t offsets_at = std::uint32_t(out.size());
  for (std::uint32_t k = 0; k < strips; ++k) put(8 + k * strip_bytes, 4);
  const std::uint32_t counts_at = std::uint32_t(out.size());
  for (std::uint32_t k = 0; k < strips; ++k) put(strip_bytes, 4);
  std::vector<Entry> e = {{256, 4, width}, {257, 4, height}, {258, 3, bits}, {259, 3, 1}, {262, 3, 1},
                          {273, 4, strips == 1 ? 8u : offsets_at}, {277, 3, samples}, {278, 4, rows},
                          {279, 4, strips == 1 ? strip_bytes : counts_at}};
  put(e.size(), 2);
  for (const auto& x : e) {
    put(x.tag, 2);
    put(x.type, 2);
    put(x.tag == 273 || x.tag == 279 ? strips : 1, 4);
    if (x.type == 3) {
      put(x.value, 2);
      put(0, 2);
    } else {
      put(x.value, 4);
    }
  }
  put(0, 4);
  return out;
}

std::string write(const tmdflow::testing::ScratchDir& dir, const std::string& name, const std::string& bytes) {
  const std::string p = dir.file(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

}  // namespace

TEST(ImageReadersTiffLayouts, BigEndianStripsReadInOneGoAndSwapped) {
  tmdflow::testing::ScratchDir dir;
  const std::uint32_t w = 5, h = 4;
  std::string pixels;
  for (std::uint32_t i = 0; i < w * h; ++i) {
    const std::uint16_t v = std::uint16_t(1000 * i + 7);
    pixels += char(v >> 8);
    pixels += char(v & 0xff);
  }
  for (std::uint32_t strips : {1u, 2u, 4u}) {
    const std::string p = write(dir, "be" + std::to_string(strips) + ".tif", tiff(true, 16, 1, w, h, pixels, strips));
    const auto src = io::open_image_source(p, io::ImageFormat::tiff);
    ASSERT_EQ(src->signals().size(), 1u);
    ASSERT_EQ(src->signals()[0].dtype, io::Dtype::u16);
    std::vector<std::uint16_t> got(w * h);
    src->read_frames(0, 0, 1, got.data());
    for (std::uint32_t i = 0; i < w * h; ++i) EXPECT_EQ(got[i], 1000 * i + 7) << strips << " strips, pixel " << i;
  }
}

TEST(ImageReadersTiffLayouts, FileCutInsideThePixels) {
  tmdflow::testing::ScratchDir dir;
  const std::string whole = tiff(false, 8, 1, 64, 64, std::string(64 * 64, '\x11'), 1);
  // The pixels' second half removed and the directory moved up: its strip runs past the end.
  std::string cut = whole.substr(0, 8 + 64 * 32) + whole.substr(8 + 64 * 64);
  const std::uint32_t ifd = 8 + 64 * 32 + 8;  // after the (unused) strip arrays of one strip
  for (int i = 0; i < 4; ++i) cut[4 + i] = char((ifd >> (8 * i)) & 0xff);
  const std::string p = write(dir, "cut.tif", cut);
  const auto src = io::open_image_source(p, io::ImageFormat::tiff);
  std::vector<char> out(64 * 64);
  try {
    src->read_frames(0, 0, 1, out.data());
    ADD_FAILURE() << "a page beyond the end of the file was read";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(p), std::string::npos) << m;
    EXPECT_NE(m.find("page 0"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(ImageReadersTiffLayouts, PageRefusedAfterOpeningIsClosed) {
  tmdflow::testing::ScratchDir dir;
  const std::string p = write(dir, "rgb.tif", tiff(false, 8, 3, 2, 2, std::string(12, '\x22'), 1));
  try {
    io::open_image_source(p, io::ImageFormat::tiff);
    ADD_FAILURE() << "an RGB TIFF was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("1 sample per pixel"), std::string::npos) << e.what();
  }
}
