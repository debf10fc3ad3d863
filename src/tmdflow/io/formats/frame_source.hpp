#pragma once
// Readers of foreign 4D-STEM files behind one small interface: a FrameSource knows the datacube's
// shape (Rx, Ry, Qx, Qy), element type and, when the file records it, calibration; it reads any
// range of frames (scan positions in row-major order) into memory in native byte order. Reads are
// local to the calling rank (no MPI): each rank opens the file and reads only its own frames.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tmdflow/io/datacube.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::io {

enum class InputFormat { automatic, mib, raw, npy, hdf5, arina };

/// "auto", "mib", "raw", "npy", "hdf5", "arina" (ConfigError naming `what` otherwise).
InputFormat input_format_from_name(const std::string& name, const std::string& what = "format");
std::string input_format_name(InputFormat f);
/// The format of a file from its extension (.mib; .raw, .bin; .npy; .h5, .hdf5, .emd), else from
/// its first bytes; InputError naming the file when neither tells. An HDF5 file of a DECTRIS
/// acquisition (master, data or scan-metadata file) is `arina`.
InputFormat detect_input_format(const std::string& path);

enum class ByteOrder { little, big };
ByteOrder byte_order_from_name(const std::string& name, const std::string& what = "endian");

/// What a reader needs besides the file (the stage fills it from its options).
struct FrameSourceOptions {
  InputFormat format = InputFormat::automatic;
  /// Scan shape {Rx, Ry}: folds the file's frames (in scan order) into Rx rows of Ry positions.
  /// Empty: from the file (Merlin: its .hdr; NumPy/HDF5/raw: their shape).
  std::vector<std::int64_t> scan;
  // Raw binary only: the layout, which the file does not record.
  std::vector<std::int64_t> shape;  // {Rx, Ry, Qx, Qy}
  std::optional<Dtype> dtype;
  ByteOrder byte_order = ByteOrder::little;
  std::int64_t header_bytes = 0;    // skipped at the start of the file
  std::int64_t gap_bytes = 0;       // skipped before every frame
  /// HDF5 only: path of the dataset or array group ("" = the file's only datacube).
  std::string dataset;
  /// DECTRIS only: multiply the frames by the master's flatfield (float32 output).
  bool flatfield = false;
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  /// Shape {Rx, Ry, Qx, Qy}, dtype, calibration (pixels when unknown), acquisition values.
  const DatacubeMeta& meta() const { return meta_; }
  const std::string& file() const { return file_; }
  /// "Merlin .mib", "raw binary", ... for messages and logs.
  virtual std::string format_label() const = 0;
  /// Other files the data depend on (Merlin's .hdr), for the configuration hash.
  virtual std::vector<std::string> companion_files() const { return {}; }

  /// Reads frames [first, first + count) in scan order into `out` (count * Qx * Qy elements of
  /// meta().dtype, native byte order). Checks what it reads (frame headers) and throws InputError
  /// naming the file and frame. Local: no collective call.
  virtual void read_frames(std::int64_t first, std::int64_t count, void* out) const = 0;
  /// Scan rows [row0, row0 + nrows).
  void read_rows(std::int64_t row0, std::int64_t nrows, void* out) const {
    read_frames(row0 * meta_.scan_cols(), nrows * meta_.scan_cols(), out);
  }
  std::uint64_t frame_bytes() const { return std::uint64_t(meta_.pattern_pixels()) * dtype_size(meta_.dtype); }

 protected:
  explicit FrameSource(std::string file) : file_(std::move(file)) {}
  /// Applies options.scan (when given) to meta_.shape: Rx * Ry must equal the frame count.
  void fold_scan(std::int64_t frames, const std::vector<std::int64_t>& scan, const std::string& origin);

  std::string file_;
  DatacubeMeta meta_;
};

/// Opens `path` with the reader of its format, checking everything that can be checked before
/// reading the frames (existence, headers of the first frame, sizes, shape). Throws InputError,
/// ConfigError (options inconsistent with the format) or IoError.
std::unique_ptr<FrameSource> open_frame_source(const std::string& path, const FrameSourceOptions& options);

/// A block of frames to read and write in one step: positions [col0, col0 + ncols) of scan rows
/// [row0, row0 + nrows); either whole rows (ncols = Ry) or part of one row (nrows = 1).
struct ScanBlock {
  std::int64_t row0 = 0, nrows = 0, col0 = 0, ncols = 0;
  std::int64_t frames() const { return nrows * ncols; }
};
/// Splits scan rows `rows` (of `cols` positions) into blocks of at most `max_frames` frames
/// (at least one), whole rows when a row fits.
std::vector<ScanBlock> scan_blocks(const par::Range& rows, std::int64_t cols, std::int64_t max_frames);

/// Reverses the bytes of each of `count` elements of `size` bytes (1: nothing to do).
void swap_bytes(void* data, std::size_t count, std::size_t size);

}  // namespace tmdflow::io
