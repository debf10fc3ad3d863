// libFuzzer target: the TIFF reader (libtiff: directories, strips, tiles, DigitalMicrograph and ImageJ tags).
// Input: the file's bytes; every frame of every signal is read.
#include "fuzz_image_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tmdflow::fuzz::open_and_read_image(std::string_view(reinterpret_cast<const char*>(data), size), "image.tif", tmdflow::io::ImageFormat::tiff);
  return 0;
}
