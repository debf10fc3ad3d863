#include "tmdflow/io/formats/velox.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/formats/image_units.hpp"
#include "tmdflow/io/h5.hpp"

namespace tmdflow::io {

namespace {

using json = nlohmann::json;

// Velox pads each frame's metadata to 60000 bytes; anything beyond a few MB is not metadata.
constexpr std::int64_t kMaxMetadataBytes = 16 << 20;

// A member of nested objects, or nullptr when any step is missing or not an object: metadata
// from a file is never indexed in a way that throws.
const json* at(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* key : path) {
    if (!p->is_object()) return nullptr;
    const auto it = p->find(key);
    if (it == p->end()) return nullptr;
    p = &*it;
  }
  return p;
}

std::string text_at(const json& j, std::initializer_list<const char*> path) {
  const json* p = at(j, path);
  return p && p->is_string() ? p->get<std::string>() : "";
}

// Velox writes numbers as strings ("300000", "8.17e-12"); a real number is accepted too.
std::optional<double> number_at(const json& j, std::initializer_list<const char*> path) {
  const json* p = at(j, path);
  if (!p) return std::nullopt;
  if (p->is_number()) return p->get<double>();
  if (!p->is_string()) return std::nullopt;
  const std::string s = p->get<std::string>();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

json parse_json(const std::string& text, const std::string& where) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(where + ": metadata: expected JSON text, found text that does not parse");
  return j;
}

struct Operation {
  std::string kind;  // the group under /Operations: StemInputOperation, DpcOperation, ...
  json value;
};

// The signal's name as RosettaSciIO gives it: the first operation (in this order of kinds) whose
// data path holds the signal's id.
std::string title_from_operations(const std::vector<Operation>& ops, const std::string& id) {
  auto holds = [&](const json& op, const char* key) {
    const std::string p = text_at(op, {key});
    return !p.empty() && p.find(id) != std::string::npos;
  };
  auto dpc_kind = [](const json& op) { return text_at(op, {"integrationMode"}) == "true" ? "iDPC" : "dDPC"; };
  for (const char* kind : {"CameraInputOperation", "StemInputOperation", "SurfaceReconstructionOperation",
                           "MathematicsOperation", "DpcOperation", "IntegrationOperation", "FftOperation"}) {
    const std::string k = kind;
    for (const Operation& o : ops) {
      if (o.kind != k) continue;
      const json& op = o.value;
      if (k == "CameraInputOperation" && holds(op, "dataPath")) return text_at(op, {"cameraName"});
      if (k == "StemInputOperation" && holds(op, "dataPath")) return text_at(op, {"detector"});
      if (k == "SurfaceReconstructionOperation") {
        if (holds(op, "unfilteredDataPath")) return dpc_kind(op);
        if (holds(op, "dataPath"))
          return (text_at(op, {"enableFilter"}) == "true" ? "Filtered " : "") + std::string(dpc_kind(op));
      }
      if (k == "MathematicsOperation" && holds(op, "dataPath")) {
        const json* outputs = at(op, {"outputs"});
        if (outputs && outputs->is_array() && !outputs->empty()) {
          const std::string input = text_at((*outputs)[0], {"inputIndex"});
          if (input == "0") return "A-C";
          if (input == "1") return "B-D";
        }
      }
      if (k == "DpcOperation" && holds(op, "dataPath")) return "DPC";
      if (k == "IntegrationOperation" && holds(op, "dataPath")) return "DCFI";
      if (k == "FftOperation" && holds(op, "imageOutputPath")) return "Half FFT";
    }
  }
  return "";
}

class VeloxSource : public ImageSource {
 public:
  // Group names and JSON texts of the file go into messages: with_printable_errors keeps them one line.
  explicit VeloxSource(const std::string& path) : ImageSource(path) {
    with_printable_errors([&] { open(path); });
  }

  std::string format_label() const override { return "Velox EMD"; }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    with_printable_errors([&] { read_signal_frames(signal, first, count, out); });
  }

 private:
  void open(const std::string& path) {
    h5::silence_hdf5_errors();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw IoError(path + ": cannot open for reading: not a regular file");
    if (!h5::File::is_hdf5(path))
      throw InputError::at(path, "", "Velox EMD file", "an HDF5 file", "other content");
    file_bytes_ = std::filesystem::file_size(path, ec);
    file_ = h5::File::open(path, h5::Mode::read, nullptr);
    const h5::Group root = file_.root();
    if (root.kind("Data/Image") != h5::LinkKind::group)
      throw InputError::at(path, "/Data/Image", "Velox image signals", "a group", "none");
    read_operations(root);
    const h5::Group images = root.open_group("Data/Image");
    std::vector<std::string> skipped;
    for (const std::string& id : images.children()) {
      if (images.kind(id) != h5::LinkKind::group) continue;
      if (auto reason = add_signal(images, id)) skipped.push_back(*reason);
    }
    if (signals_.empty()) {
      if (!skipped.empty()) throw InputError(skipped.front());
      throw InputError::at(path, "/Data/Image", "Velox image signals", "at least one", "none");
    }
    for (const auto& s : skipped) log::warn(printable(s), " (signal skipped)");
  }

