#pragma once
// TIFF images and multi-page stacks through libtiff (see data_schema/images.md): one signal of
// grey pages (8/16/32-bit integers, 32/64-bit floats), calibrated from DigitalMicrograph's private
// tags (65003..65011), else ImageJ's description (unit=, spacing=, finterval=) with the resolution
// tags, else resolution tags in centimetres (tifffile, scientific writers).
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_tiff_image(const std::string& path);

}  // namespace tmdflow::io
