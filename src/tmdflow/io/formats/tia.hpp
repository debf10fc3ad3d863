#pragma once
// FEI TIA (TEM Imaging & Analysis) files: NAME.emi holds the metadata (one <ObjectInfo> text per
// signal: voltage, mode, magnification, camera) and NAME_1.ser, NAME_2.ser, ... the data. A .ser
// is little-endian: a header (series version, element type and count, an offset array), the
// dimensions of the series, then per element a calibration (offset, step and reference pixel per
// axis), an element type, the width and height, and the pixels.
//
// Opened from the .emi, each NAME_<n>.ser beside it is a signal (spectra are skipped); opened from
// a .ser, that file alone is read, with the .emi's metadata when the .emi is there. Series of
// images (one dimension) are stacks; scans of images (two dimensions) and complex values are
// refused. Images are read bottom row first, as RosettaSciIO reads them.
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_tia_image(const std::string& path);

}  // namespace tmdflow::io