  void read_signal_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const {
    if (signal >= signals_.size())
      throw InputError::at(file_.path(), "", "signal", "below " + std::to_string(signals_.size()), std::to_string(signal));
    const ImageSignal& s = signals_[signal];
    if (first < 0 || count < 0 || first > s.frames || count > s.frames - first)
      throw InputError::at(file_.path(), data_paths_[signal], "frames", "a range within 0.." + std::to_string(s.frames),
                           std::to_string(first) + "+" + std::to_string(count));
    const h5::Dataset d = file_.root().open_dataset(data_paths_[signal]);
    // Frames are the last axis: one hyperslab per frame lands as one row-major image.
    auto* dst = static_cast<char*>(out);
    for (std::int64_t f = 0; f < count; ++f, dst += s.frame_bytes())
      d.read_raw({0, 0, first + f}, {s.height, s.width, 1}, h5::native_type(s.dtype), dst, h5::Xfer::independent);
  }

  void read_operations(const h5::Group& root) {
    if (root.kind("Operations") != h5::LinkKind::group) return;
    const h5::Group ops = root.open_group("Operations");
    for (const std::string& kind : ops.children()) {
      if (ops.kind(kind) != h5::LinkKind::group) continue;
      const h5::Group g = ops.open_group(kind);
      for (const std::string& id : g.children()) {
        if (g.kind(id) != h5::LinkKind::dataset) continue;
        const h5::Dataset d = g.open_dataset(id);
        if (!d.is_string() || d.element_count() != 1) continue;
        json j = json::parse(d.read_string(), nullptr, false);
        if (!j.is_discarded()) operations_.push_back({kind, std::move(j)});
      }
    }
  }

