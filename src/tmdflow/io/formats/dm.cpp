#include "tmdflow/io/formats/dm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <string_view>
#include <vector>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/binary_file.hpp"
#include "tmdflow/io/formats/frame_source.hpp"
#include "tmdflow/io/formats/image_units.hpp"

namespace tmdflow::io {

namespace {

// Tag groups nest a few levels in real files; a deeper tree is an attack on the stack.
constexpr int kMaxDepth = 64;
// Strings kept from the tree (names, units, titles); longer ones are cut.
constexpr std::uint64_t kMaxText = 4096;

// Encoded types of the tag tree's values.
enum : std::uint64_t {
  kShort = 2, kLong = 3, kUShort = 4, kULong = 5, kFloat = 6, kDouble = 7, kBool = 8, kChar = 9,
  kOctet = 10, kInt64 = 11, kUInt64 = 12, kStruct = 15, kString = 18, kArray = 20
};

std::uint64_t simple_size(std::uint64_t type) {
  switch (type) {
    case kShort: case kUShort: return 2;
    case kLong: case kULong: case kFloat: return 4;
    case kDouble: case kInt64: case kUInt64: return 8;
    case kBool: case kChar: case kOctet: return 1;
    default: return 0;  // not a simple type
  }
}

enum class Kind { group, number, text, array, other };

struct Tag {
  std::string name;
  Kind kind = Kind::other;
  double number = 0;
  std::string text;
  std::uint64_t element_type = 0, offset = 0, count = 0;  // an array's values in the file
  std::vector<Tag> children;

  const Tag* child(std::string_view n) const {
    for (const Tag& c : children)
      if (c.name == n) return &c;
    return nullptr;
  }
  const Tag* group(std::string_view n) const {
    const Tag* c = child(n);
    return c && c->kind == Kind::group ? c : nullptr;
  }
};

// Reads the tag tree front to back through a window of the file, so that a file of any size
// costs one small buffer; every read and skip is checked against the file's length.
class Cursor {
 public:
  explicit Cursor(const BinaryFile& f) : f_(f) {}
  std::uint64_t pos() const { return pos_; }
  std::uint64_t left() const { return pos_ < f_.size() ? f_.size() - pos_ : 0; }

  void read(void* out, std::uint64_t n, const std::string& where, const std::string& what) {
    if (n > left())
      throw InputError::at(f_.path(), where, what, std::to_string(n) + " bytes at byte " + std::to_string(pos_),
                           "the end of the file (" + std::to_string(f_.size()) + " bytes)");
    auto* dst = static_cast<char*>(out);
    while (n > 0) {
      if (pos_ < start_ || pos_ >= start_ + buf_.size()) fill();
      const std::uint64_t at = pos_ - start_, take = std::min<std::uint64_t>(n, buf_.size() - at);
      std::memcpy(dst, buf_.data() + at, std::size_t(take));
      dst += take;
      pos_ += take;
      n -= take;
    }
  }
  void skip(std::uint64_t n, const std::string& where, const std::string& what) {
    if (n > left())
      throw InputError::at(f_.path(), where, what, std::to_string(n) + " bytes at byte " + std::to_string(pos_),
                           "the end of the file (" + std::to_string(f_.size()) + " bytes)");
    pos_ += n;
  }
  // A big-endian unsigned field of 1, 2, 4 or 8 bytes (the tree's own fields).
  std::uint64_t big(int width, const std::string& where, const std::string& what) {
    unsigned char b[8];
    read(b, std::uint64_t(width), where, what);
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = v << 8 | b[i];
    return v;
  }

 private:
  void fill() {
    buf_.resize(std::size_t(std::min<std::uint64_t>(65536, f_.size() - pos_)));
    f_.read_at(pos_, buf_.data(), buf_.size());
    start_ = pos_;
  }
  const BinaryFile& f_;
  std::uint64_t pos_ = 0, start_ = 0;
  std::vector<char> buf_;
};

class TreeParser {
 public:
  TreeParser(const BinaryFile& f, Cursor& c, int version, bool little)
      : f_(f), c_(c), width_(version == 4 ? 8 : 4), little_(little) {}

