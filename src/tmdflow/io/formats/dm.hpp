#pragma once
// Gatan DigitalMicrograph DM3 and DM4 files: a tree of tags (groups of named or unnamed tags;
// data tags holding numbers, strings, arrays and structs) after a 12- or 16-byte header. The
// images are ImageList's groups that Thumbnails does not name; each holds ImageData (Data: the
// pixels as one array, DataType, Dimensions in x, y, z order, Calibrations) and ImageTags
// (Microscope Info, DataBar, DigiScan). DM3 writes sizes in 4 bytes, DM4 in 8; the tree's own
// fields are big-endian, the values in the byte order the header states.
//
// 2-D images and 3-D stacks of int8..int64, uint8..uint64, float32 and float64 are read (binary
// images as uint8); RGB and complex images are refused (an image among others is skipped with a
// warning). Every size read from the file is checked against the file's length before use.
#include <memory>
#include <string>

#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::io {

std::unique_ptr<ImageSource> open_dm_image(const std::string& path);

}  // namespace tmdflow::io
