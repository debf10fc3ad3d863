#include "tmdflow/io/formats/npy.hpp"

#include <algorithm>
#include <cstring>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/binary_file.hpp"

namespace tmdflow::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

// A cursor over the header's Python literal: only what numpy.lib.format writes (a dict of a string,
// a bool and a tuple of ints) is accepted.
class Literal {
 public:
  Literal(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  [[noreturn]] void fail(const std::string& what, const std::string& expected) const {
    throw InputError::at(file_, "", "npy header " + what, expected,
                         i_ >= s_.size() ? "the end of the header" : str::quoted(s_.substr(i_), 20));
  }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool peek(char c) {
    skip_ws();
    return i_ < s_.size() && s_[i_] == c;
  }
  void expect(char c, const std::string& what) {
    if (!peek(c)) fail(what, std::string("'") + c + "'");
    ++i_;
  }
  std::string string(const std::string& what) {
    skip_ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail(what, "a quoted string");
    const char q = s_[i_++];
    const auto end = s_.find(q, i_);
    if (end == std::string_view::npos) fail(what, "a closing quote");
    std::string v(s_.substr(i_, end - i_));
    i_ = end + 1;
    return v;
  }
  bool boolean(const std::string& what) {
    skip_ws();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail(what, "True or False");
  }
  std::vector<std::int64_t> int_tuple(const std::string& what) {
    expect('(', what);
    std::vector<std::int64_t> v;
    while (!peek(')')) {
      std::size_t b = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      if (i_ == b || i_ - b > 18) fail(what, "a tuple of whole numbers");
      v.push_back(std::stoll(std::string(s_.substr(b, i_ - b))));
      if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2's long literals
      if (peek(',')) ++i_;
      else if (!peek(')')) fail(what, "',' or ')'");
    }
    ++i_;
    return v;
  }

 private:
  std::string_view s_;
  const std::string& file_;
  std::size_t i_ = 0;
};

void parse_descr(const std::string& d, NpyHeader& h, const std::string& file) {
  const std::string expected = "a plain number type (u1, u2, u4, u8, i1, i2, i4, i8, f4 or f8, with < or > byte order)";
  std::string t = d;
  h.byte_order = kHostLittleEndian ? ByteOrder::little : ByteOrder::big;
  if (!t.empty() && (t[0] == '<' || t[0] == '>' || t[0] == '|' || t[0] == '=')) {
    if (t[0] == '<') h.byte_order = ByteOrder::little;
    if (t[0] == '>') h.byte_order = ByteOrder::big;
    t = t.substr(1);
  }
  static const std::pair<const char*, Dtype> kTypes[] = {
      {"u1", Dtype::u8},  {"u2", Dtype::u16}, {"u4", Dtype::u32}, {"u8", Dtype::u64}, {"i1", Dtype::i8},
      {"i2", Dtype::i16}, {"i4", Dtype::i32}, {"i8", Dtype::i64}, {"f4", Dtype::f32}, {"f8", Dtype::f64}};
  for (const auto& [name, dtype] : kTypes)
    if (t == name) {
      h.dtype = dtype;
      return;
    }
  throw InputError::at(file, "", "npy header descr", expected, str::quoted(d));
}

}  // namespace

NpyHeader parse_npy_header(std::string_view bytes, const std::string& file) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view(kMagic, 6))
    throw InputError::at(file, "", "npy magic", "'\\x93NUMPY' (a NumPy .npy file)",
                         bytes.size() < 6 ? std::to_string(bytes.size()) + " bytes" : "other bytes");
  NpyHeader h;
  h.major_version = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  std::uint64_t len = 0;
  if (h.major_version == 1) {
    len = std::uint64_t(static_cast<unsigned char>(bytes[8])) | std::uint64_t(static_cast<unsigned char>(bytes[9])) << 8;
    h.data_offset = 10 + len;
  } else if (h.major_version == 2 || h.major_version == 3) {
    if (bytes.size() < 12) throw InputError::at(file, "", "npy header", "12 bytes or more", std::to_string(bytes.size()) + " bytes");
    for (int k = 0; k < 4; ++k) len |= std::uint64_t(static_cast<unsigned char>(bytes[8 + k])) << (8 * k);
    h.data_offset = 12 + len;
  } else {
    throw InputError::at(file, "", "npy format version", "1.0, 2.0 or 3.0",
                         std::to_string(h.major_version) + "." + std::to_string(minor));
  }
  if (bytes.size() < h.data_offset)
    throw InputError::at(file, "", "npy header", std::to_string(h.data_offset) + " bytes",
                         std::to_string(bytes.size()) + " bytes (truncated)");
  Literal lit(bytes.substr(h.data_offset - len, len), file);
  bool have_descr = false, have_order = false, have_shape = false;
  lit.expect('{', "dictionary");
  while (!lit.peek('}')) {
    const std::string key = lit.string("key");
    lit.expect(':', "after " + str::quoted(key));
    if (key == "descr") {
      if (lit.peek('[')) lit.fail("descr", "a plain number type, not a structured type");
      parse_descr(lit.string("descr"), h, file);
      have_descr = true;
    } else if (key == "fortran_order") {
      h.fortran_order = lit.boolean("fortran_order");
      have_order = true;
    } else if (key == "shape") {
      h.shape = lit.int_tuple("shape");
      have_shape = true;
    } else {
      throw InputError::at(file, "", "npy header key", "descr, fortran_order or shape", str::quoted(key));
    }
    if (lit.peek(',')) lit.expect(',', "separator");
    else if (!lit.peek('}')) lit.fail("dictionary", "',' or '}'");
  }
  if (!have_descr || !have_order || !have_shape)
    throw InputError::at(file, "", "npy header", "the keys descr, fortran_order and shape",
                         std::string(have_descr ? "" : " no descr") + (have_order ? "" : " no fortran_order") +
                             (have_shape ? "" : " no shape"));
  return h;
}

