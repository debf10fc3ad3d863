#include "tmdflow/io/formats/raw.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/binary_file.hpp"

namespace tmdflow::io {

namespace {

// Sizes of the layout, refused beyond kMaxDatacubeBytes so that no offset computed from them
// overflows (a header or gap of 2^63 bytes would otherwise wrap the expected file size around).
[[noreturn]] void layout_too_large() {
  throw ConfigError("shape: the layout (--shape, --dtype, --header-bytes, --gap-bytes) describes more than 2^62 bytes");
}
std::uint64_t checked_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > kMaxDatacubeBytes) layout_too_large();
  return r;
}
std::uint64_t checked_add(std::uint64_t a, std::uint64_t b) {
  if (a > kMaxDatacubeBytes || b > kMaxDatacubeBytes - a) layout_too_large();
  return a + b;
}

class RawSource : public FrameSource {
 public:
  RawSource(const std::string& path, const FrameSourceOptions& o) : FrameSource(path), file_io_(path) {
    if (o.shape.size() != 4 || std::any_of(o.shape.begin(), o.shape.end(), [](auto v) { return v <= 0; }))
      throw ConfigError("shape: raw input needs --shape Rx,Ry,Qx,Qy (four positive integers), found " +
                        (o.shape.empty() ? std::string("none") : str::shape_string(o.shape)));
    if (!o.dtype) throw ConfigError("dtype: raw input needs --dtype (uint8, uint16, uint32, int16, int32, float32, float64)");
    if (o.header_bytes < 0) throw ConfigError("header-bytes: expected 0 or more, found " + std::to_string(o.header_bytes));
    if (o.gap_bytes < 0) throw ConfigError("gap-bytes: expected 0 or more, found " + std::to_string(o.gap_bytes));
    meta_.shape = o.shape;
    meta_.dtype = *o.dtype;
    header_ = std::uint64_t(o.header_bytes);
    gap_ = std::uint64_t(o.gap_bytes);
    big_endian_ = o.byte_order == ByteOrder::big;
    const std::uint64_t frames = checked_mul(std::uint64_t(o.shape[0]), std::uint64_t(o.shape[1]));
    const std::uint64_t frame = checked_mul(checked_mul(std::uint64_t(o.shape[2]), std::uint64_t(o.shape[3])),
                                            dtype_size(meta_.dtype));
    stride_ = checked_add(gap_, frame);
    const std::uint64_t expected = checked_add(header_, checked_mul(frames, stride_));
    if (file_io_.size() != expected)
      throw InputError::at(path, "", "size",
                           std::to_string(expected) + " bytes (" + std::to_string(header_) + " header + " +
                               std::to_string(frames) + " frames x (" + std::to_string(gap_) + " gap + " +
                               std::to_string(o.shape[2]) + "x" + std::to_string(o.shape[3]) + " " +
                               dtype_name(meta_.dtype) + ") for --shape " + str::join(shape_text(o.shape), ",") + ")",
                           std::to_string(file_io_.size()) + " bytes" +
                               (file_io_.size() < expected ? " (truncated, or a wrong --shape/--dtype)" : " (a wrong --shape/--dtype?)"));
    fold_scan(std::int64_t(frames), o.scan, "frames of --shape");
  }

  std::string format_label() const override { return "raw binary"; }

  void read_frames(std::int64_t first, std::int64_t count, void* out) const override {
    if (count <= 0) return;
    const std::uint64_t frame = stride_ - gap_;
    auto* dst = static_cast<char*>(out);
    if (gap_ == 0) {
      // Frames are contiguous: one read straight into the caller's buffer.
      file_io_.read_at(header_ + std::uint64_t(first) * stride_, dst, std::uint64_t(count) * frame);
    } else {
      const std::int64_t per_piece = std::max<std::int64_t>(1, std::int64_t((16u << 20) / stride_));
      std::vector<char> piece(std::size_t(std::min(per_piece, count) * std::int64_t(stride_)));
      for (std::int64_t f0 = first; f0 < first + count; f0 += per_piece) {
        const std::int64_t n = std::min(per_piece, first + count - f0);
        file_io_.read_at(header_ + std::uint64_t(f0) * stride_, piece.data(), std::uint64_t(n) * stride_);
        for (std::int64_t i = 0; i < n; ++i, dst += frame) std::memcpy(dst, piece.data() + std::size_t(i) * stride_ + gap_, frame);
      }
    }
    if (big_endian_ == kHostLittleEndian)
      swap_bytes(out, std::size_t(count * meta_.pattern_pixels()), dtype_size(meta_.dtype));
  }

 private:
  static std::vector<std::string> shape_text(const std::vector<std::int64_t>& s) {
    std::vector<std::string> out;
    for (auto v : s) out.push_back(std::to_string(v));
    return out;
  }

  BinaryFile file_io_;
  std::uint64_t header_ = 0, gap_ = 0, stride_ = 0;
  bool big_endian_ = false;
};

}  // namespace

std::unique_ptr<FrameSource> open_raw(const std::string& path, const FrameSourceOptions& options) {
  return std::make_unique<RawSource>(path, options);
}

}  // namespace tmdflow::io
