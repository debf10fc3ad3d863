// The DigitalMicrograph, Velox and TIA readers against what RosettaSciIO reads from the same real
// files (../shared/data/images/RSCIIO_READINGS.json: shape, dtype, values, axes), and against
// hostile files: truncated, with counts or offsets past the end, a .emi without its .ser.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/sha256.hpp"
#include "tmdflow/io/formats/dm.hpp"
#include "tmdflow/io/formats/image_units.hpp"
#include "tmdflow/io/formats/tia.hpp"
#include "tmdflow/io/formats/velox.hpp"

using namespace tmdflow;
using json = nlohmann::json;

namespace {

std::string images(const std::string& name) { return tmdflow::testing::shared_data("images/" + name); }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

const json& readings() {
  static const json j = json::parse(read_bytes(images("RSCIIO_READINGS.json")));
  return j;
}

std::unique_ptr<io::ImageSource> open_by_name(const std::string& name) {
  if (name.rfind("dm", 0) == 0) return io::open_dm_image(images(name));
  if (name.rfind("velox", 0) == 0) return io::open_velox_image(images(name));
  return io::open_tia_image(images(name));
}

struct Values {
  double sum = 0, min = INFINITY, max = -INFINITY;
  std::string sha256;  // of the values in RosettaSciIO's dtype, C order, little-endian
};

// Reads every frame (in two calls, to check that a range reads as its part of the whole) and
// summarises the values as RosettaSciIO's readings do.
Values summarise(const io::ImageSource& src, std::size_t i, const std::string& expected_dtype) {
  const io::ImageSignal& s = src.signals()[i];
  std::vector<char> all(std::size_t(s.frames) * s.frame_bytes());
  src.read_frames(i, 0, s.frames, all.data());
  if (s.frames > 1) {
    std::vector<char> tail(std::size_t(s.frames - 1) * s.frame_bytes());
    src.read_frames(i, 1, s.frames - 1, tail.data());
    EXPECT_EQ(std::memcmp(tail.data(), all.data() + s.frame_bytes(), tail.size()), 0) << src.file();
  }
  Values v;
  std::vector<double> as_double;
  io::visit_dtype(s.dtype, [&](auto tag) {
    using T = decltype(tag);
    const std::size_t n = all.size() / sizeof(T);
    for (std::size_t k = 0; k < n; ++k) {
      T x;
      std::memcpy(&x, all.data() + k * sizeof(T), sizeof(T));
      as_double.push_back(double(x));
      v.sum += double(x);
      v.min = std::min(v.min, double(x));
      v.max = std::max(v.max, double(x));
    }
  });
  // Velox images come out of RosettaSciIO as float64 whatever they are in the file.
  if (expected_dtype == "float64" && s.dtype != io::Dtype::f64)
    v.sha256 = sha256_hex(std::string_view(reinterpret_cast<const char*>(as_double.data()), as_double.size() * 8));
  else
    v.sha256 = sha256_hex(std::string_view(all.data(), all.size()));
  return v;
}

void expect_near_rel(double a, double b, const std::string& what) {
  EXPECT_NEAR(a, b, 1e-9 * std::max(1.0, std::fabs(b))) << what;
}

TEST(ImageReadersDmVeloxTia, ReadEveryFixtureAsRosettaSciIODoes) {
  int files = 0;
  for (const auto& [name, entry] : readings().items()) {
    const std::string reader = entry.at("reader");
    if (reader != "digitalmicrograph" && !(reader == "emd" && name.rfind("velox", 0) == 0) && reader != "tia") continue;
    SCOPED_TRACE(name);
    ++files;
    const auto src = open_by_name(name);
    std::size_t i = 0;
    for (const json& e : entry.at("signals")) {
      if (e.at("dtype") == "complex64") continue;  // refused with a warning (data_schema/image_formats.md)
      ASSERT_LT(i, src->signals().size());
      const io::ImageSignal& s = src->signals()[i];
      const std::string title = e.at("title");
      SCOPED_TRACE(title);
      // TIA names no signal; tmdflow takes the camera's name.
      EXPECT_EQ(s.title, reader == "tia" ? "WA-Orius" : title);
      std::vector<std::int64_t> shape = e.at("shape");
      std::vector<std::int64_t> ours = {s.height, s.width};
      if (shape.size() == 3) {
        ours.insert(ours.begin(), s.frames);
      } else {
        EXPECT_EQ(s.frames, 1);
      }
      EXPECT_EQ(ours, shape);
      const std::string dtype = e.at("dtype");
      if (reader != "emd") {
        EXPECT_EQ(io::dtype_name(s.dtype), dtype);
      }
      const Values v = summarise(*src, i, dtype);
      expect_near_rel(v.sum, e.at("sum"), "sum");
      EXPECT_EQ(v.min, e.at("min").get<double>());
      EXPECT_EQ(v.max, e.at("max").get<double>());
      EXPECT_EQ(v.sha256, e.at("sha256_c_order_little_endian").get<std::string>());

      ASSERT_EQ(s.axes.size(), e.at("axes").size());
      for (std::size_t a = 0; a < s.axes.size(); ++a) {
        const json& x = e.at("axes")[a];
        std::string units = x.at("units").is_string() ? x.at("units").get<std::string>() : "";
        std::string axis_name = x.at("name").is_string() ? x.at("name").get<std::string>() : "";
        if (units == "None") units = "";  // TIA's frame axis: Python's None, written as text
        if (axis_name == "None") axis_name = "";
        double offset = x.at("offset");
        // RosettaSciIO converts TIA's step from m to nm but leaves the offset in m.
        if (reader == "tia" && units == "nm") offset *= 1e9;
        EXPECT_EQ(s.axes[a].name, axis_name);
        EXPECT_EQ(s.axes[a].units, units);
        expect_near_rel(s.axes[a].scale, x.at("scale"), "scale of axis " + axis_name);
        expect_near_rel(s.axes[a].offset, offset, "offset of axis " + axis_name);
      }
      // The pixel size in Angstrom follows from the stated axes.
      const json& ay = e.at("axes")[shape.size() - 2];
      const json& ax = e.at("axes")[shape.size() - 1];
      const double fy = io::length_unit_in_A(ay.at("units").is_string() ? ay.at("units").get<std::string>() : "");
      const double fx = io::length_unit_in_A(ax.at("units").is_string() ? ax.at("units").get<std::string>() : "");
      expect_near_rel(s.pixel_size_y_A, fy * ay.at("scale").get<double>(), "pixel size y");
      expect_near_rel(s.pixel_size_x_A, fx * ax.at("scale").get<double>(), "pixel size x");
      EXPECT_EQ(s.calibrated(), fx > 0 && fy > 0);
      ++i;
    }
    EXPECT_EQ(i, src->signals().size());
  }
  EXPECT_EQ(files, 11);  // 7 DigitalMicrograph, 2 Velox, 2 TIA
}

TEST(ImageReadersDmVeloxTia, AcquisitionValues) {
  {
    const auto v = io::open_velox_image(images("velox_tem_stack.emd"));
    const auto& s = v->signals().at(0);
    EXPECT_EQ(s.acquisition.at("voltage_kV"), 300);
    EXPECT_NEAR(s.frame_time_s, 0.8, 1e-12);  // the camera's exposure (no scan)
    EXPECT_NEAR(s.acquisition.at("magnification"), 1271519.155, 1e-6);
    EXPECT_EQ(v->format_label(), "Velox EMD");
  }
  {
    const auto v = io::open_velox_image(images("velox_dpc_titles.emd"));
    EXPECT_EQ(v->signals().size(), 8u);  // 9 signals, the complex DPC one skipped
    const auto& s = v->signals().at(0);
    EXPECT_NEAR(s.acquisition.at("dwell_time_s"), 1e-5, 1e-17);
    EXPECT_NEAR(s.acquisition.at("detector_outer_mrad"), 3.3629874186804848, 1e-12);
    EXPECT_NEAR(s.acquisition.at("convergence_mrad"), 1.0461282069309302, 1e-12);
    EXPECT_NEAR(s.pixel_size_x_A, 0.99619915558306547, 1e-12);
  }
  {
    const auto t = io::open_tia_image(images("tia_64x64x5_TEM_preview.emi"));
    ASSERT_EQ(t->companion_files().size(), 1u);
    EXPECT_NE(t->companion_files()[0].find("tia_64x64x5_TEM_preview_1.ser"), std::string::npos);
    const auto& s = t->signals().at(0);
    EXPECT_EQ(s.acquisition.at("voltage_kV"), 200);
    EXPECT_EQ(s.acquisition.at("magnification"), 19500);
    EXPECT_NEAR(s.pixel_size_x_A, 62.81833616298531, 1e-9);
  }
  {
    // The .ser alone reads the same pixels; its .emi beside it is its companion.
    const auto a = io::open_tia_image(images("tia_64x64_TEM_images_acquire.emi"));
    const auto b = io::open_tia_image(images("tia_64x64_TEM_images_acquire_1.ser"));
    ASSERT_EQ(b->signals().size(), 1u);
    ASSERT_EQ(b->companion_files().size(), 1u);
    EXPECT_NE(b->companion_files()[0].find("tia_64x64_TEM_images_acquire.emi"), std::string::npos);
    std::vector<float> pa(64 * 64), pb(64 * 64);
    a->read_frames(0, 0, 1, pa.data());
    b->read_frames(0, 0, 1, pb.data());
    EXPECT_EQ(pa, pb);
  }
  for (const char* name : {"dm3_STEM_image_68x68.dm3", "dm4_2D_int16.dm4"}) {
    const auto d = io::open_dm_image(images(name));
    EXPECT_EQ(d->format_label(), std::string("DigitalMicrograph DM") + name[2]);
  }
}

// ---- hostile inputs ---------------------------------------------------------------------------

template <class F>
void expect_input_error(F&& f, std::initializer_list<std::string> pieces) {
  const auto t0 = std::chrono::steady_clock::now();
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    for (const auto& p : pieces) EXPECT_NE(m.find(p), std::string::npos) << "'" << p << "' not in: " << m;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
}

// Big-endian fields of a DM3 tag tree.
std::string be(std::uint64_t v, int width) {
  std::string s;
  for (int i = width - 1; i >= 0; --i) s += char((v >> (8 * i)) & 0xFF);
  return s;
}
std::string dm3_header() { return be(3, 4) + be(0, 4) + be(1, 4); }
std::string dm3_group(std::uint64_t ntags) { return std::string("\0\0", 2) + be(ntags, 4); }
std::string dm3_tag_name(int id, const std::string& name) { return char(id) + be(name.size(), 2) + name; }

TEST(ImageReadersDmVeloxTia, HostileDigitalMicrograph) {
  tmdflow::testing::ScratchDir dir;
  const std::string real = read_bytes(images("dm3_STEM_image_68x68.dm3"));
  // Truncated in the tag tree and in the pixels.
  for (std::size_t cut : {std::size_t(20), std::size_t(300), real.size() / 2, real.size() - 200}) {
    SCOPED_TRACE(cut);
    const std::string p = dir.file("cut.dm3");
    write_bytes(p, real.substr(0, cut));
    expect_input_error([&] { io::open_dm_image(p); }, {p});
  }
  // A root that claims 2^32-1 tags and holds none.
  const std::string many = dir.file("many.dm3");
  write_bytes(many, dm3_header() + dm3_group(0xFFFFFFFFu));
  expect_input_error([&] { io::open_dm_image(many); }, {many, "tag count", "4294967295 tags"});
  // An array of 2^32-1 doubles in a 100-byte file.
  const std::string big = dir.file("big.dm3");
  write_bytes(big, dm3_header() + dm3_group(1) + dm3_tag_name(21, "Data") + "%%%%" + be(3, 4) + be(20, 4) + be(7, 4) +
                       be(0xFFFFFFFFu, 4) + std::string(40, '\0'));
  expect_input_error([&] { io::open_dm_image(big); }, {big, "Data", "array of 4294967295 values"});
  // A tag name with a line break, in a message (found by fuzz_dm): the message stays one line.
  const std::string newline = dir.file("newline.dm3");
  write_bytes(newline, dm3_header() + dm3_group(1) + dm3_tag_name(21, "a\nb") + "%%%");
  expect_input_error([&] { io::open_dm_image(newline); }, {newline, "a?b", "data tag delimiter"});
  // Groups nested 100 deep.
  std::string deep = dm3_header() + dm3_group(1);
  for (int i = 0; i < 100; ++i) deep += dm3_tag_name(20, "g") + dm3_group(1);
  const std::string deep_path = dir.file("deep.dm3");
  write_bytes(deep_path, deep);
  expect_input_error([&] { io::open_dm_image(deep_path); }, {deep_path, "tag groups"});
  // A version 5 header.
  const std::string v5 = dir.file("v5.dm3");
  write_bytes(v5, be(5, 4) + be(0, 4) + be(1, 4));
  expect_input_error([&] { io::open_dm_image(v5); }, {v5, "version", "3 or 4", "found 5"});
  // Dimensions that disagree with the pixel array: ImageList/TagGroup0/ImageData with Data of 4
  // int16 values and Dimensions 3 x 2.
  auto number = [](const std::string& name, int type, std::uint64_t v, int width) {
    return dm3_tag_name(21, name) + "%%%%" + be(1, 4) + be(std::uint64_t(type), 4) + std::string(reinterpret_cast<const char*>(&v), std::size_t(width));
  };
  std::string tree = dm3_header() + dm3_group(1) + dm3_tag_name(20, "ImageList") + dm3_group(1) + dm3_tag_name(20, "") +
                     dm3_group(1) + dm3_tag_name(20, "ImageData") + dm3_group(3) + number("DataType", 3, 1, 4) +
                     dm3_tag_name(21, "Data") + "%%%%" + be(3, 4) + be(20, 4) + be(2, 4) + be(4, 4) + std::string(8, '\1') +
                     dm3_tag_name(20, "Dimensions") + dm3_group(2) + number("", 3, 3, 4) + number("", 3, 2, 4);
  const std::string mismatch = dir.file("mismatch.dm3");
  write_bytes(mismatch, tree);
  expect_input_error([&] { io::open_dm_image(mismatch); }, {mismatch, "ImageList/TagGroup0/ImageData/Data", "size"});
}

TEST(ImageReadersDmVeloxTia, HostileTia) {
  tmdflow::testing::ScratchDir dir;
  // A .emi without its .ser.
  const std::string emi = dir.file("alone.emi");
  write_bytes(emi, read_bytes(images("tia_64x64_TEM_images_acquire.emi")));
  expect_input_error([&] { io::open_tia_image(emi); }, {emi, "alone_1.ser"});
  const std::string real = read_bytes(images("tia_64x64x5_TEM_preview_1.ser"));
  for (std::size_t cut : {std::size_t(10), std::size_t(40), real.size() / 2, real.size() - 200}) {
    SCOPED_TRACE(cut);
    const std::string p = dir.file("cut_1.ser");
    write_bytes(p, real.substr(0, cut));
    expect_input_error([&] { io::open_tia_image(p); }, {p});
  }
  // The second element's offset points past the end of the file.
  const std::uint32_t offsets_at = 0x44;  // from the header (checked here)
  ASSERT_EQ(std::uint8_t(real[22]), offsets_at);
  std::string bad = real;
  const std::uint32_t past = std::uint32_t(real.size()) + 1000;
  std::memcpy(&bad[offsets_at + 4], &past, 4);
  const std::string p = dir.file("past_1.ser");
  write_bytes(p, bad);
  expect_input_error([&] { io::open_tia_image(p); }, {p, "element 1 offset", std::to_string(past)});
  // An element count beyond the offsets the file can hold.
  bad = real;
  const std::uint32_t huge = 0x7FFFFFFF;
  std::memcpy(&bad[14], &huge, 4);
  std::memcpy(&bad[18], &huge, 4);
  write_bytes(p, bad);
  expect_input_error([&] { io::open_tia_image(p); }, {p, "offset array"});
}

TEST(ImageReadersDmVeloxTia, HostileVelox) {
  tmdflow::testing::ScratchDir dir;
  const std::string real = read_bytes(images("velox_tem_stack.emd"));
  const std::string cut = dir.file("cut.emd");
  write_bytes(cut, real.substr(0, real.size() / 3));
  try {
    io::open_velox_image(cut);
    ADD_FAILURE() << "a truncated file was read";
  } catch (const Error& e) {
    EXPECT_TRUE(e.code() == ExitCode::input || e.code() == ExitCode::io) << e.what();
    EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
  }
  // An image signal without its Metadata, and one with Metadata that is not JSON.
  for (const bool garbage : {false, true}) {
    const std::string p = dir.file(garbage ? "garbage.emd" : "nometa.emd");
    const hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hid_t g = H5Gcreate2(f, "Data/Image/abc", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[3] = {2, 2, 1};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    const hid_t d = H5Dcreate2(g, "Data", H5T_STD_U16LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(space);
    if (garbage) {
      const hsize_t mdims[2] = {8, 1};
      const hid_t ms = H5Screate_simple(2, mdims, nullptr);
      const hid_t m = H5Dcreate2(g, "Metadata", H5T_STD_U8LE, ms, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      const char text[8] = {'{', '"', 'a', '"', ':', ' ', '[', '\0'};
      H5Dwrite(m, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, text);
      H5Dclose(m);
      H5Sclose(ms);
    }
    H5Gclose(g);
    H5Pclose(lcpl);
    H5Fclose(f);
    expect_input_error([&] { io::open_velox_image(p); }, {p, "/Data/Image/abc/Metadata", garbage ? "JSON" : "none"});
  }
  // A signal group whose name holds a line break and a tab: the message names it on one line.
  {
    const std::string p = dir.file("control.emd");
    const hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hid_t g = H5Gcreate2(f, "Data/Image/a\nb\tc", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(g, 0);
    const hsize_t dims[3] = {2, 2, 1};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    H5Dclose(H5Dcreate2(g, "Data", H5T_STD_U16LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(space);
    H5Gclose(g);
    H5Pclose(lcpl);
    H5Fclose(f);
    try {
      io::open_velox_image(p);
      ADD_FAILURE() << "a signal without metadata was read";
    } catch (const InputError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("/Data/Image/a?b?c/Metadata"), std::string::npos) << m;
      EXPECT_EQ(std::find_if(m.begin(), m.end(), [](char c) { return static_cast<unsigned char>(c) < 32; }), m.end()) << m;
    }
  }
}

TEST(ImageReadersDmVeloxTia, Sha256) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the length no longer fits in the first block.
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

}  // namespace
