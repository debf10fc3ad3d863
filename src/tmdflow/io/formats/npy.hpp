#pragma once
// NumPy .npy files (format versions 1, 2 and 3): a magic string, a Python-literal header
// {'descr': '<u2', 'fortran_order': False, 'shape': (Rx, Ry, Qx, Qy), } and the array's bytes.
// tmdflow reads C-order arrays of plain numbers in either byte order: 4-D (Rx, Ry, Qx, Qy), or
// 3-D (frames, Qx, Qy) folded into a scan with --scan Rx,Ry.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tmdflow/io/formats/frame_source.hpp"

namespace tmdflow::io {

struct NpyHeader {
  int major_version = 1;
  Dtype dtype = Dtype::u8;
  ByteOrder byte_order = ByteOrder::little;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
  std::uint64_t data_offset = 0;  // bytes before the array data
};

/// Parses the header at the start of `bytes` (which must hold all of it). InputError naming
/// `file` ("header: expected ..., found ...") when it is not a .npy header tmdflow can read.
/// A Fortran-order array parses (fortran_order = true); the reader refuses it.
NpyHeader parse_npy_header(std::string_view bytes, const std::string& file);

std::unique_ptr<FrameSource> open_npy(const std::string& path, const FrameSourceOptions& options);

}  // namespace tmdflow::io