namespace {

class NpySource : public FrameSource {
 public:
  NpySource(const std::string& path, const FrameSourceOptions& o) : FrameSource(path), file_io_(path) {
    std::string head(std::size_t(std::min<std::uint64_t>(file_io_.size(), 12)), '\0');
    file_io_.read_at(0, head.data(), head.size());
    // The header length is in the first 12 bytes; read exactly the whole header, then parse.
    std::uint64_t offset = 0;
    if (head.size() >= 12 && head.compare(0, 6, kMagic, 6) == 0) {
      const int major = static_cast<unsigned char>(head[6]);
      std::uint64_t len = 0;
      if (major == 1) len = std::uint64_t(static_cast<unsigned char>(head[8])) | std::uint64_t(static_cast<unsigned char>(head[9])) << 8;
      else for (int k = 0; k < 4; ++k) len |= std::uint64_t(static_cast<unsigned char>(head[8 + k])) << (8 * k);
      offset = std::min<std::uint64_t>(file_io_.size(), (major == 1 ? 10 : 12) + len);
    }
    if (offset > head.size()) {
      head.resize(std::size_t(offset));
      file_io_.read_at(0, head.data(), head.size());
    }
    header_ = parse_npy_header(head, path);
    if (header_.fortran_order)
      throw InputError::at(path, "", "npy header fortran_order", "False (C order; save np.ascontiguousarray(a))", "True");
    const auto& s = header_.shape;
    const bool scan3 = s.size() == 3 && !o.scan.empty();
    if (s.size() != 4 && !scan3)
      throw InputError::at(path, "", "shape", "4 dimensions (Rx, Ry, Qx, Qy), or 3 (frames, Qx, Qy) with --scan Rx,Ry",
                           str::shape_string(s));
    if (std::any_of(s.begin(), s.end(), [](auto v) { return v <= 0; }))
      throw InputError::at(path, "", "shape", "positive extents", str::shape_string(s));
    meta_.shape = s.size() == 4 ? s : std::vector<std::int64_t>{1, s[0], s[1], s[2]};
    meta_.dtype = header_.dtype;
    // A header may claim any extents: refuse sizes whose arithmetic below would overflow.
    const std::uint64_t expected = header_.data_offset + checked_datacube_bytes(s, meta_.dtype, path);
    const std::int64_t frames = meta_.shape[0] * meta_.shape[1];
    if (file_io_.size() != expected)
      throw InputError::at(path, "", "size",
                           std::to_string(expected) + " bytes (" + std::to_string(header_.data_offset) + " header + " +
                               str::shape_string(s) + " " + dtype_name(meta_.dtype) + ")",
                           std::to_string(file_io_.size()) + " bytes" + (file_io_.size() < expected ? " (truncated)" : ""));
    fold_scan(frames, o.scan, "frames in the array");
  }

  std::string format_label() const override { return "NumPy .npy"; }

  void read_frames(std::int64_t first, std::int64_t count, void* out) const override {
    if (count <= 0) return;
    file_io_.read_at(header_.data_offset + std::uint64_t(first) * frame_bytes(), out, std::uint64_t(count) * frame_bytes());
    const bool file_little = header_.byte_order == ByteOrder::little;
    if (file_little != kHostLittleEndian)
      swap_bytes(out, std::size_t(count * meta_.pattern_pixels()), dtype_size(meta_.dtype));
  }

 private:
  BinaryFile file_io_;
  NpyHeader header_;
};

}  // namespace

std::unique_ptr<FrameSource> open_npy(const std::string& path, const FrameSourceOptions& options) {
  return std::make_unique<NpySource>(path, options);
}

}  // namespace tmdflow::io
