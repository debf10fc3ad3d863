#pragma once
// MRC (MRC2014 and the older FEI/CCP4 variants, see data_schema/images.md): a 1024-byte header,
// an extended header of NEXT bytes, then NZ sections of NY x NX values (x fastest). Modes 0
// (uint8, as RosettaSciIO reads it), 1 (int16), 2 (float32) and 6 (uint16); either byte order
// (the MACHST stamp). Pixel size from the cell (Xlen / MX Angstrom), or from an old FEI extended
// header (128-byte records, pixel size in metres) as RosettaSciIO reads it.
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_mrc_image(const std::string& path);

}  // namespace tmdflow::io
