// libFuzzer target: the Velox EMD reader (io/formats/velox.cpp): the search of /Data/Image, the
// element type and shape of each Data, the Metadata JSON (calibration, optics, scan, detectors),
// the /Operations JSON that names the signals, and the reading of every frame.
//
// Structure-aware, as fuzz_hdf5.cpp: the input drives the building of a well-formed HDF5 file in
// Velox's layout (fuzzing HDF5's bytes would exercise libhdf5's parser, not tmdflow's), in which
// each signal's Data may have another rank, extent or element type (complex compounds, strings,
// big-endian floats), Metadata may be missing, of another shape, or any text (valid JSON with
// values replaced, or the input's bytes), and the operations' JSON likewise. Choices are read
// from the end of the input, texts from its front; 0 means "as a valid file has it", so that the
// empty input is a valid two-frame HAADF stack.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/formats/velox.hpp"
#include "tmdflow/io/h5.hpp"

using namespace tmdflow;
using io::h5::Handle;

namespace {

constexpr std::uint64_t kMaxReadBytes = 4u << 20;

Handle must(hid_t id, herr_t (*close)(hid_t), const char* what) {
  if (id < 0) fuzz::fail(std::string("building the HDF5 file: ") + what + " failed");
  return Handle(id, close);
}

// A valid Velox metadata text; {N} markers are replaced by the input's choices.
const char* kMetadata =
    R"({"Optics": {"AccelerationVoltage": "{0}", "BeamConvergence": "0.02", "NominalMagnification": "{1}"},)"
    R"( "Scan": {"DwellTime": "{2}", "FrameTime": "{3}"},)"
    R"( "Detectors": {"Detector-0": {"DetectorName": "HAADF", "CollectionAngleRange": {"begin": "0.05", "end": "{4}"},)"
    R"( "ExposureTime": "0.5"}},)"
    R"( "BinaryResult": {"DetectorIndex": "{5}", "PixelSize": {"width": "{6}", "height": "1e-10"},)"
    R"( "PixelUnitX": "{7}", "PixelUnitY": "m", "Offset": {"x": "0", "y": "{8}"}}})";

const char* kValid[] = {"300000", "1000000", "1e-06", "0.25", "0.2", "0", "1e-10", "m", "0"};
const char* kOdd[] = {"", "-1", "nan", "1e400", "abc", "0", "1/m", "{}", "1e-300", "m"};

class Builder {
 public:
  explicit Builder(FuzzedDataProvider& in) : in_(in) {}
  int choice(int n) { return in_.ConsumeIntegralInRange<int>(0, n); }

  std::string metadata_text() {
    if (choice(6) == 1) return in_.ConsumeRandomLengthString(512);
    std::string t = kMetadata;
    for (int k = 0; k < 9; ++k) {
      const std::string marker = "{" + std::to_string(k) + "}";
      const int c = choice(12);
      const std::string value = c == 0 ? kValid[k] : c <= 10 ? kOdd[c - 1] : in_.ConsumeRandomLengthString(12);
      t.replace(t.find(marker), marker.size(), value);
    }
    if (choice(8) == 1) t.resize(in_.ConsumeIntegralInRange<std::size_t>(0, t.size()));  // cut
    return t;
  }

