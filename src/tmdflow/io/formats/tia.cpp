#include "tmdflow/io/formats/tia.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/binary_file.hpp"
#include "tmdflow/io/formats/image_units.hpp"

namespace tmdflow::io {

namespace {

namespace fs = std::filesystem;

constexpr std::uint16_t kLittleEndian = 0x4949;   // "II"
constexpr std::uint32_t kImageSeries = 0x4122;    // 2-D elements (0x4120: spectra)
constexpr std::uint64_t kElementHeader = 50;      // calibration x and y, type, width, height
// An .emi is metadata (and at most a few spectra): more than this is not one.
constexpr std::uint64_t kMaxEmiBytes = 64u << 20;

template <class T>
T little(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
    auto* b = reinterpret_cast<unsigned char*>(&v);
    std::reverse(b, b + sizeof v);
  }
  return v;
}

std::optional<Dtype> tia_dtype(std::uint16_t code) {
  switch (code) {
    case 1: return Dtype::u8;
    case 2: return Dtype::u16;
    case 3: return Dtype::u32;
    case 4: return Dtype::i8;
    case 5: return Dtype::i16;
    case 6: return Dtype::i32;
    case 7: return Dtype::f32;
    case 8: return Dtype::f64;
    default: return std::nullopt;  // 9, 10: complex
  }
}

// The text between <tag> and </tag> in `xml` (the first such element), or nullopt.
std::optional<std::string> element(const std::string& xml, const std::string& tag) {
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  const auto a = xml.find(open);
  if (a == std::string::npos) return std::nullopt;
  const auto b = xml.find(close, a + open.size());
  if (b == std::string::npos) return std::nullopt;
  return xml.substr(a + open.size(), b - a - open.size());
}

std::optional<double> to_number(const std::string& s) {
  const std::string t = str::trim(s);
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// What the .emi says about one signal (its <ObjectInfo>).
struct EmiInfo {
  std::string mode;  // "TEM uP SA Zoom Image", "STEM ...", ...
  std::string camera;
  bool known = false;
  Acquisition acquisition;
  double exposure_s = 0;
};

EmiInfo parse_object_info(const std::string& xml) {
  EmiInfo info;
  info.known = true;
  // ExperimentalDescription: <Data><Label>High tension</Label><Value>200</Value><Unit>kV</Unit></Data>...
  std::size_t pos = 0;
  auto put = [&](const char* key, std::optional<double> v, double factor) {
    if (v && std::isfinite(*v * factor) && *v * factor > 0) info.acquisition[key] = *v * factor;
  };
  const std::string description = element(xml, "ExperimentalDescription").value_or("");
  while ((pos = description.find("<Data>", pos)) != std::string::npos) {
    const auto end = description.find("</Data>", pos);
    if (end == std::string::npos) break;
    const std::string item = description.substr(pos, end - pos);
    pos = end;
    const std::string label = str::trim(element(item, "Label").value_or(""));
    const std::string value = element(item, "Value").value_or("");
    const std::string unit = str::trim(element(item, "Unit").value_or(""));
    if (label == "Mode") info.mode = str::trim(value);
    else if (label == "High tension" && unit == "kV") put("voltage_kV", to_number(value), 1);
    else if (label == "Magnification") put("magnification", to_number(value), 1);
    else if (label == "Camera length" && unit == "m") put("camera_length_m", to_number(value), 1);
    else if (label == "Camera length" && unit == "mm") put("camera_length_m", to_number(value), 1e-3);
  }
  if (!info.acquisition.count("voltage_kV"))
    put("voltage_kV", to_number(element(xml, "AcceleratingVoltage").value_or("")), 1e-3);  // V
  const std::string acquire = element(xml, "AcquireInfo").value_or("");
  info.camera = str::trim(element(acquire, "CameraNamePath").value_or(""));
  const auto dwell = to_number(element(acquire, "DwellTimePath").value_or(""));
  // A camera's "dwell time" is its exposure per image; a scan's is per pixel.
  if (info.camera.empty()) put("dwell_time_s", dwell, 1);
  else if (dwell && *dwell > 0) info.exposure_s = *dwell;
  return info;
}

// Every <ObjectInfo>...</ObjectInfo> of the .emi, in order (one per .ser).
std::vector<std::string> emi_objects(const std::string& path) {
  BinaryFile f(path);
  if (f.size() > kMaxEmiBytes)
    throw InputError::at(path, "", "TIA .emi size", "at most 64 MiB of metadata", str::human_bytes(double(f.size())));
  std::string text(static_cast<std::size_t>(f.size()), '\0');
  f.read_at(0, text.data(), text.size());
  std::vector<std::string> objects;
  const std::string open = "<ObjectInfo>", close = "</ObjectInfo>";
  for (std::size_t a = text.find(open); a != std::string::npos; a = text.find(open, a + 1)) {
    const auto b = text.find(close, a);
    if (b == std::string::npos) break;
    objects.push_back(text.substr(a, b + close.size() - a));
  }
  return objects;
}

// One .ser: its elements (images) and where each one's pixels are.
struct Series {
  std::string path;
  ImageSignal signal;
  std::vector<std::uint64_t> pixel_offsets;  // one per frame
  std::string refusal;                      // why it is not read (spectra), else ""
};

class SerParser {
 public:
  explicit SerParser(const std::string& path) : f_(path), path_(path) {}

  Series parse(const EmiInfo& emi) {
    Series s;
    s.path = path_;
    unsigned char h[34] = {};
    read(0, h, 30, "header");
    if (little<std::uint16_t>(h) != kLittleEndian)
      fail("header: byte order", "0x4949 (little-endian)", hex(little<std::uint16_t>(h)));
    if (little<std::uint16_t>(h + 2) != 0x0197) fail("header: series id", "0x0197", hex(little<std::uint16_t>(h + 2)));
    const std::uint16_t version = little<std::uint16_t>(h + 4);
    if (version != 0x0210 && version != 0x0220) fail("header: series version", "0x0210 or 0x0220", hex(version));
    const bool wide = version == 0x0220;  // offsets in 8 bytes
    if (wide) read(30, h + 30, 4, "header");
    const std::uint32_t data_type = little<std::uint32_t>(h + 6);
    if (data_type != kImageSeries) {
      s.refusal = path_ + ": header: data type: expected 0x4122 (images), found " + hex(data_type) +
                  (data_type == 0x4120 ? " (spectra)" : "");
      return s;
    }
    const std::uint32_t total = little<std::uint32_t>(h + 14);
    const std::uint32_t valid = little<std::uint32_t>(h + 18);
    if (valid == 0 || valid > total)
      fail("header: valid element count", "1 to the total count (" + std::to_string(total) + ")", std::to_string(valid));
    const std::uint64_t offsets_at = wide ? little<std::uint64_t>(h + 22) : little<std::uint32_t>(h + 22);
    const std::uint32_t ndim = little<std::uint32_t>(wide ? h + 30 : h + 26);
    if (ndim > 1)
      fail("header: dimensions", "0 or 1 (one image or a series of images)",
           std::to_string(ndim) + " (a scan of images: not an image stack)");

    // The series' dimension (a frame axis): size, offset, step, reference element, description, units.
    std::uint64_t at = wide ? 34 : 30;
    ImageAxis frame_axis{"", 1, 0, ""};
    if (ndim == 1) {
      unsigned char d[28];
      read(at, d, 28, "dimension");
      frame_axis.offset = little<double>(d + 4);
      frame_axis.scale = little<double>(d + 12);
      const std::uint32_t description_length = little<std::uint32_t>(d + 24);
      at += 28 + std::uint64_t(description_length);
      unsigned char u[4];
      read(at, u, 4, "dimension units");
      const std::uint32_t units_length = little<std::uint32_t>(u);
      if (units_length > 256) fail("dimension units", "at most 256 characters", std::to_string(units_length));
      std::string units(units_length, '\0');
      read(at + 4, units.data(), units_length, "dimension units");
      frame_axis.units = units;
    }

    // Offsets of the valid elements.
    const std::uint64_t width = wide ? 8 : 4;
    if (offsets_at > f_.size() || std::uint64_t(valid) > (f_.size() - offsets_at) / width)
      fail("offset array", std::to_string(valid) + " offsets within the file (" + std::to_string(f_.size()) + " bytes)",
           "an array at byte " + std::to_string(offsets_at));
    std::vector<unsigned char> raw(std::size_t(valid * width));
    read(offsets_at, raw.data(), raw.size(), "offset array");

    // Every element has the first one's type and size; its calibration is the first one's.
    ImageSignal& sig = s.signal;
    std::uint16_t type0 = 0;
    for (std::uint32_t i = 0; i < valid; ++i) {
      const std::uint64_t off = wide ? little<std::uint64_t>(&raw[i * 8]) : little<std::uint32_t>(&raw[i * 4]);
      unsigned char e[kElementHeader];
      const std::string what = "element " + std::to_string(i);
      if (off > f_.size() || kElementHeader > f_.size() - off)
        fail(what + " offset", "a position within the file (" + std::to_string(f_.size()) + " bytes)", std::to_string(off));
      read(off, e, kElementHeader, what);
      const std::uint16_t type = little<std::uint16_t>(e + 40);
      const std::int64_t w = little<std::uint32_t>(e + 42), hgt = little<std::uint32_t>(e + 46);
      if (i == 0) {
        const auto dtype = tia_dtype(type);
        if (!dtype) fail(what + " data type", "1 to 8 (integers, floats)", std::to_string(type) + (type == 9 || type == 10 ? " (complex)" : ""));
        type0 = type;
        sig.dtype = *dtype;
        sig.width = w;
        sig.height = hgt;
        if (w < 1 || hgt < 1) fail(what + " size", "a positive width and height", std::to_string(w) + " x " + std::to_string(hgt));
        calibrate(sig, e, emi);
      } else if (type != type0 || w != sig.width || hgt != sig.height) {
        fail(what, "the type and size of element 0", "type " + std::to_string(type) + ", " + std::to_string(w) + " x " + std::to_string(hgt));
      }
      const std::uint64_t bytes = sig.frame_bytes();  // < 2^32 * 2^32 * 8: checked by division below
      if (std::uint64_t(w) > (f_.size() / std::uint64_t(hgt)) || bytes > f_.size() - off - kElementHeader)
        fail(what + " pixels", std::to_string(w) + " x " + std::to_string(hgt) + " " + dtype_name(sig.dtype) + " within the file",
             "the end of the file");
      s.pixel_offsets.push_back(off + kElementHeader);
    }
    sig.frames = valid;
    if (sig.frames > 1) {
      if (frame_axis.units == "s" && frame_axis.scale > 0) sig.frame_time_s = frame_axis.scale;
      sig.axes.insert(sig.axes.begin(), frame_axis);
    }
    if (sig.frame_time_s == 0 && emi.exposure_s > 0) sig.frame_time_s = emi.exposure_s;
    sig.acquisition = emi.acquisition;
    if (sig.frame_time_s > 0) sig.acquisition["frame_time_s"] = sig.frame_time_s;
    sig.title = emi.camera.empty() ? fs::path(path_).stem().string() : emi.camera;
    return s;
  }

 private:
  // Axes y, x: offset = calibration offset - reference element * step, in nm (or 1/nm) as
  // RosettaSciIO writes them. The unit is metres unless the .emi's mode says diffraction.
  void calibrate(ImageSignal& sig, const unsigned char* e, const EmiInfo& emi) const {
    const double off_x = little<double>(e), step_x = little<double>(e + 8);
    const double ref_x = double(little<std::int32_t>(e + 16));
    const double off_y = little<double>(e + 20), step_y = little<double>(e + 28);
    const double ref_y = double(little<std::int32_t>(e + 36));
    bool reciprocal = false;
    if (emi.known) {
      const bool stem = emi.mode.find("STEM") != std::string::npos;
      reciprocal = stem ? !emi.camera.empty() : emi.mode.find("Diffraction") != std::string::npos;
    }
    const double factor = reciprocal ? 1e-9 : 1e9;
    const std::string units = reciprocal ? "1 / nm" : "nm";
    sig.axes = {{"y", step_y * factor, (off_y - ref_y * step_y) * factor, units},
                {"x", step_x * factor, (off_x - ref_x * step_x) * factor, units}};
    auto pixel_A = [&](double step) {
      const double a = step * 1e10;
      return !reciprocal && std::isfinite(a) && a > 0 ? a : 0.0;
    };
    sig.pixel_size_y_A = pixel_A(step_y);
    sig.pixel_size_x_A = pixel_A(step_x);
  }

  void read(std::uint64_t at, void* out, std::uint64_t n, const std::string& what) const {
    if (at > f_.size() || n > f_.size() - at)
      fail(what, std::to_string(n) + " bytes at byte " + std::to_string(at), "the end of the file (" + std::to_string(f_.size()) + " bytes)");
    f_.read_at(at, out, n);
  }
  [[noreturn]] void fail(const std::string& what, const std::string& expected, const std::string& found) const {
    throw InputError::at(path_, "", what, expected, found);
  }
  static std::string hex(std::uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%04x", v);
    return b;
  }

  BinaryFile f_;
  std::string path_;
};

// NAME_<n>.ser files beside NAME.emi, by n.
std::vector<std::pair<int, std::string>> ser_files_of(const std::string& emi) {
  const fs::path p(emi);
  const std::string stem = p.stem().string() + "_";
  std::vector<std::pair<int, std::string>> out;
  std::error_code ec;
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= stem.size() + 4 || name.compare(0, stem.size(), stem) != 0 || !str::ends_with(name, ".ser")) continue;
    const std::string digits = name.substr(stem.size(), name.size() - stem.size() - 4);
    if (digits.empty() || digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.emplace_back(std::stoi(digits), it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class TiaSource : public ImageSource {
 public:
  explicit TiaSource(const std::string& path) : ImageSource(path) {
    const fs::path p(path);
    if (str::lower(p.extension().string()) == ".ser") open_from_ser(path);
    else open_from_emi(path);
  }

  std::string format_label() const override { return "FEI TIA"; }
  std::vector<std::string> companion_files() const override { return companions_; }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    if (signal >= signals_.size())
      throw InputError::at(file_, "", "signal", "below " + std::to_string(signals_.size()), std::to_string(signal));
    const ImageSignal& s = signals_[signal];
    const Series& series = series_[signal];
    if (first < 0 || count < 0 || first > s.frames || count > s.frames - first)
      throw InputError::at(series.path, "", "frames", "a range within 0.." + std::to_string(s.frames),
                           std::to_string(first) + "+" + std::to_string(count));
    BinaryFile f(series.path);
    const std::uint64_t row = std::uint64_t(s.width) * dtype_size(s.dtype);
    std::vector<char> image(static_cast<std::size_t>(s.frame_bytes()));
    auto* dst = static_cast<char*>(out);
    for (std::int64_t i = 0; i < count; ++i, dst += s.frame_bytes()) {
      f.read_at(series.pixel_offsets[std::size_t(first + i)], image.data(), image.size());
      // The file's first row is the image's last (RosettaSciIO's orientation).
      for (std::int64_t r = 0; r < s.height; ++r)
        std::memcpy(dst + std::uint64_t(r) * row, image.data() + std::uint64_t(s.height - 1 - r) * row, std::size_t(row));
      if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
        const std::size_t w = dtype_size(s.dtype);
        for (std::size_t k = 0; k + w <= s.frame_bytes(); k += w) std::reverse(dst + k, dst + k + w);
      }
    }
  }

 private:
  void open_from_emi(const std::string& emi) {
    const auto objects = emi_objects(emi);
    const auto sers = ser_files_of(emi);
    if (sers.empty()) {
      const fs::path p(emi);
      throw InputError::at(emi, "", "TIA data", "the series file " + (p.parent_path() / (p.stem().string() + "_1.ser")).string(),
                           "no NAME_<n>.ser beside the .emi");
    }
    std::vector<std::string> skipped;
    for (const auto& [n, ser] : sers) {
      companions_.push_back(ser);
      const EmiInfo info = n >= 1 && std::size_t(n) <= objects.size() ? parse_object_info(objects[std::size_t(n - 1)]) : EmiInfo{};
      add(SerParser(ser).parse(info), skipped);
    }
    finish(skipped);
  }

  void open_from_ser(const std::string& ser) {
    // NAME_<n>.ser: the metadata is NAME.emi's n-th object, when that file is there.
    EmiInfo info;
    const fs::path p(ser);
    const std::string stem = p.stem().string();
    const auto underscore = stem.rfind('_');
    if (underscore != std::string::npos && underscore + 1 < stem.size() && stem.size() - underscore <= 7 &&
        std::all_of(stem.begin() + long(underscore) + 1, stem.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      const fs::path emi = p.parent_path() / (stem.substr(0, underscore) + ".emi");
      std::error_code ec;
      if (fs::is_regular_file(emi, ec)) {
        const int n = std::stoi(stem.substr(underscore + 1));
        const auto objects = emi_objects(emi.string());
        if (n >= 1 && std::size_t(n) <= objects.size()) info = parse_object_info(objects[std::size_t(n - 1)]);
        companions_.push_back(emi.string());
      }
    }
    std::vector<std::string> skipped;
    add(SerParser(ser).parse(info), skipped);
    finish(skipped);
  }

  void add(Series s, std::vector<std::string>& skipped) {
    if (!s.refusal.empty()) {
      skipped.push_back(s.refusal);
      return;
    }
    signals_.push_back(s.signal);
    series_.push_back(std::move(s));
  }
  void finish(const std::vector<std::string>& skipped) {
    if (signals_.empty()) throw InputError(skipped.empty() ? file_ + ": TIA: no image series" : skipped.front());
    for (const auto& s : skipped) log::warn(printable(s), " (series skipped)");
  }

  std::vector<Series> series_;
  std::vector<std::string> companions_;
};

}  // namespace

std::unique_ptr<ImageSource> open_tia_image(const std::string& path) { return std::make_unique<TiaSource>(path); }

}  // namespace tmdflow::io
