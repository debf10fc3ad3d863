// The header parsers of the ingest readers (Merlin .mib frame headers and .hdr, NumPy .npy) on
// well-formed and malformed headers, and the helpers the readers share (scan blocks, byte swaps,
// a raw file round trip).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/testing.hpp"
#include "tmdflow/io/formats/frame_source.hpp"
#include "tmdflow/io/formats/merlin.hpp"
#include "tmdflow/io/formats/npy.hpp"

using namespace tmdflow;
using io::parse_mib_header;
using io::parse_npy_header;

namespace {

// The first fields of a real single-chip header (Merlin 0.77), padded with NULs to 384 bytes.
std::string mib_header(const std::string& fields, std::size_t size = 384) {
  std::string h = fields;
  h.resize(size, '\0');
  return h;
}
const std::string kSingle =
    "MQ1,000001,00384,01,0256,0256,U16,   1x1,01,2021-04-15 15:01:38.996867,0.001000,0,0,0,2.000000E+0,"
    "5.110000E+2,3RX,011,511,MQ1A,2021-04-15T14:01:38.996867651Z,1000000ns,12,";

// Expects an InputError whose one-line message contains every piece.
template <class F>
void expect_input_error(F&& f, std::initializer_list<std::string> pieces) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    for (const auto& p : pieces) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' not in: " << m;
  }
}

// A .npy header as numpy.lib.format writes it: magic, version, length, dict padded to 64 bytes.
std::string npy_header(const std::string& dict, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string text = dict;
  while ((prefix + text.size() + 1) % 64 != 0) text += ' ';
  text += '\n';
  std::string h = "\x93NUMPY";
  h += char(major);
  h += char(0);
  const std::size_t n = text.size();
  h += char(n & 0xff);
  h += char((n >> 8) & 0xff);
  if (major != 1) {
    h += char((n >> 16) & 0xff);
    h += char((n >> 24) & 0xff);
  }
  return h + text;
}

}  // namespace

TEST(MibHeader, ParsesSingleChipFields) {
  const auto h = parse_mib_header(mib_header(kSingle), "a.mib", 0);
  EXPECT_EQ(h.sequence, 1);
  EXPECT_EQ(h.header_bytes, 384);
  EXPECT_EQ(h.chips, 1);
  EXPECT_EQ(h.width, 256);
  EXPECT_EQ(h.height, 256);
  EXPECT_EQ(h.type, "U16");
  EXPECT_EQ(h.dtype(), io::Dtype::u16);
  EXPECT_EQ(h.layout, "1x1");
  ASSERT_TRUE(h.exposure_s);
  EXPECT_DOUBLE_EQ(*h.exposure_s, 0.001);
  ASSERT_TRUE(h.counter_depth);
  EXPECT_EQ(*h.counter_depth, 12);
  EXPECT_FALSE(h.raw());
}

TEST(MibHeader, ParsesQuadAndRawTypes) {
  const auto q = parse_mib_header(mib_header("MQ1,000009,00768,04,0512,0256,U08,   2x2,0F,x", 768), "q.mib", 8);
  EXPECT_EQ(q.header_bytes, 768);
  EXPECT_EQ(q.width, 512);
  EXPECT_EQ(q.height, 256);  // an ROI: 256 rows of 512
  EXPECT_EQ(q.dtype(), io::Dtype::u8);
  EXPECT_EQ(q.layout, "2x2");
  EXPECT_FALSE(q.counter_depth);
  EXPECT_TRUE(parse_mib_header(mib_header("MQ1,000001,00384,01,0256,0256,R64,   1x1,01"), "r.mib", 0).raw());
}

