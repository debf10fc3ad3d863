#include "tmdflow/io/formats/npy_image.hpp"

#include <algorithm>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/formats/binary_file.hpp"
#include "tmdflow/io/formats/npy.hpp"

namespace tmdflow::io {

namespace {

class NpyImage : public ImageSource {
 public:
  explicit NpyImage(const std::string& path) : ImageSource(path), file_io_(path) {
    // The header's length sits in bytes 8..12; read exactly the header, then parse it.
    std::string head(std::size_t(std::min<std::uint64_t>(file_io_.size(), 12)), '\0');
    file_io_.read_at(0, head.data(), head.size());
    if (head.size() >= 12 && head.compare(0, 6, "\x93NUMPY", 6) == 0) {
      const int major = static_cast<unsigned char>(head[6]);
      std::uint64_t len = 0;
      if (major == 1) len = std::uint64_t(static_cast<unsigned char>(head[8])) | std::uint64_t(static_cast<unsigned char>(head[9])) << 8;
      else for (int k = 0; k < 4; ++k) len |= std::uint64_t(static_cast<unsigned char>(head[8 + k])) << (8 * k);
      const std::uint64_t end = std::min<std::uint64_t>(file_io_.size(), (major == 1 ? 10 : 12) + len);
      if (end > head.size()) {
        head.resize(std::size_t(end));
        file_io_.read_at(0, head.data(), head.size());
      }
    }
    header_ = parse_npy_header(head, path);
    if (header_.fortran_order)
      throw InputError::at(path, "", "npy header fortran_order", "False (C order; save np.ascontiguousarray(a))", "True");
    const auto& shape = header_.shape;
    if (shape.size() != 2 && shape.size() != 3)
      throw InputError::at(path, "", "shape", "2 dimensions (height, width) or 3 (frames, height, width)", str::shape_string(shape));
    if (std::any_of(shape.begin(), shape.end(), [](auto v) { return v <= 0; }))
      throw InputError::at(path, "", "shape", "positive extents", str::shape_string(shape));
    const std::uint64_t expected = header_.data_offset + checked_datacube_bytes(shape, header_.dtype, path);
    if (file_io_.size() != expected)
      throw InputError::at(path, "", "size", std::to_string(expected) + " bytes (header + " + str::shape_string(shape) + " " + dtype_name(header_.dtype) + ")",
                           std::to_string(file_io_.size()) + " bytes" + (file_io_.size() < expected ? " (truncated)" : ""));
    ImageSignal s;
    const std::string name = path.substr(path.find_last_of('/') + 1);
    s.title = name.substr(0, name.rfind('.'));
    s.dtype = header_.dtype;
    s.frames = shape.size() == 3 ? shape[0] : 1;
    s.height = shape[shape.size() - 2];
    s.width = shape[shape.size() - 1];
    if (shape.size() == 3) s.axes.push_back({"", 1, 0, ""});
    s.axes.push_back({"", 1, 0, ""});
    s.axes.push_back({"", 1, 0, ""});
    signals_.push_back(std::move(s));
  }

  std::string format_label() const override { return "NumPy .npy"; }

  void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const override {
    const ImageSignal& s = signals_.at(0);
    if (signal != 0 || first < 0 || count < 0 || first + count > s.frames)
      throw InputError::at(file_, "", "frames", "frames within [0, " + std::to_string(s.frames) + ")",
                           "[" + std::to_string(first) + ", " + std::to_string(first + count) + ")");
    if (count == 0) return;
    file_io_.read_at(header_.data_offset + std::uint64_t(first) * s.frame_bytes(), out, std::uint64_t(count) * s.frame_bytes());
    if ((header_.byte_order == ByteOrder::little) != kHostLittleEndian)
      swap_bytes(out, std::size_t(count * s.height * s.width), dtype_size(s.dtype));
  }

 private:
  BinaryFile file_io_;
  NpyHeader header_;
};

}  // namespace

std::unique_ptr<ImageSource> open_npy_image(const std::string& path) { return std::make_unique<NpyImage>(path); }

}  // namespace tmdflow::io
