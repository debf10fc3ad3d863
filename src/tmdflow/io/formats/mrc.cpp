#include "tmdflow/io/formats/mrc.hpp"

#include <cmath>
#include <cstring>

#include "tmdflow/core/error.hpp"
#include "tmdflow/io/formats/binary_file.hpp"
#include "tmdflow/io/formats/frame_source.hpp"

namespace tmdflow::io {

namespace {

constexpr std::uint32_t kOldFeiExtendedBytes = 1024 * 128;  // 1024 records of 128 bytes

class MrcImage : public ImageSource {
 public:
  explicit MrcImage(const std::string& path) : ImageSource(path), file_io_(path) {
    if (file_io_.size() < 1024) fail("header", "1024 bytes", std::to_string(file_io_.size()) + " bytes (truncated)");
    file_io_.read_at(0, header_, 1024);
    // MACHST 0x11 0x11: big-endian; 0x44 0x44 (or 0x44 0x41, or an unset stamp): little-endian.
    little_ = !(static_cast<unsigned char>(header_[212]) == 0x11);
    const std::int64_t nx = i32(0), ny = i32(4), nz = i32(8), mode = i32(12);
    const std::int64_t mx = i32(28), my = i32(32);
    const std::int64_t next = i32(92);
    if (nx <= 0 || ny <= 0 || nz <= 0 || nx > (1 << 24) || ny > (1 << 24) || nz > (1 << 24))
      fail("header NX, NY, NZ", "positive sizes below 2^24", std::to_string(nx) + ", " + std::to_string(ny) + ", " + std::to_string(nz));
    ImageSignal s;
    switch (mode) {
      case 0: s.dtype = Dtype::u8; break;
      case 1: s.dtype = Dtype::i16; break;
      case 2: s.dtype = Dtype::f32; break;
      case 6: s.dtype = Dtype::u16; break;
      default: fail("header MODE", "0 (uint8), 1 (int16), 2 (float32) or 6 (uint16)", std::to_string(mode));
    }
    if (next < 0 || std::uint64_t(next) > file_io_.size())
      fail("header NEXT", "an extended header within the file", std::to_string(next) + " bytes");
    data_offset_ = 1024 + std::uint64_t(next);
    s.frames = nz;
    s.height = ny;
    s.width = nx;
    const std::uint64_t expected = data_offset_ + std::uint64_t(nz) * s.frame_bytes();
    if (file_io_.size() < expected)
      fail("size", std::to_string(expected) + " bytes (1024 header + " + std::to_string(next) + " extended + " + std::to_string(nz) + "x" +
                       std::to_string(ny) + "x" + std::to_string(nx) + " " + dtype_name(s.dtype) + ")",
           std::to_string(file_io_.size()) + " bytes (truncated)");
    const std::string name = path.substr(path.find_last_of('/') + 1);
    s.title = name.substr(0, name.rfind('.'));
    // Scale: the cell over the sampling (Angstrom), as the MRC standard says, unless an old FEI
    // extended header gives the pixel size (FEI leaves the cell unset).
    double step_y_A = 0, step_x_A = 0;
    if (std::uint64_t(next) == kOldFeiExtendedBytes) {
      char record[128];
      file_io_.read_at(1024, record, sizeof record);
      const double pixel_m = f32_at(record + 44);
      if (pixel_m > 0 && std::isfinite(pixel_m)) step_y_A = step_x_A = pixel_m * 1e10;
      const double magnification = f32_at(record + 48);
      if (magnification > 0 && std::isfinite(magnification)) s.acquisition["magnification"] = magnification;
    } else {
      const double xlen = f32(40), ylen = f32(44);
      if (mx > 0 && xlen > 0 && std::isfinite(xlen)) step_x_A = xlen / double(mx);
      if (my > 0 && ylen > 0 && std::isfinite(ylen)) step_y_A = ylen / double(my);
    }
    const double origin_y_A = f32(200), origin_x_A = f32(196);
    if (nz > 1) s.axes.push_back({"z", 1, 0, ""});
    s.axes.push_back({"y", step_y_A > 0 ? step_y_A / 10 : 1, std::isfinite(origin_y_A) ? origin_y_A / 10 : 0, step_y_A > 0 ? "nm" : ""});
    s.axes.push_back({"x", step_x_A > 0 ? step_x_A / 10 : 1, std::isfinite(origin_x_A) ? origin_x_A / 10 : 0, step_x_A > 0 ? "nm" : ""});
    if (step_y_A > 0 && step_x_A > 0) {
      s.pixel_size_y_A = step_y_A;
      s.pixel_size_x_A = step_x_A;
    }
    signals_.push_back(std::move(s));
  }

  std::string format_label() const override { return "MRC"; }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    const ImageSignal& s = signals_.at(0);
    if (signal != 0 || first < 0 || count < 0 || first + count > s.frames)
      fail("frames", "frames within [0, " + std::to_string(s.frames) + ")",
           "[" + std::to_string(first) + ", " + std::to_string(first + count) + ")");
    if (count == 0) return;
    file_io_.read_at(data_offset_ + std::uint64_t(first) * s.frame_bytes(), out, std::uint64_t(count) * s.frame_bytes());
    if (little_ != kHostLittleEndian)
      swap_bytes(out, std::size_t(count * s.height * s.width), dtype_size(s.dtype));
  }

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& expected, const std::string& found) const {
    throw InputError::at(file_, "", what, expected, found);
  }
  std::int64_t i32(int offset) const {
    std::uint32_t v;
    std::memcpy(&v, header_ + offset, 4);
    if (little_ != kHostLittleEndian) v = __builtin_bswap32(v);
    return std::int32_t(v);
  }
  double f32_at(const char* p) const {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    if (little_ != kHostLittleEndian) v = __builtin_bswap32(v);
    float f;
    std::memcpy(&f, &v, 4);
    return f;
  }
  double f32(int offset) const { return f32_at(header_ + offset); }

  BinaryFile file_io_;
  char header_[1024] = {0};
  bool little_ = true;
  std::uint64_t data_offset_ = 1024;
};

}  // namespace

std::unique_ptr<ImageSource> open_mrc_image(const std::string& path) { return std::make_unique<MrcImage>(path); }

}  // namespace tmdflow::io
