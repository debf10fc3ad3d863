// libFuzzer target: the PNG reader (libpng: header, chunks, decoding, colour to grey).
// Input: the file's bytes; every frame of every signal is read.
#include "fuzz_image_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tmdflow::fuzz::open_and_read_image(std::string_view(reinterpret_cast<const char*>(data), size), "image.png", tmdflow::io::ImageFormat::png);
  return 0;
}