  void group(Tag& g, const std::string& path, int depth) {
    if (depth > kMaxDepth)
      throw InputError::at(f_.path(), path, "tag groups", "at most " + std::to_string(kMaxDepth) + " levels", "more");
    g.kind = Kind::group;
    c_.skip(2, path, "tag group header");  // sorted, open: nothing to do with either
    const std::uint64_t n = c_.big(width_, path, "tag count");
    std::size_t unnamed = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (c_.left() == 0)
        throw InputError::at(f_.path(), path, "tag count", std::to_string(n) + " tags",
                             "the end of the file after " + std::to_string(i));
      Tag t;
      const std::uint64_t id = c_.big(1, path, "tag kind");
      const std::uint64_t name_length = c_.big(2, path, "tag name length");
      t.name.resize(std::size_t(name_length));
      c_.read(t.name.data(), name_length, path, "tag name");
      // Names go into one-line messages: control characters become '?' (no real tag has them).
      std::replace_if(t.name.begin(), t.name.end(), [](char ch) { return (unsigned char)ch < 32 || ch == 127; }, '?');
      if (t.name.empty()) t.name = "TagGroup" + std::to_string(unnamed++);  // as DM's own tools name them
      const std::string tpath = path.empty() ? t.name : path + "/" + t.name;
      if (width_ == 8) c_.skip(8, tpath, "tag size");
      if (id == 20) group(t, tpath, depth + 1);
      else if (id == 21) data(t, tpath);
      else throw InputError::at(f_.path(), tpath, "tag kind", "20 (group) or 21 (data)", std::to_string(id));
      g.children.push_back(std::move(t));
    }
  }

 private:
  void data(Tag& t, const std::string& path) {
    char delimiter[4];
    c_.read(delimiter, 4, path, "data tag delimiter");
    if (std::memcmp(delimiter, "%%%%", 4) != 0)
      throw InputError::at(f_.path(), path, "data tag delimiter", "'%%%%'", str::quoted(std::string_view(delimiter, 4)));
    const std::uint64_t n = c_.big(width_, path, "type description length");
    if (n == 0 || n > c_.left() / std::uint64_t(width_))
      throw InputError::at(f_.path(), path, "type description length", "1 or more fields within the file",
                           std::to_string(n));
    std::vector<std::uint64_t> info(static_cast<std::size_t>(n));
    for (auto& v : info) v = c_.big(width_, path, "type description");
    const std::uint64_t type = info[0];
    if (n == 1 && simple_size(type)) {
      t.kind = Kind::number;
      t.number = number(type, path);
    } else if (type == kString && n == 2) {
      t.kind = Kind::text;
      const std::uint64_t length = info[1];
      if (length > c_.left()) throw beyond(path, "string", length);
      t.text.resize(std::size_t(std::min(length, kMaxText)));
      c_.read(t.text.data(), t.text.size(), path, "string");
      c_.skip(length - t.text.size(), path, "string");
    } else if (type == kArray && n == 3 && simple_size(info[1])) {
      t.kind = Kind::array;
      t.element_type = info[1];
      t.count = info[2];
      t.offset = c_.pos();
      const std::uint64_t size = simple_size(info[1]);
      if (t.count > c_.left() / size) throw beyond(path, "array of " + std::to_string(t.count) + " values", t.count);
      c_.skip(t.count * size, path, "array");
    } else if (type == kStruct && n >= 3) {
      c_.skip(struct_size(info, 1, n, path), path, "struct");
    } else if (type == kArray && n >= 4 && info[1] == kStruct) {
      // 20, 15, name length, field count, (name length, type) per field, element count
      const std::uint64_t element = struct_size(info, 2, n - 1, path);
      skip_elements(info[n - 1], element, path);
    } else if (type == kArray && n == 4 && info[1] == kString) {
      skip_elements(info[3], info[2], path);
    } else if (type == kArray && n == 5 && info[1] == kArray && simple_size(info[2])) {
      if (info[3] > c_.left() / simple_size(info[2])) throw beyond(path, "array of arrays", info[3]);
      skip_elements(info[4], info[3] * simple_size(info[2]), path);
    } else {
      throw InputError::at(f_.path(), path, "type description", "a number, string, array or struct",
                           std::to_string(n) + " fields starting with type " + std::to_string(type));
    }
  }

