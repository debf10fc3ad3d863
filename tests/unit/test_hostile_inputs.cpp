// Hostile inputs found by fuzzing the readers (tests/fuzz/, make fuzz), one test per bug fixed,
// each on the smallest file that showed it (the fuzzer's own inputs are in tests/fuzz/regressions/).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>

#include "common/testing.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/formats/frame_source.hpp"
#include "tmdflow/io/formats/npy.hpp"
#include "tmdflow/io/schema.hpp"
#include "workflow.hpp"

using namespace tmdflow;
using io::h5::Handle;

namespace {

Handle checked(hid_t id, herr_t (*close)(hid_t)) {
  EXPECT_GE(id, 0);
  return Handle(id, close);
}

// A scalar enum attribute of the given base type with value `value`.
void enum_attr(hid_t obj, const char* name, hid_t base, std::int64_t value) {
  Handle t = checked(H5Tenum_create(base), H5Tclose);
  // Members are given in the base type's size and order: convert from a native int64.
  std::uint8_t zero[8] = {}, bytes[8] = {};
  std::memcpy(bytes, &value, sizeof value);
  ASSERT_GE(H5Tconvert(H5T_NATIVE_INT64, base, 1, bytes, nullptr, H5P_DEFAULT), 0);
  ASSERT_GE(H5Tconvert(H5T_NATIVE_INT64, base, 1, zero, nullptr, H5P_DEFAULT), 0);
  ASSERT_GE(H5Tenum_insert(t.get(), "ZERO", zero), 0);
  ASSERT_GE(H5Tenum_insert(t.get(), "VALUE", bytes), 0);
  Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a = checked(H5Acreate2(obj, name, t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  ASSERT_GE(H5Awrite(a.get(), t.get(), bytes), 0);
}

std::string write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Expects `f` to throw E with a one-line message holding every piece.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> pieces) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const E& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    for (const auto& p : pieces) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' not in: " << m;
  }
}