  // The first frame's JSON (Metadata column 0).
  json metadata(const h5::Group& g, const std::string& where) const {
    if (g.kind("Metadata") != h5::LinkKind::dataset)
      throw InputError::at(file_.path(), where + "/Metadata", "metadata", "a dataset", "none");
    const h5::Dataset m = g.open_dataset("Metadata");
    const h5::Shape shape = m.shape();
    if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1 || shape[0] > kMaxMetadataBytes)
      throw InputError::at(file_.path(), m.path(), "metadata", "[bytes <= 16 MiB, frames] of uint8",
                           std::to_string(shape.size()) + "-D dataset");
    std::string text(static_cast<std::size_t>(shape[0]), '\0');
    m.read_raw({0, 0}, {shape[0], 1}, H5T_NATIVE_UINT8, text.data(), h5::Xfer::independent);
    text.resize(std::min(text.size(), text.find('\0')));
    return parse_json(text, file_.path() + ":" + m.path());
  }

  // Adds the signal /Data/Image/<id>; returns why it was skipped instead (complex values).
  std::optional<std::string> add_signal(const h5::Group& images, const std::string& id) {
    const h5::Group g = images.open_group(id);
    const std::string where = g.path();
    if (g.kind("Data") != h5::LinkKind::dataset)
      throw InputError::at(file_.path(), where + "/Data", "image data", "a dataset", "none");
    const h5::Dataset d = g.open_dataset("Data");
    const h5::Shape shape = d.shape();
    if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1)
      throw InputError::at(file_.path(), d.path(), "shape", "[height, width, frames], all positive",
                           std::to_string(shape.size()) + "-D");
    {
      h5::Handle type(TMDFLOW_H5(H5Dget_type(d.id()), d.where()), H5Tclose);
      if (H5Tget_class(type.get()) == H5T_COMPOUND)
        return file_.path() + ":" + where + ": complex values (DPC or FFT, compound elements): tmdflow reads real images only";
    }
    ImageSignal s;
    s.dtype = d.dtype();
    s.height = shape[0];
    s.width = shape[1];
    s.frames = shape[2];
    // The pixels a reader will allocate for: within the file's bytes (uncompressed) or a generous
    // compression ratio of them, so that a declared [2^40, 2^40, 1] costs nothing.
    const double logical = double(s.height) * double(s.width) * double(s.frames) * double(dtype_size(s.dtype));
    const double limit = (d.is_filtered() ? 4096.0 : 1.0) * double(file_bytes_);
    if (logical > limit)
      throw InputError::at(file_.path(), d.path(), "size", "pixels that the file's " + std::to_string(file_bytes_) + " bytes can hold",
                           std::to_string(s.height) + " x " + std::to_string(s.width) + " x " + std::to_string(s.frames) + " " +
                               dtype_name(s.dtype));
    const json meta = metadata(g, where);
    calibrate(s, meta);
    read_acquisition(s, meta);
    s.title = title_from_operations(operations_, id);
    if (s.title.empty()) {
      // No operation names it: the detector that recorded it (RosettaSciIO writes
      // "Unrecognized_image_signal" when /Operations exists).
      const std::string index = text_at(meta, {"BinaryResult", "DetectorIndex"});
      s.title = text_at(meta, {"Detectors", ("Detector-" + index).c_str(), "DetectorName"});
      if (s.title.empty()) s.title = text_at(meta, {"BinaryResult", "Detector"});
      if (s.title.empty()) s.title = id;
    }
    s.title = printable(s.title);  // shown in warnings and messages
    data_paths_.push_back(d.path());
    signals_.push_back(std::move(s));
    return std::nullopt;
  }

  // Axes as RosettaSciIO states them: lengths in the SI prefix that suits the image's half width
  // (pm, nm, µm), y in x's unit; a time axis for stacks (the scan's frame time, else the
  // camera's exposure).
  void calibrate(ImageSignal& s, const json& meta) const {
    const std::string unit_x = text_at(meta, {"BinaryResult", "PixelUnitX"});
    const std::string unit_y = text_at(meta, {"BinaryResult", "PixelUnitY"});
    const auto width = number_at(meta, {"BinaryResult", "PixelSize", "width"});
    const auto height = number_at(meta, {"BinaryResult", "PixelSize", "height"});
    const double off_x = number_at(meta, {"BinaryResult", "Offset", "x"}).value_or(0);
    const double off_y = number_at(meta, {"BinaryResult", "Offset", "y"}).value_or(0);
    ImageAxis y{"y", height.value_or(1), off_y, ""}, x{"x", width.value_or(1), off_x, ""};
    if (width && unit_x == "m") {
      const PrefixedValue px = with_si_prefix(*width, "m", double(s.width));
      x.scale = px.value;
      x.units = y.units = px.units;
      x.offset = in_prefixed_unit(off_x, "m", px.units);
      y.scale = in_prefixed_unit(height.value_or(*width), "m", px.units);
      y.offset = in_prefixed_unit(off_y, "m", px.units);
    } else if (width) {
      x.units = y.units = unit_x;
    }
    auto pixel_A = [](std::optional<double> v, const std::string& unit) {
      const double a = v ? *v * length_unit_in_A(unit) : 0;
      return std::isfinite(a) && a > 0 ? a : 0.0;
    };
    s.pixel_size_x_A = pixel_A(width, unit_x);
    s.pixel_size_y_A = pixel_A(height, unit_y.empty() ? unit_x : unit_y);

    const std::string det = "Detector-" + text_at(meta, {"BinaryResult", "DetectorIndex"});
    double frame_time = number_at(meta, {"Scan", "FrameTime"}).value_or(0);
    if (!(frame_time > 0)) frame_time = number_at(meta, {"Detectors", det.c_str(), "ExposureTime"}).value_or(0);
    if (std::isfinite(frame_time) && frame_time > 0) s.frame_time_s = frame_time;
    s.axes.clear();
    if (s.frames > 1) {
      ImageAxis t{"Time", 1, 0, ""};
      if (s.frame_time_s > 0) {
        const PrefixedValue pt = with_si_prefix(s.frame_time_s, "s", 2.0 * double(s.frames));
        t.scale = pt.value;
        t.units = pt.units;
      }
      s.axes.push_back(t);
    }
    s.axes.push_back(y);
    s.axes.push_back(x);
  }

  static void read_acquisition(ImageSignal& s, const json& meta) {
    auto put = [&](const char* key, std::optional<double> v, double factor) {
      if (v && std::isfinite(*v * factor) && *v * factor > 0) s.acquisition[key] = *v * factor;
    };
    put("voltage_kV", number_at(meta, {"Optics", "AccelerationVoltage"}), 1e-3);    // V
    put("convergence_mrad", number_at(meta, {"Optics", "BeamConvergence"}), 1e3);  // rad
    put("magnification", number_at(meta, {"Optics", "NominalMagnification"}), 1);
    put("camera_length_m", number_at(meta, {"Optics", "CameraLength"}), 1);
    put("dwell_time_s", number_at(meta, {"Scan", "DwellTime"}), 1);
    const std::string det = "Detector-" + text_at(meta, {"BinaryResult", "DetectorIndex"});
    const auto end = number_at(meta, {"Detectors", det.c_str(), "CollectionAngleRange", "end"});
    if (end && *end > 0) {  // 0..0 is what Velox writes for a detector without a known range
      put("detector_inner_mrad", number_at(meta, {"Detectors", det.c_str(), "CollectionAngleRange", "begin"}), 1e3);
      put("detector_outer_mrad", end, 1e3);
    }
    if (s.frame_time_s > 0) s.acquisition["frame_time_s"] = s.frame_time_s;
  }

  h5::File file_;
  std::uint64_t file_bytes_ = 0;
  std::vector<Operation> operations_;
  std::vector<std::string> data_paths_;
};

}  // namespace

std::unique_ptr<ImageSource> open_velox_image(const std::string& path) { return std::make_unique<VeloxSource>(path); }

}  // namespace tmdflow::io