  // The byte size of a struct whose description starts at info[first] (name length, field count,
  // then a name length and a simple type per field) and ends before info[end].
  std::uint64_t struct_size(const std::vector<std::uint64_t>& info, std::size_t first, std::uint64_t end,
                            const std::string& path) const {
    const std::uint64_t fields = info[first + 1];
    if (end < first + 2 || fields != (end - first - 2) / 2 || (end - first - 2) % 2 != 0)
      throw InputError::at(f_.path(), path, "struct description", "2 numbers per field",
                           std::to_string(end) + " numbers for " + std::to_string(fields) + " fields");
    std::uint64_t size = 0;
    for (std::uint64_t k = 0; k < fields; ++k) {
      const std::uint64_t s = simple_size(info[std::size_t(first + 3 + 2 * k)]);
      if (s == 0)
        throw InputError::at(f_.path(), path, "struct field type", "a simple type (2 to 12)",
                             std::to_string(info[std::size_t(first + 3 + 2 * k)]));
      size += s;
    }
    return size;
  }

  void skip_elements(std::uint64_t count, std::uint64_t element, const std::string& path) {
    if (element != 0 && count > c_.left() / element) throw beyond(path, "array of " + std::to_string(count) + " elements", count);
    c_.skip(count * element, path, "array");
  }

  InputError beyond(const std::string& path, const std::string& what, std::uint64_t) const {
    return InputError::at(f_.path(), path, what, "values within the file (" + std::to_string(c_.left()) + " bytes left)",
                          "more");
  }

  double number(std::uint64_t type, const std::string& path) {
    alignas(8) unsigned char b[8] = {};
    const std::uint64_t size = simple_size(type);
    c_.read(b, size, path, "value");
    if (little_ != kHostLittleEndian) swap_bytes(b, 1, std::size_t(size));
    auto as = [&](auto v) {
      std::memcpy(&v, b, sizeof v);
      return double(v);
    };
    switch (type) {
      case kShort: return as(std::int16_t{});
      case kLong: return as(std::int32_t{});
      case kUShort: return as(std::uint16_t{});
      case kULong: return as(std::uint32_t{});
      case kFloat: return as(float{});
      case kDouble: return as(double{});
      case kChar: return as(std::int8_t{});
      case kInt64: return as(std::int64_t{});
      case kUInt64: return as(std::uint64_t{});
      default: return as(std::uint8_t{});  // bool, octet
    }
  }

  const BinaryFile& f_;
  Cursor& c_;
  int width_;
  bool little_;
};

void append_utf8(std::string& s, std::uint32_t cp) {
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
}

struct Image {
  std::uint64_t data_offset = 0;
  bool swap = false;
};

class DmSource : public ImageSource {
 public:
  explicit DmSource(const std::string& path) : ImageSource(path), file_(path) {
    Cursor c(file_);
    version_ = int(c.big(4, "", "header: version"));
    if (version_ != 3 && version_ != 4)
      throw InputError::at(path, "", "DigitalMicrograph header version", "3 or 4", std::to_string(version_));
    c.skip(version_ == 4 ? 8 : 4, "", "header: root length");
    const std::uint64_t order = c.big(4, "", "header: byte order");
    if (order > 1) throw InputError::at(path, "", "header: byte order", "0 (big-endian) or 1 (little-endian)", std::to_string(order));
    little_ = order == 1;
    TreeParser(file_, c, version_, little_).group(root_, "", 0);
    find_images();
  }

