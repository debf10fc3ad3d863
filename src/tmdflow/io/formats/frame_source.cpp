#include "tmdflow/io/formats/frame_source.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "tmdflow/core/strings.hpp"
#include "tmdflow/io/formats/arina.hpp"
#include "tmdflow/io/formats/arina_files.hpp"
#include "tmdflow/io/formats/binary_file.hpp"
#include "tmdflow/io/formats/hdf5_source.hpp"
#include "tmdflow/io/formats/merlin.hpp"
#include "tmdflow/io/formats/npy.hpp"
#include "tmdflow/io/formats/raw.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {

InputFormat input_format_from_name(const std::string& name, const std::string& what) {
  const std::string n = str::lower(str::trim(name));
  if (n == "auto" || n.empty()) return InputFormat::automatic;
  if (n == "mib" || n == "merlin") return InputFormat::mib;
  if (n == "raw" || n == "bin") return InputFormat::raw;
  if (n == "npy") return InputFormat::npy;
  if (n == "hdf5" || n == "h5" || n == "emd") return InputFormat::hdf5;
  if (n == "arina" || n == "dectris" || n == "nxmx") return InputFormat::arina;
  throw ConfigError(what + ": expected one of auto, mib, raw, npy, hdf5, arina, found '" + name + "'");
}

std::string input_format_name(InputFormat f) {
  switch (f) {
    case InputFormat::automatic: return "auto";
    case InputFormat::mib: return "mib";
    case InputFormat::raw: return "raw";
    case InputFormat::npy: return "npy";
    case InputFormat::hdf5: return "hdf5";
    case InputFormat::arina: return "arina";
  }
  return "?";
}

InputFormat detect_input_format(const std::string& path) {
  const std::string ext = str::lower(fs::path(path).extension().string());
  if (ext == ".mib") return InputFormat::mib;
  if (ext == ".raw" || ext == ".bin") return InputFormat::raw;
  if (ext == ".npy") return InputFormat::npy;
  if (ext == ".h5" || ext == ".hdf5" || ext == ".hdf" || ext == ".emd")
    return dectris_role(path) == DectrisRole::none ? InputFormat::hdf5 : InputFormat::arina;
  // An unknown extension: the formats that announce themselves in their first bytes.
  BinaryFile f(path);
  char head[8] = {};
  const auto n = f.read_some_at(0, head, sizeof head);
  if (n >= 4 && std::memcmp(head, "MQ1,", 4) == 0) return InputFormat::mib;
  if (n >= 6 && std::memcmp(head, "\x93NUMPY", 6) == 0) return InputFormat::npy;
  if (n >= 8 && std::memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0)
    return dectris_role(path) == DectrisRole::none ? InputFormat::hdf5 : InputFormat::arina;
  throw InputError::at(path, "", "format", "a file named .mib, .raw, .bin, .npy, .h5, .hdf5 or .emd (or --format)",
                       ext.empty() ? "no extension" : "'" + ext + "'");
}

ByteOrder byte_order_from_name(const std::string& name, const std::string& what) {
  const std::string n = str::lower(str::trim(name));
  if (n == "little" || n == "le" || n == "<") return ByteOrder::little;
  if (n == "big" || n == "be" || n == ">") return ByteOrder::big;
  throw ConfigError(what + ": expected little or big, found '" + name + "'");
}

void FrameSource::fold_scan(std::int64_t frames, const std::vector<std::int64_t>& scan, const std::string& origin) {
  if (scan.empty()) return;
  if (scan.size() != 2 || scan[0] <= 0 || scan[1] <= 0)
    throw ConfigError("scan: expected two positive integers Rx,Ry, found " + str::shape_string(scan));
  std::int64_t positions = 0;
  const bool overflow = __builtin_mul_overflow(scan[0], scan[1], &positions);
  if (overflow || positions != frames)
    throw InputError::at(file_, "", "frame count",
                         (overflow ? std::string("more than 2^63") : std::to_string(positions)) + " (--scan " +
                             std::to_string(scan[0]) + "," + std::to_string(scan[1]) + ")",
                         std::to_string(frames) + " (" + origin + ")");
  meta_.shape[0] = scan[0];
  meta_.shape[1] = scan[1];
}

std::unique_ptr<FrameSource> open_frame_source(const std::string& path, const FrameSourceOptions& o) {
  if (!fs::exists(path)) throw IoError(path + ": no such file");
  const InputFormat format = o.format == InputFormat::automatic ? detect_input_format(path) : o.format;
  const std::string fname = input_format_name(format);
  // Layout options that the chosen format would ignore are mistakes: say so rather than guess.
  if (format != InputFormat::raw) {
    if (!o.shape.empty()) throw ConfigError("shape: applies to raw input only; this input is " + fname + " (its shape is in the file)");
    if (o.dtype) throw ConfigError("dtype: applies to raw input only; this input is " + fname + " (its type is in the file)");
    if (o.byte_order != ByteOrder::little) throw ConfigError("endian: applies to raw input only; this input is " + fname);
    if (o.header_bytes != 0) throw ConfigError("header-bytes: applies to raw input only; this input is " + fname);
    if (o.gap_bytes != 0) throw ConfigError("gap-bytes: applies to raw input only; this input is " + fname);
  }
  if (format != InputFormat::hdf5 && !o.dataset.empty())
    throw ConfigError("dataset: applies to HDF5 input only; this input is " + fname +
                      (format == InputFormat::arina ? " (its frames are the master's /entry/data links)" : ""));
  if (format != InputFormat::arina && o.flatfield)
    throw ConfigError("flatfield: applies to DECTRIS input only (the master's flatfield); this input is " + fname);
  switch (format) {
    case InputFormat::mib: return open_merlin(path, o);
    case InputFormat::raw: return open_raw(path, o);
    case InputFormat::npy: return open_npy(path, o);
    case InputFormat::hdf5: return open_hdf5_source(path, o);
    case InputFormat::arina: return open_arina(path, o);
    case InputFormat::automatic: break;
  }
  throw ConfigError("format: no reader for '" + fname + "'");
}

std::vector<ScanBlock> scan_blocks(const par::Range& rows, std::int64_t cols, std::int64_t max_frames) {
  std::vector<ScanBlock> blocks;
  if (rows.empty() || cols <= 0) return blocks;
  max_frames = std::max<std::int64_t>(1, max_frames);
  if (max_frames >= cols) {
    const std::int64_t per = max_frames / cols;
    for (std::int64_t r = rows.begin; r < rows.end; r += per) blocks.push_back({r, std::min(per, rows.end - r), 0, cols});
  } else {
    for (std::int64_t r = rows.begin; r < rows.end; ++r)
      for (std::int64_t c = 0; c < cols; c += max_frames) blocks.push_back({r, 1, c, std::min(max_frames, cols - c)});
  }
  return blocks;
}

void swap_bytes(void* data, std::size_t count, std::size_t size) {
  switch (size) {
    case 2: {
      auto* p = static_cast<std::uint16_t*>(data);
      for (std::size_t i = 0; i < count; ++i) p[i] = __builtin_bswap16(p[i]);
      break;
    }
    case 4: {
      auto* p = static_cast<std::uint32_t*>(data);
      for (std::size_t i = 0; i < count; ++i) p[i] = __builtin_bswap32(p[i]);
      break;
    }
    case 8: {
      auto* p = static_cast<std::uint64_t*>(data);
      for (std::size_t i = 0; i < count; ++i) p[i] = __builtin_bswap64(p[i]);
      break;
    }
    default: break;
  }
}

}  // namespace tmdflow::io
