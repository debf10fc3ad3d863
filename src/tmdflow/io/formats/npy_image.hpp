#pragma once
// NumPy .npy arrays as images: 2-D (height, width) or 3-D (frames, height, width), C order, any
// byte order. No calibration (a .npy has none).
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_npy_image(const std::string& path);

}  // namespace tmdflow::io