  std::string format_label() const override { return "DigitalMicrograph DM" + std::to_string(version_); }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    if (signal >= signals_.size())
      throw InputError::at(file_.path(), "", "signal", "below " + std::to_string(signals_.size()), std::to_string(signal));
    const ImageSignal& s = signals_[signal];
    if (first < 0 || count < 0 || first > s.frames || count > s.frames - first)
      throw InputError::at(file_.path(), s.title, "frames", "a range within 0.." + std::to_string(s.frames),
                           std::to_string(first) + "+" + std::to_string(count));
    const std::uint64_t bytes = std::uint64_t(count) * s.frame_bytes();
    file_.read_at(images_[signal].data_offset + std::uint64_t(first) * s.frame_bytes(), out, bytes);
    if (images_[signal].swap) swap_bytes(out, std::size_t(bytes / dtype_size(s.dtype)), dtype_size(s.dtype));
  }

 private:
  // ImageList's images except the ones Thumbnails names; an image that cannot be read is skipped
  // with a warning while another one can, else its reason is the file's error.
  void find_images() {
    const Tag* list = root_.group("ImageList");
    if (!list) throw InputError::at(file_.path(), "ImageList", "tag group", "a list of images", "none");
    std::set<long long> thumbnails;
    if (const Tag* th = root_.group("Thumbnails"))
      for (const Tag& t : th->children)
        if (const Tag* index = t.kind == Kind::group ? t.child("ImageIndex") : nullptr;
            index && index->kind == Kind::number && index->number >= 0 && index->number < 1e9)
          thumbnails.insert(static_cast<long long>(index->number));
    std::vector<std::string> refused;
    for (std::size_t i = 0; i < list->children.size(); ++i) {
      if (thumbnails.count(static_cast<long long>(i)) || list->children[i].kind != Kind::group) continue;
      try {
        add_image(list->children[i], "ImageList/" + list->children[i].name);
      } catch (const InputError& e) {
        refused.push_back(e.what());
      }
    }
    if (signals_.empty()) {
      if (!refused.empty()) throw InputError(refused.front());
      throw InputError::at(file_.path(), "ImageList", "images", "at least one besides the thumbnails", "none");
    }
    for (const auto& r : refused) log::warn(r, " (image skipped)");
  }

  // Up to kMaxText characters of a text tag or an array of characters (UTF-16 or bytes).
  std::string text(const Tag* t) const {
    if (!t) return "";
    if (t->kind == Kind::text) return t->text;
    if (t->kind != Kind::array) return "";
    const std::uint64_t size = simple_size(t->element_type);
    if (t->element_type != kUShort && size != 1) return "";
    std::vector<unsigned char> b(std::size_t(std::min(t->count, kMaxText) * size));
    file_.read_at(t->offset, b.data(), b.size());
    std::string s;
    for (std::size_t i = 0; i < b.size(); i += size) {
      std::uint32_t cp = b[i];
      if (size == 2) cp = little_ ? std::uint32_t(b[i] | b[i + 1] << 8) : std::uint32_t(b[i] << 8 | b[i + 1]);
      if (cp == 0) break;
      if (cp >= 0xD800 && cp < 0xE000) cp = '?';  // a surrogate half: not worth a full decoder here
      append_utf8(s, cp);
    }
    return s;
  }
  static double number(const Tag* t, double fallback) {
    return t && t->kind == Kind::number ? t->number : fallback;
  }

