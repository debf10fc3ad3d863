#pragma once
// EMD 1.0 / py4DSTEM arrays and tmdflow's own image_stack products as images: every EMD array
// group of rank 2 or 3 is a signal. Frames come first (tmdflow, Array) except for py4DSTEM's
// RealSlice and DiffractionSlice, whose slices are the last axis. Calibration from the array's
// dims (lengths converted to Angstrom) or, for an image_stack product, its pixel_size attributes.
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_emd_image(const std::string& path);
/// True when the HDF5 file holds EMD arrays of rank 2 or 3 and none of rank 4 (a datacube).
bool emd_file_holds_images(const std::string& path);

}  // namespace tmdflow::io
