#pragma once
// PNG images through libpng (see data_schema/images.md): 8- or 16-bit grey kept as uint8/uint16;
// 1/2/4-bit grey widened to 8 bits; RGB, RGBA and palette images (screenshots of a viewer) made
// grey: kept as the red channel when all channels are equal, else their mean with a warning.
// Alpha is dropped. PNG carries no calibration tmdflow trusts (pHYs is a display's dpi).
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_png_image(const std::string& path);

}  // namespace tmdflow::io
