// libFuzzer target: the DigitalMicrograph DM3/DM4 reader (io/formats/dm.cpp): the header, the tag
// tree (groups, numbers, strings, arrays, structs, arrays of structs, strings and arrays, in
// either size width and byte order), ImageList and Thumbnails, the image's type, dimensions and
// calibration, and the reading of every frame. The input is the file.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/formats/dm.hpp"

using namespace tmdflow;

namespace {

constexpr std::uint64_t kMaxReadBytes = 4u << 20;

void read_all(const std::string& path) {
  const auto src = io::open_dm_image(path);
  fuzz::check(!src->signals().empty(), "a DM source has at least one image");
  for (std::size_t i = 0; i < src->signals().size(); ++i) {
    const io::ImageSignal& s = src->signals()[i];
    fuzz::check(s.frames > 0 && s.height > 0 && s.width > 0, "an image has positive extents");
    fuzz::check(s.axes.size() == (s.frames > 1 ? 3u : 2u) || s.axes.size() == 3u, "one axis per dimension");
    const std::uint64_t bytes = std::uint64_t(s.frames) * s.frame_bytes();
    if (bytes > kMaxReadBytes) continue;
    std::vector<char> frames(static_cast<std::size_t>(bytes));
    src->read_frames(i, 0, s.frames, frames.data());
    if (s.frames > 1) {
      std::vector<char> last(static_cast<std::size_t>(s.frame_bytes()));
      src->read_frames(i, s.frames - 1, 1, last.data());
      fuzz::check(std::memcmp(last.data(), frames.data() + bytes - last.size(), last.size()) == 0,
                  "a frame reads the same alone as in the whole");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path =
      fuzz::Scratch::get().write("image.dm4", std::string_view(reinterpret_cast<const char*>(data), size));
  fuzz::expect_only_typed_errors([&] { read_all(path); });
  return 0;
}