TEST(MibHeader, RejectsMalformedHeadersNamingFileFrameExpectedAndFound) {
  expect_input_error([] { parse_mib_header(mib_header("XQ1,000001,00384,01,0256,0256,U16,   1x1"), "b.mib", 1); },
                     {"b.mib", "frame 1", "magic", "expected 'MQ1'", "found 'XQ1'"});
  expect_input_error([] { parse_mib_header(mib_header("MQ1,000001,00384,01"), "b.mib", 2); },
                     {"b.mib", "frame 2", "fields", "found 4"});
  expect_input_error([] { parse_mib_header(mib_header("MQ1,000001,0x384,01,0256,0256,U16,   1x1"), "b.mib", 0); },
                     {"size (bytes)", "found '0x384'"});
  expect_input_error([] { parse_mib_header(mib_header("MQ1,000001,00384,01,0000,0256,U16,   1x1"), "b.mib", 0); },
                     {"width", "from 1 to 65536", "found '0000'"});
  expect_input_error([] { parse_mib_header(mib_header("MQ1,000001,00384,01,0256,0256,F32,   1x1"), "b.mib", 0); },
                     {"pixel type", "U08, U16, U32", "found 'F32'"});
  expect_input_error([] { parse_mib_header(std::string("\x01\x02\x03\x04", 4), "b.mib", 5); },
                     {"frame 5", "found '\\x01\\x02\\x03\\x04'"});
  expect_input_error([] { parse_mib_header("", "b.mib", 0); }, {"magic", "found ''"});
}

TEST(MerlinHdr, ReadsFrameCountsAndRejectsNonNumbers) {
  const std::string text =
      "HDR,\t\nCounter Depth (number):\t6\nFrames in Acquisition (Number):\t8\nFrames per Trigger (Number):\t1\n"
      "Time and Date Stamp (day, mnth, yr, hr, min, s):\t07/05/2021 18:50:41\nEnd\t   ";
  const auto hdr = io::parse_merlin_hdr(text + std::string(5, '\0'), "a.hdr");
  EXPECT_EQ(hdr.frames_in_acquisition.value_or(-1), 8);
  EXPECT_EQ(hdr.frames_per_trigger.value_or(-1), 1);
  EXPECT_EQ(hdr.counter_depth.value_or(-1), 6);
  EXPECT_FALSE(io::parse_merlin_hdr("HDR,\nEnd\n", "b.hdr").frames_in_acquisition);
  expect_input_error([] { io::parse_merlin_hdr("Frames in Acquisition (Number):\teight\n", "c.hdr"); },
                     {"c.hdr", "Frames in Acquisition", "expected a whole number", "found 'eight'"});
}

TEST(NpyHeader, ParsesVersionsByteOrdersAndShapes) {
  auto h = parse_npy_header(npy_header("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3, 4, 5), }"), "a.npy");
  EXPECT_EQ(h.major_version, 1);
  EXPECT_EQ(h.dtype, io::Dtype::u16);
  EXPECT_EQ(h.byte_order, io::ByteOrder::little);
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(h.data_offset % 64, 0u);
  h = parse_npy_header(npy_header("{\"descr\":\">f4\",\"fortran_order\":True,\"shape\":(7,)}", 2), "b.npy");
  EXPECT_EQ(h.major_version, 2);
  EXPECT_EQ(h.dtype, io::Dtype::f32);
  EXPECT_EQ(h.byte_order, io::ByteOrder::big);
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<std::int64_t>{7}));
  h = parse_npy_header(npy_header("{'descr': '|u1', 'fortran_order': False, 'shape': (3L, 4L, 5L), }", 3), "c.npy");
  EXPECT_EQ(h.dtype, io::Dtype::u8);
  EXPECT_EQ(h.shape.size(), 3u);
}

