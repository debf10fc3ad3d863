// Hostile inputs found by fuzzing the readers (tests/fuzz/, make fuzz), one test per bug fixed,
// each on the smallest file that showed it (the fuzzer's own inputs are in tests/fuzz/regressions/).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <chrono>
#include <cstring>
#include <string>

#include "common/testing.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/emd.hpp"
#include "tmdflow/io/formats/npy.hpp"

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
// back to the root made their visits grow as links^depth (hours for 6 links). Each group is now
// visited once, and the cube reached through many paths is still one cube.
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
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
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
