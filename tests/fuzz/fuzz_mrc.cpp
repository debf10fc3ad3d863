// libFuzzer target: the MRC reader (header, modes, extended header, sizes against the file).
// Input: the file's bytes; every frame of every signal is read.
#include "fuzz_image_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tmdflow::fuzz::open_and_read_image(std::string_view(reinterpret_cast<const char*>(data), size), "image.mrc", tmdflow::io::ImageFormat::mrc);
  return 0;
}