  void add_image(const Tag& image, const std::string& path) {
    const Tag* data_group = image.group("ImageData");
    if (!data_group) throw InputError::at(file_.path(), path, "ImageData", "a tag group", "none");
    const std::string dpath = path + "/ImageData";
    const Tag* data = data_group->child("Data");
    if (!data || data->kind != Kind::array)
      throw InputError::at(file_.path(), dpath + "/Data", "pixels", "an array of numbers", data ? "another kind of tag" : "none");
    const Tag* type_tag = data_group->child("DataType");
    if (!type_tag || type_tag->kind != Kind::number)
      throw InputError::at(file_.path(), dpath + "/DataType", "data type", "a number", "none");
    const double type = type_tag->number;
    const std::uint64_t element = simple_size(data->element_type);
    ImageSignal s;
    s.dtype = dm_dtype(type, data->element_type, dpath + "/DataType");

    // Dimensions lists x, y, z: the shape is z, y, x.
    const Tag* dims = data_group->group("Dimensions");
    std::vector<std::int64_t> xyz;
    if (dims)
      for (const Tag& d : dims->children) {
        if (d.kind != Kind::number || !(d.number >= 1) || d.number > double(data->count))
          throw InputError::at(file_.path(), dpath + "/Dimensions", "size", "a positive whole number within the data",
                               d.kind == Kind::number ? str::number(d.number) : "another kind of tag");
        xyz.push_back(std::int64_t(d.number));
      }
    if (xyz.size() != 2 && xyz.size() != 3)
      throw InputError::at(file_.path(), dpath + "/Dimensions", "dimensions", "2 (an image) or 3 (a stack)",
                           std::to_string(xyz.size()));
    s.width = xyz[0];
    s.height = xyz[1];
    s.frames = xyz.size() == 3 ? xyz[2] : 1;
    // Each extent is at most the element count (itself bounded by the file's length); the
    // products are checked by division before they are formed.
    const std::uint64_t count = data->count;
    const bool fits = std::uint64_t(s.width) <= count / std::uint64_t(s.height) &&
                      std::uint64_t(s.frames) <= count / (std::uint64_t(s.width) * std::uint64_t(s.height));
    if (!fits || std::uint64_t(s.width) * std::uint64_t(s.height) * std::uint64_t(s.frames) * dtype_size(s.dtype) != count * element)
      throw InputError::at(file_.path(), dpath + "/Data", "size",
                           std::to_string(s.width) + " x " + std::to_string(s.height) + " x " + std::to_string(s.frames) +
                               " values of " + dtype_name(s.dtype) + " (Dimensions)",
                           std::to_string(count) + " values of " + std::to_string(element) + " bytes");

    calibrate(s, data_group, int(xyz.size()));
    s.title = text(image.child("Name"));
    if (s.title.empty()) s.title = std::filesystem::path(file_.path()).stem().string();
    read_acquisition(s, image.group("ImageTags"));

    images_.push_back({data->offset, little_ != kHostLittleEndian && dtype_size(s.dtype) > 1});
    signals_.push_back(std::move(s));
  }

  Dtype dm_dtype(double type, std::uint64_t element_type, const std::string& where) const {
    // A value far outside the codes must not reach the conversion to int (undefined there).
    switch (type >= 0 && type < 1000 ? int(type) : -1) {
      case 1: return Dtype::i16;
      case 2: return Dtype::f32;
      case 6: return Dtype::u8;
      case 7: return Dtype::i32;
      case 9: return Dtype::i8;
      case 10: return Dtype::u16;
      case 11: return Dtype::u32;
      case 12: return Dtype::f64;
      case 14: return Dtype::u8;  // binary (0/1) images, one byte per pixel
      case 3: case 5: case 13: case 27: case 28:
        throw InputError::at(file_.path(), where, "data type", "real numbers", "complex values (type " + str::number(type) + ")");
      case 8: case 23:
        throw InputError::at(file_.path(), where, "data type", "grey values", "RGB colour (type " + str::number(type) + ")");
      default:
        // 64-bit integer images: the pixel array's own element type says which.
        if (element_type == kInt64) return Dtype::i64;
        if (element_type == kUInt64) return Dtype::u64;
        throw InputError::at(file_.path(), where, "data type", "a known image type", str::number(type));
    }
  }