// An EMD 1.0 datacube /datacube_root/datacube (data {1, 2, 2, 2} u8) in a new file.
void write_emd_cube(hid_t file) {
  Handle root = checked(H5Gcreate2(file, "datacube_root", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  Handle array = checked(H5Gcreate2(root.get(), "datacube", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  Handle vl = checked(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(vl.get(), H5T_VARIABLE);
  Handle scalar = checked(H5Screate(H5S_SCALAR), H5Sclose);
  for (auto [obj, value] : {std::pair{root.get(), "root"}, std::pair{array.get(), "array"}}) {
    Handle a = checked(H5Acreate2(obj, "emd_group_type", vl.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    ASSERT_GE(H5Awrite(a.get(), vl.get(), &value), 0);
  }
  const hsize_t dims[4] = {1, 2, 2, 2};
  Handle space = checked(H5Screate_simple(4, dims, nullptr), H5Sclose);
  Handle d = checked(H5Dcreate2(array.get(), "data", H5T_STD_U8LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose);
}

}  // namespace

// attr_int read an enum attribute into one byte whatever the enum's size: a stack overflow (and
// a wrong value) for h5py-style enums of wider integers.
TEST(HostileHdf5, EnumAttributesOfAnyBaseSizeAndOrderReadAsTheirValue) {
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("enums.h5");
  {
    Handle f = checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    Handle root = checked(H5Gopen2(f.get(), "/", H5P_DEFAULT), H5Gclose);
    enum_attr(root.get(), "bool", H5T_STD_I8LE, 1);  // h5py's bool
    enum_attr(root.get(), "wide", H5T_STD_I64LE, -123456789012);
    enum_attr(root.get(), "big_endian", H5T_STD_U16BE, 513);
  }
  io::h5::File f = io::h5::File::open(path, io::h5::Mode::read, nullptr);
  const io::h5::Group root = f.root();
  EXPECT_EQ(root.attr_int("bool"), 1);
  EXPECT_EQ(root.attr_int("wide"), -123456789012);
  EXPECT_EQ(root.attr_int("big_endian"), 513);
}

// The datacube search and the array listing followed every link at every level: a few hard links
// back to the root made their visits grow as links^depth (hours for 6 links); so did `inspect`
// and `validate`. Each group is now visited once, and the cube reached through many paths is
// still one cube.
TEST(HostileHdf5, HardLinkCyclesAreWalkedOnce) {
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("cycles.h5");
  {
    Handle f = checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    write_emd_cube(f.get());
    for (const char* group : {"/", "/datacube_root", "/datacube_root/datacube"})
      for (int i = 0; i < 6; ++i) {
        const std::string link = std::string(group) + (std::string(group) == "/" ? "" : "/") + "loop" + std::to_string(i);
        ASSERT_GE(H5Lcreate_hard(f.get(), "/", f.get(), link.c_str(), H5P_DEFAULT, H5P_DEFAULT), 0);
      }
  }
  const auto start = std::chrono::steady_clock::now();
  const io::DatacubeReader r = io::DatacubeReader::open(path, nullptr);
  EXPECT_EQ(r.dataset().path(), "/datacube_root/datacube/data");
  EXPECT_EQ(r.meta().shape, (io::h5::Shape{1, 2, 2, 2}));
  io::h5::File f = io::h5::File::open(path, io::h5::Mode::read, nullptr);
  EXPECT_EQ(io::emd::list_arrays(f).size(), 1u);
  // `tmdflow inspect` lists the cube once and `validate` checks the tree once.
  const std::string tree = io::inspect_file(path);
  EXPECT_NE(tree.find("datacube_root"), std::string::npos) << tree;
  EXPECT_LT(tree.size(), 4000u) << tree;
  io::validate_file(path);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

// Dims and calibration values were read whole (read_all): a dims dataset declaring 2^36 values
// (never written, so the file stays small) made the reader allocate 512 GiB, and an empty
// calibration dataset threw std::out_of_range, no tmdflow error. Only their first values are read.
TEST(HostileHdf5, MetadataDeclaringHugeOrEmptyArraysIsReadByItsFirstValues) {
  tmdflow::testing::ScratchDir dir;
  const std::string path = dir.file("huge_dims.h5");
  {
    Handle f = checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    write_emd_cube(f.get());
    const hsize_t huge = hsize_t(1) << 36, two = 2, none = 0;
    Handle big = checked(H5Screate_simple(1, &huge, nullptr), H5Sclose);
    Handle pair = checked(H5Screate_simple(1, &two, nullptr), H5Sclose);
    Handle empty = checked(H5Screate_simple(1, &none, nullptr), H5Sclose);
    Handle d0 = checked(H5Dcreate2(f.get(), "/datacube_root/datacube/dim0", H5T_IEEE_F64LE, big.get(), H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT), H5Dclose);
    Handle d2 = checked(H5Dcreate2(f.get(), "/datacube_root/datacube/dim2", H5T_IEEE_F64LE, pair.get(), H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT), H5Dclose);
    const double q[2] = {0.0, 0.025};
    ASSERT_GE(H5Dwrite(d2.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, q), 0);
    Handle lcpl = checked(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    Handle cal = checked(H5Dcreate2(f.get(), "/datacube_root/metadatabundle/calibration/R_pixel_size", H5T_IEEE_F64LE,
                                    empty.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    Handle acq = checked(H5Dcreate2(f.get(), "/datacube_root/metadatabundle/tmdflow_acquisition/voltage_kV", H5T_IEEE_F64LE,
                                    big.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  }
  const io::DatacubeReader r = io::DatacubeReader::open(path, nullptr);
  EXPECT_EQ(r.meta().calibration.R_pixel_size, 1.0);  // the empty entry keeps the default
  EXPECT_EQ(r.meta().acquisition.at("voltage_kV"), 0.0);  // the first of 2^36 fill values
  // dim0's first two values are fill values (a step of 0); dim2 is read as written.
  io::h5::File f = io::h5::File::open(path, io::h5::Mode::read, nullptr);
  const auto dims = io::emd::read_dims(f.root().open_group("datacube_root/datacube"), 4);
  EXPECT_EQ(dims[0].step, 0.0);
  EXPECT_EQ(dims[2].step, 0.025);
}

// Bytes of a header went into messages as they were: a line break in a .npy header key or value
// broke the one-line error. They are quoted with non-printable bytes escaped.
TEST(HostileNpy, ControlBytesInTheHeaderAreEscapedInTheOneLineError) {
  for (const std::string dict : {"{'de\nscr': '<u2', 'fortran_order': False, 'shape': (2,), }",
                                 "{'descr': '<u2', 'fortran_order': False, 'shape': (2,\x01), }",
                                 "{'descr': '<u2', 'fortran_order': Fa\nlse, 'shape': (2,), }",
                                 "{'descr': '<u\n2', 'fortran_order': False, 'shape': (2,), }"}) {
    std::string h = "\x93NUMPY\x01";
    h += '\0';
    h += char(dict.size());
    h += '\0';
    h += dict;
    try {
      io::parse_npy_header(h, "a.npy");
      ADD_FAILURE() << "no error for " << str::quoted(dict, 80);
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      EXPECT_NE(m.find("a.npy"), std::string::npos) << m;
    }
  }
  EXPECT_EQ(str::quoted("a\nb\x93"), "'a\\x0ab\\x93'");
  EXPECT_EQ(str::quoted("abcdef", 3), "'abc...'");
}

// Extents from a header or the command line were multiplied in int64 before any check: a .npy
// header claiming 10^22 frames, or --scan 2^32,2^32, overflowed (undefined behaviour, then a
// wrong size check). Sizes beyond 2^62 bytes are refused first, naming the shape.
TEST(HostileSizes, HugeExtentsAreRefusedBeforeTheyOverflow) {
  tmdflow::testing::ScratchDir dir;
  std::string text = "{'descr': '<u2', 'fortran_order': False, 'shape': (99999999999, 99999999999, 1, 1), }";
  text.resize(117, ' ');
  text += '\n';
  std::string npy = "\x93NUMPY\x01";
  npy += '\0';
  npy += char(text.size());
  npy += '\0';
  const std::string npy_path = write_file(dir.file("huge.npy"), npy + text);
  io::FrameSourceOptions npy_options;
  expect_error<InputError>([&] { io::open_frame_source(npy_path, npy_options); },
                           {"huge.npy", "shape", "at most 2^62 bytes", "(99999999999, 99999999999, 1, 1) uint16"});

  const std::string raw_path = write_file(dir.file("cube.raw"), std::string(6 * 4, '\x01'));
  io::FrameSourceOptions raw;
  raw.format = io::InputFormat::raw;
  raw.shape = {1, 6, 2, 2};
  raw.dtype = io::Dtype::u8;
  raw.scan = {std::int64_t(1) << 32, std::int64_t(1) << 32};
  expect_error<InputError>([&] { io::open_frame_source(raw_path, raw); }, {"cube.raw", "frame count", "more than 2^63", "found 6"});
  // A header of 2^63 - 1 bytes wrapped the expected file size around to a small number.
  raw.scan.clear();
  raw.header_bytes = std::numeric_limits<std::int64_t>::max();
  expect_error<ConfigError>([&] { io::open_frame_source(raw_path, raw); }, {"shape", "more than 2^62 bytes"});
  raw.header_bytes = 0;
  raw.shape = {std::int64_t(1) << 32, std::int64_t(1) << 31, 1, 1};
  expect_error<ConfigError>([&] { io::open_frame_source(raw_path, raw); }, {"shape", "more than 2^62 bytes"});
}

// Workflow references were matched with std::regex, which recurses once per character: a
// reference of 30,000 characters overflowed the stack (a segmentation fault, no message).
TEST(HostileWorkflow, LongReferencesAreRefusedOrResolvedWithoutRecursion) {
  tmdflow::testing::ScratchDir dir;
  const std::string head = "[workflow]\ninput = a.h5\noutput = out/b.h5\n";
  const std::string step = "[domains]\nstage = domains\nfigures = ${workflow.output_dir}/figs${workflow.tag}\n";
  const std::string long_name(300000, 'a');
  expect_error<ConfigError>(
      [&] { stages::load_workflow(write_file(dir.file("long.ini"), head + "tag = ${workflow." + long_name + "}\n" + step), {}); },
      {"long.ini", "unknown reference ${workflow.aaaa"});
  expect_error<ConfigError>(
      [&] { stages::load_workflow(write_file(dir.file("open.ini"), head + "tag = ${workflow.input\n" + step), {}); },
      {"open.ini", "malformed reference"});
  const auto wf = stages::load_workflow(write_file(dir.file("ok.ini"), head + "tag = -$${workflow.input}\n" + step), {});
  ASSERT_EQ(wf.steps.size(), 1u);
  ASSERT_EQ(wf.steps[0].request.options.size(), 1u);
  EXPECT_EQ(wf.steps[0].request.options[0].second, "out/figs-$a.h5");
}