  void string_dataset(hid_t parent, const char* name, const std::string& text) {
    Handle t = must(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
    H5Tset_size(t.get(), H5T_VARIABLE);
    const hsize_t one = 1;
    Handle space = must(H5Screate_simple(1, &one, nullptr), H5Sclose, "H5Screate_simple");
    Handle d = must(H5Dcreate2(parent, name, t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose, "H5Dcreate2");
    const char* p = text.c_str();
    if (H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0) fuzz::fail("H5Dwrite");
  }

  void signal(hid_t images, const std::string& id) {
    Handle g = must(H5Gcreate2(images, id.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "H5Gcreate2");
    // Data [h, w, frames]
    const int rank = choice(4) == 1 ? in_.ConsumeIntegralInRange<int>(0, 4) : 3;
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    for (int k = 0; k < rank; ++k) dims[std::size_t(k)] = k == 2 ? 2 - choice(2) + choice(2) : 3 - choice(3) + choice(2);
    Handle type;
    switch (choice(6)) {
      case 1: type = must(H5Tcopy(H5T_IEEE_F32LE), H5Tclose, "H5Tcopy"); break;
      case 2: type = must(H5Tcopy(H5T_IEEE_F64BE), H5Tclose, "H5Tcopy"); break;
      case 3: {
        type = must(H5Tcreate(H5T_COMPOUND, 8), H5Tclose, "H5Tcreate");
        H5Tinsert(type.get(), "realFloat", 0, H5T_IEEE_F32LE);
        H5Tinsert(type.get(), "imagFloat", 4, H5T_IEEE_F32LE);
        break;
      }
      case 4: type = must(H5Tcopy(H5T_STD_I8LE), H5Tclose, "H5Tcopy"); break;
      case 5: {
        type = must(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
        H5Tset_size(type.get(), 3);
        break;
      }
      case 6: type = must(H5Tcopy(H5T_STD_U64BE), H5Tclose, "H5Tcopy"); break;
      default: type = must(H5Tcopy(H5T_STD_U16LE), H5Tclose, "H5Tcopy"); break;
    }
    if (choice(8) != 1) {
      Handle space = must(rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr), H5Sclose, "space");
      Handle d = must(H5Dcreate2(g.get(), "Data", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                      "H5Dcreate2");
      const hssize_t n = H5Sget_simple_extent_npoints(space.get());
      const std::size_t bytes = std::size_t(n) * H5Tget_size(type.get());
      std::string values = in_.ConsumeBytesAsString(bytes);
      values.resize(bytes, '\x02');
      H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    }
    // Metadata [bytes, frames] of uint8
    const int m = choice(5);
    if (m == 1) return;
    std::string text = metadata_text();
    if (m == 2) {
      string_dataset(g.get(), "Metadata", text);
      return;
    }
    text.push_back('\0');
    const hsize_t mdims[2] = {hsize_t(text.size()), hsize_t(m == 3 ? 0 : 1)};
    Handle space = must(H5Screate_simple(m == 4 ? 1 : 2, mdims, nullptr), H5Sclose, "space");
    Handle d = must(H5Dcreate2(g.get(), "Metadata", H5T_STD_U8LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose,
                    "H5Dcreate2");
    if (m != 3) H5Dwrite(d.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data());
  }

  void build(const std::string& path) {
    Handle f = must(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose, "H5Fcreate");
    if (choice(10) != 1) {
      Handle data = must(H5Gcreate2(f.get(), "Data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "H5Gcreate2");
      Handle images = must(H5Gcreate2(data.get(), "Image", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "H5Gcreate2");
      const int n = 1 + choice(2);
      for (int k = 0; k < n; ++k) signal(images.get(), "sig" + std::to_string(k));
    }
    if (choice(3) == 1) return;
    Handle ops = must(H5Gcreate2(f.get(), "Operations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "H5Gcreate2");
    static const char* kKinds[] = {"StemInputOperation", "CameraInputOperation", "SurfaceReconstructionOperation",
                                   "MathematicsOperation", "DpcOperation", "IntegrationOperation", "FftOperation"};
    const int n = 1 + choice(2);
    for (int k = 0; k < n; ++k) {
      const char* kind = kKinds[choice(6)];
      if (H5Lexists(ops.get(), kind, H5P_DEFAULT) > 0) continue;
      Handle g = must(H5Gcreate2(ops.get(), kind, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose, "H5Gcreate2");
      std::string text = R"({"dataPath": "/Data/Image/sig0", "detector": "HAADF", "cameraName": "Ceta", )"
                         R"("integrationMode": "true", "enableFilter": "false", "outputs": [{"inputIndex": "1"}]})";
      if (choice(3) == 1) text = in_.ConsumeRandomLengthString(256);
      string_dataset(g.get(), "op0", text);
    }
  }

 private:
  FuzzedDataProvider& in_;
};

void read_all(const std::string& path) {
  const auto src = io::open_velox_image(path);
  fuzz::check(!src->signals().empty(), "a Velox source has at least one signal");
  for (std::size_t i = 0; i < src->signals().size(); ++i) {
    const io::ImageSignal& s = src->signals()[i];
    fuzz::check(s.frames > 0 && s.height > 0 && s.width > 0, "an image has positive extents");
    const std::uint64_t bytes = std::uint64_t(s.frames) * s.frame_bytes();
    if (bytes > kMaxReadBytes) continue;
    std::vector<char> frames(static_cast<std::size_t>(bytes));
    src->read_frames(i, 0, s.frames, frames.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::quiet);
  io::h5::silence_hdf5_errors();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string path = fuzz::Scratch::get().path("velox.emd");
  Builder(in).build(path);
  H5Eclear2(H5E_DEFAULT);
  fuzz::expect_only_typed_errors([&] { read_all(path); });
  return 0;
}
