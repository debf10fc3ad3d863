#pragma once
// Readers of foreign real-space image files (TIFF, PNG, DigitalMicrograph, Velox EMD, MRC, TIA,
// EMD 1.0 / py4DSTEM arrays, NumPy) behind one small interface, the image counterpart of
// FrameSource. A file holds one or more signals (Velox: several detectors); a signal is a stack of
// `frames` images of height x width pixels (one image: frames = 1) of one element type. A reader
// opens the file, checks what can be checked before reading pixels (headers, tags, sizes against
// the file's length) and reads any range of frames in native byte order. Reads are local to the
// calling rank (no MPI).
//
// Calibration is kept twice: as the file states it (axes: name, scale, offset, units, exactly as
// RosettaSciIO reports them, for comparison) and converted to tmdflow's units (pixel size in
// Angstrom, frame time in seconds; 0 = the file does not say).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tmdflow/io/dtype.hpp"

namespace tmdflow::io {

/// One axis as the file states it (see ImageSignal::axes).
struct ImageAxis {
  std::string name;   // "z", "Time", "y", "x", ... as the file names it ("" when it does not)
  double scale = 1;   // per pixel (per frame), in `units`
  double offset = 0;
  std::string units;  // as the file writes it: "nm", "µm", "pm", "s", "" (none)
};

/// Acquisition values a file may record; NaN-free: a value is present only when the file has it.
/// Keys (fixed names, tmdflow units): voltage_kV, convergence_mrad, detector_inner_mrad,
/// detector_outer_mrad, dwell_time_s, magnification, frame_time_s, camera_length_m.
using Acquisition = std::map<std::string, double>;

struct ImageSignal {
  std::string title;            // the file's name for the signal ("HAADF", "DF4-A", file stem if none)
  Dtype dtype = Dtype::u8;      // native element type, kept in the product
  std::int64_t frames = 1, height = 0, width = 0;
  /// Axes as the file states them: 3 entries (frame, y, x) for a stack, 2 (y, x) for one image.
  std::vector<ImageAxis> axes;
  /// In tmdflow units (0: unknown; the image is then marked uncalibrated).
  double pixel_size_y_A = 0, pixel_size_x_A = 0;
  double frame_time_s = 0;
  Acquisition acquisition;
  bool calibrated() const { return pixel_size_y_A > 0 && pixel_size_x_A > 0; }
  std::uint64_t frame_bytes() const { return std::uint64_t(height) * std::uint64_t(width) * dtype_size(dtype); }
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  const std::string& file() const { return file_; }
  /// "TIFF", "DigitalMicrograph DM4", ... for messages and logs.
  virtual std::string format_label() const = 0;
  /// Other files the data depend on (TIA's .ser beside the .emi), for the configuration hash and
  /// the data-safety checks.
  virtual std::vector<std::string> companion_files() const { return {}; }
  /// The file's signals (at least one), in the file's order.
  const std::vector<ImageSignal>& signals() const { return signals_; }
  /// Reads frames [first, first + count) of signal `signal` into `out` (count * height * width
  /// elements of its dtype, native byte order, row-major: x is the last axis). Throws InputError
  /// naming the file, signal and frame when the file cannot give them. Local: no collective call.
  virtual void read_frames(std::size_t signal, std::int64_t first, std::int64_t count, void* out) const = 0;

 protected:
  explicit ImageSource(std::string file) : file_(std::move(file)) {}
  std::string file_;
  std::vector<ImageSignal> signals_;
};

enum class ImageFormat { automatic, tiff, png, dm, velox, mrc, tia, emd, npy };

/// "auto", "tiff", "png", "dm", "velox", "mrc", "tia", "emd", "npy" (ConfigError naming `what` otherwise).
ImageFormat image_format_from_name(const std::string& name, const std::string& what = "format");
std::string image_format_name(ImageFormat f);
/// The format of a file from its first bytes, else its extension (.tif/.tiff, .png, .dm3/.dm4,
/// .emd (Velox or EMD 1.0, told apart by content), .mrc, .emi/.ser, .h5/.hdf5, .npy); InputError
/// naming the file when neither tells.
ImageFormat detect_image_format(const std::string& path);

/// Whether a file is an image file this module reads (not a 4D-STEM datacube): used by the ingest
/// stage to choose between the image and the datacube path. HDF5/EMD/npy files decide by the rank
/// of their data (2-D or 3-D: images; 4-D: datacube).
bool looks_like_image_file(const std::string& path);

/// Opens `path` with the reader of its format (InputError, IoError on failure).
std::unique_ptr<ImageSource> open_image_source(const std::string& path, ImageFormat format = ImageFormat::automatic);

}  // namespace tmdflow::io
