#pragma once
// The image_stack/1 product (data_schema/images.md): an EMD 1.0 root holding the array `images`
// (data[N, H, W], native dtype; dims frame, y, x in s/index and Angstrom/pixels), attributes with
// the calibration and the acquisition values all frames share, and per-frame records in `frames`.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/io/dtype.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/product.hpp"

namespace tmdflow::io {

struct ImageStackMeta {
  std::int64_t frames = 0, height = 0, width = 0;
  Dtype dtype = Dtype::u8;
  double pixel_size_y_A = 0, pixel_size_x_A = 0;  // 0: uncalibrated
  double frame_time_s = 0;                         // 0: unknown
  /// Acquisition values every frame shares (attributes of the product group).
  std::map<std::string, double> acquisition;
  /// Per frame (length `frames` each).
  std::vector<std::string> source_file, title;
  std::vector<std::int64_t> frame_in_source;
  /// Per-frame acquisition values (NaN where unknown), one entry per key any frame has.
  std::map<std::string, std::vector<double>> frame_acquisition;
  bool calibrated() const { return pixel_size_y_A > 0 && pixel_size_x_A > 0; }
  std::uint64_t frame_bytes() const { return std::uint64_t(height) * std::uint64_t(width) * dtype_size(dtype); }
};

/// Products laid out as image_stack/1 (images/, frames/ and the calibration attributes), which
/// ImageStackReader opens: image_stack/1 itself and movie/1 (simulate-movie: image_stack/1 plus truth/).
bool has_image_stack_layout(const std::string& schema);

/// Chunks of one frame when a frame is at most 64 MiB, else tiles of 1024 x 1024 pixels.
h5::Shape image_stack_chunks(const ImageStackMeta& meta);

/// Writes an image stack into `group` (created collectively on the file's communicator: every rank
/// passes the same meta; then each rank writes its own frames, independently).
class ImageStackWriter {
 public:
  ImageStackWriter(const h5::Group& group, const ImageStackMeta& meta);
  /// Frames [first, first + count) of this rank (count may be 0); independent I/O: a rank that
  /// fails must tell the others before their next collective call (par::collectively).
  void write_frames(std::int64_t first, std::int64_t count, const void* data) const;
  const ImageStackMeta& meta() const { return meta_; }

 private:
  ImageStackMeta meta_;
  h5::Dataset data_;
};

/// Opens an image_stack/1 product (or another of its layout, has_image_stack_layout; or simulate-adf's
/// adf_images/1, calibrated by its probe step) ("FILE[:/group]"; default group /image_stack) to read
/// its frames and calibration (rank-local reads).
class ImageStackReader {
 public:
  static ImageStackReader open(const std::string& spec);
  const ImageStackMeta& meta() const { return meta_; }
  /// "FILE:/group"
  const std::string& where() const { return where_; }
  /// Reads frames [first, first + count) in the stored dtype (meta().dtype).
  void read_frames(std::int64_t first, std::int64_t count, void* out) const;
  /// Reads frames converted to T.
  template <class T>
  void read_frames_as(std::int64_t first, std::int64_t count, T* out) const {
    data_.read(h5::Shape{first, 0, 0}, h5::Shape{count, meta_.height, meta_.width}, out, h5::Xfer::independent);
  }
  /// Throws ConfigError naming the product and `what` (the analysis that needs it) unless the
  /// stack is calibrated.
  void require_calibrated(const std::string& what) const;
  /// The frames' dataset within the product group ("images/data"; "image/data" for adf_images/1).
  const std::string& data_path() const { return data_path_; }

 private:
  std::shared_ptr<h5::File> file_;
  h5::Dataset data_;
  ImageStackMeta meta_;
  std::string where_;
  std::string data_path_;
};

}  // namespace tmdflow::io
