#pragma once
// Thermo Fisher Velox EMD files (HDF5): each image signal is a group /Data/Image/<id> holding
// Data [height, width, frames] (frames last) and Metadata [bytes, frames] (uint8: one JSON text
// per frame, NUL-padded). The JSON gives the calibration (BinaryResult: PixelSize, PixelUnitX,
// Offset), the beam (Optics), the scan (Scan: DwellTime, FrameTime) and the detectors; the
// signal's title comes from /Operations (the detector or the operation that made it), as
// RosettaSciIO names it ("HAADF", "DF4-A", "iDPC", "A-C", ...).
//
// Signals of complex values (DPC's vector field, FFTs: compound {real, imag} elements) are
// skipped with a warning; a file holding nothing else is refused. The file is opened serially:
// reads are local to the calling rank.
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_velox_image(const std::string& path);

}  // namespace tmdflow::io
