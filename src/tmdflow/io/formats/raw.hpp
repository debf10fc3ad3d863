#pragma once
// Raw binary datacubes: frames of Qx x Qy elements in scan order, C order, nothing in the file
// says so: the layout comes from the options (--shape Rx,Ry,Qx,Qy, --dtype, --endian, and the
// bytes to skip: --header-bytes at the start of the file, --gap-bytes before each frame).
#include <memory>
#include <string>

#include "tmdflow/io/formats/frame_source.hpp"

namespace tmdflow::io {

/// The file size must be exactly header + Rx*Ry*(gap + Qx*Qy*element size) bytes: a different
/// size means a wrong --shape/--dtype or a truncated file, both InputError before any work.
std::unique_ptr<FrameSource> open_raw(const std::string& path, const FrameSourceOptions& options);

}  // namespace tmdflow::io
