#pragma once
// Quantum Detectors Merlin (Medipix3) .mib files: a sequence of frames, each an ASCII header
// ("MQ1,seq,header bytes,chips,width,height,type,layout,...", padded with NULs to the header size)
// followed by width x height big-endian pixels of the header's type (U08 for counter depth 1 and
// 6, U16 for 12, U32 for 24). R64 ("raw") frames hold packed counter bits and are refused.
// Pixels are kept in the file's order: rows of the frame are Qx, columns Qy (no flip).
// The scan shape is not in the .mib; it comes from --scan or the .hdr written beside it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tmdflow/io/formats/frame_source.hpp"

namespace tmdflow::io {

struct MibHeader {
  std::int64_t sequence = 0;      // frame number written by the detector (1-based)
  std::int64_t header_bytes = 0;  // 384 for one chip, 768 for a quad
  std::int64_t chips = 0;
  std::int64_t width = 0;         // pixels per frame row (Qy)
  std::int64_t height = 0;        // frame rows (Qx)
  std::string type;               // U08, U16, U32, U64 or R64
  std::string layout;             // chip layout: 1x1, 2x2, Nx1
  std::optional<double> exposure_s;
  std::optional<std::int64_t> counter_depth;  // bits, from the extended (MQ1A) fields
  bool raw() const { return type == "R64"; }
  Dtype dtype() const;  // of U08/U16/U32/U64 frames
};

/// Parses the header of frame `frame` (0-based) from `bytes` (the header; what follows the
/// header's NUL padding is ignored). InputError "FILE: frame N (counting from 0) header FIELD:
/// expected ..., found ..." when it is not a Merlin header.
MibHeader parse_mib_header(std::string_view bytes, const std::string& file, std::int64_t frame);

/// The values tmdflow uses from a Merlin .hdr text file (absent when the file lacks them).
struct MerlinHdr {
  std::optional<std::int64_t> frames_in_acquisition;
  std::optional<std::int64_t> frames_per_trigger;
  std::optional<std::int64_t> counter_depth;
};
/// InputError naming `file` when a value tmdflow uses is not a number.
MerlinHdr parse_merlin_hdr(const std::string& text, const std::string& file);

/// The .hdr beside a .mib (same name, extension .hdr); empty when there is none.
std::string merlin_hdr_path(const std::string& mib_path);

/// Opens a .mib: parses and checks the first and last frame headers and the file size, and finds
/// the scan shape (--scan, else the .hdr: frames in acquisition, rows of "frames per trigger"
/// positions when that divides them, else one row).
std::unique_ptr<FrameSource> open_merlin(const std::string& path, const FrameSourceOptions& options);

}  // namespace tmdflow::io
