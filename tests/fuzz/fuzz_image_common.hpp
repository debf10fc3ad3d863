#pragma once
// What the image-reader fuzz targets share: open the bytes as a file of one format, check the
// signals' invariants, read every frame of every signal (bounded: a header may claim any size).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/io/formats/image_source.hpp"

namespace tmdflow::fuzz {

inline void open_and_read_image(std::string_view bytes, const std::string& name, io::ImageFormat format) {
  const std::string path = Scratch::get().write(name, bytes);
  expect_only_typed_errors([&] {
    auto source = io::open_image_source(path, format);
    check(!source->signals().empty(), "an image source has at least one signal");
    for (std::size_t k = 0; k < source->signals().size(); ++k) {
      const auto& s = source->signals()[k];
      check(s.frames > 0 && s.height > 0 && s.width > 0, "an image signal has positive sizes");
      // Frames beyond what the input could hold (compressed formats: a generous bound) are not read:
      // the reader must have refused them or will refuse them when read; reading is what is fuzzed.
      const std::uint64_t fb = s.frame_bytes();
      if (fb > (std::uint64_t(64) << 20)) continue;
      std::vector<char> out(static_cast<std::size_t>(fb));
      for (std::int64_t f = 0; f < s.frames && f < 64; ++f) source->read_frames(k, f, 1, out.data());
    }
  });
}

}  // namespace tmdflow::fuzz