  // Calibrations/Dimension lists x, y, z like Dimensions: offset = -Origin * Scale (the origin is
  // in pixels), as RosettaSciIO reads it. A missing entry is scale 1, offset 0, no unit.
  void calibrate(ImageSignal& s, const Tag* data_group, int rank) const {
    std::vector<ImageAxis> xyz(static_cast<std::size_t>(rank));
    const char* names[] = {"x", "y", "z"};
    const Tag* cal = data_group->group("Calibrations");
    const Tag* dims = cal ? cal->group("Dimension") : nullptr;
    for (int i = 0; i < rank; ++i) {
      ImageAxis& a = xyz[std::size_t(i)];
      a.name = names[i];
      if (!dims || std::size_t(i) >= dims->children.size() || dims->children[std::size_t(i)].kind != Kind::group) continue;
      const Tag& d = dims->children[std::size_t(i)];
      a.scale = number(d.child("Scale"), 1);
      a.offset = -number(d.child("Origin"), 0) * a.scale;
      a.units = text(d.child("Units"));
    }
    s.axes.assign(xyz.rbegin(), xyz.rend());
    const ImageAxis& y = s.axes[s.axes.size() - 2];
    const ImageAxis& x = s.axes.back();
    auto pixel_A = [](const ImageAxis& a) {
      const double v = a.scale * length_unit_in_A(a.units);
      return std::isfinite(v) && v > 0 ? v : 0.0;
    };
    s.pixel_size_y_A = pixel_A(y);
    s.pixel_size_x_A = pixel_A(x);
    if (rank == 3 && s.axes[0].units == "s" && std::isfinite(s.axes[0].scale) && s.axes[0].scale > 0)
      s.frame_time_s = s.axes[0].scale;
  }

  void read_acquisition(ImageSignal& s, const Tag* tags) const {
    if (!tags) return;
    // Stacks made by the stack builder keep the source image's tags there (as RosettaSciIO reads them).
    if (const Tag* source = tags->group("source"))
      if (const Tag* at_creation = source->group("Tags at creation")) tags = at_creation;
    auto put = [&](const char* key, const Tag* t, double factor) {
      const double v = number(t, 0) * factor;
      if (std::isfinite(v) && v > 0) s.acquisition[key] = v;
    };
    if (const Tag* m = tags->group("Microscope Info")) {
      put("voltage_kV", m->child("Voltage"), 1e-3);  // V
      put("magnification", m->child("Indicated Magnification"), 1);
      put("camera_length_m", m->child("STEM Camera Length"), 1e-3);  // mm
    }
    if (const Tag* eels = tags->group("EELS"))
      if (const Tag* cond = eels->group("Experimental Conditions"))
        put("convergence_mrad", cond->child("Convergence semi-angle (mrad)"), 1);
    const Tag* scan = tags->group("DigiScan");
    if (scan) put("dwell_time_s", scan->child("Sample Time"), 1e-6);  // µs
    if (const Tag* bar = tags->group("DataBar"); bar && !scan && s.frame_time_s == 0) {
      // A camera image: its exposure is the time of the frame.
      const double t = number(bar->child("Exposure Time (s)"), 0);
      if (std::isfinite(t) && t > 0) s.frame_time_s = t;
    }
    if (s.frame_time_s > 0) s.acquisition["frame_time_s"] = s.frame_time_s;
  }

  BinaryFile file_;
  int version_ = 3;
  bool little_ = true;
  Tag root_;
  std::vector<Image> images_;
};

}  // namespace

std::unique_ptr<ImageSource> open_dm_image(const std::string& path) { return std::make_unique<DmSource>(path); }

}  // namespace tmdflow::io