TEST(NpyHeader, RejectsMalformedHeaders) {
  const std::string good = npy_header("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }");
  expect_input_error([] { parse_npy_header("NUMPY\x01\x00\x10\x00{}", "m.npy"); }, {"m.npy", "magic", "NUMPY"});
  std::string v9 = good;
  v9[6] = 9;
  expect_input_error([&] { parse_npy_header(v9, "v.npy"); }, {"v.npy", "version", "expected 1.0, 2.0 or 3.0", "found 9.0"});
  expect_input_error([&] { parse_npy_header(good.substr(0, 40), "t.npy"); }, {"t.npy", "truncated"});
  expect_input_error([] { parse_npy_header(npy_header("{'descr': [('a', '<u2')], 'fortran_order': False, 'shape': (2,), }"), "s.npy"); },
                     {"s.npy", "descr", "not a structured type"});
  expect_input_error([] { parse_npy_header(npy_header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }"), "c.npy"); },
                     {"c.npy", "descr", "plain number type", "found '<c8'"});
  expect_input_error([] { parse_npy_header(npy_header("{'descr': '<u2', 'fortran_order': False, }"), "n.npy"); },
                     {"n.npy", "no shape"});
  expect_input_error([] { parse_npy_header(npy_header("{'descr': '<u2', 'fortran_order': Maybe, 'shape': (2,), }"), "b.npy"); },
                     {"fortran_order", "True or False", "found 'Maybe"});
  expect_input_error([] { parse_npy_header(npy_header("{'descr': '<u2', 'fortran_order': False, 'shape': (2, x), }"), "x.npy"); },
                     {"shape", "whole numbers"});
}

TEST(ScanBlocks, CoverTheRowsInScanOrderWithinTheLimit) {
  for (std::int64_t cols : {1, 3, 7}) {
    for (std::int64_t max_frames : {1, 2, 3, 5, 8, 100}) {
      const par::Range rows{2, 7};
      std::int64_t next = rows.begin * cols;
      for (const auto& b : io::scan_blocks(rows, cols, max_frames)) {
        EXPECT_EQ(b.row0 * cols + b.col0, next) << cols << " " << max_frames;
        EXPECT_LE(b.frames(), std::max<std::int64_t>(max_frames, 1));
        EXPECT_TRUE(b.ncols == cols || b.nrows == 1);
        next += b.frames();
      }
      EXPECT_EQ(next, rows.end * cols);
    }
  }
  EXPECT_TRUE(io::scan_blocks(par::Range{3, 3}, 4, 10).empty());
}

TEST(ByteSwap, ReversesEachElement) {
  std::uint16_t a[2] = {0x0102, 0xA0B0};
  io::swap_bytes(a, 2, 2);
  EXPECT_EQ(a[0], 0x0201);
  EXPECT_EQ(a[1], 0xB0A0);
  std::uint32_t b = 0x01020304;
  io::swap_bytes(&b, 1, 4);
  EXPECT_EQ(b, 0x04030201u);
  double d = 1.5, e = d;
  io::swap_bytes(&e, 1, 8);
  io::swap_bytes(&e, 1, 8);
  EXPECT_EQ(d, e);
}

TEST(RawSource, ReadsBigEndianFramesWithHeaderAndGapsAndChecksTheSize) {
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("cube.raw");
  const std::int64_t rx = 2, ry = 3, qx = 2, qy = 2, header = 5, gap = 3;
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(header, 'H');
    for (int frame = 0; frame < rx * ry; ++frame) {
      f << std::string(gap, 'G');
      for (int p = 0; p < qx * qy; ++p) {
        const std::uint16_t v = std::uint16_t(frame * 100 + p);
        const char be[2] = {char(v >> 8), char(v & 0xff)};
        f.write(be, 2);
      }
    }
  }
  io::FrameSourceOptions o;
  o.format = io::InputFormat::raw;
  o.shape = {rx, ry, qx, qy};
  o.dtype = io::Dtype::u16;
  o.byte_order = io::ByteOrder::big;
  o.header_bytes = header;
  o.gap_bytes = gap;
  auto src = io::open_frame_source(path, o);
  EXPECT_EQ(src->meta().shape, (std::vector<std::int64_t>{rx, ry, qx, qy}));
  std::vector<std::uint16_t> got(std::size_t(3 * qx * qy));
  src->read_frames(2, 3, got.data());
  for (int f = 0; f < 3; ++f)
    for (int p = 0; p < qx * qy; ++p) EXPECT_EQ(got[std::size_t(f * qx * qy + p)], (2 + f) * 100 + p);
  o.shape = {rx, ry + 1, qx, qy};
  expect_input_error([&] { io::open_frame_source(path, o); }, {path, "size", "expected 93 bytes", "found 71 bytes"});
  o.shape = {rx, ry, qx, qy};
  o.scan = {3, 3};
  expect_input_error([&] { io::open_frame_source(path, o); }, {path, "frame count", "expected 9 (--scan 3,3)", "found 6"});
}
