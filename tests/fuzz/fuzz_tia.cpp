// libFuzzer target: the FEI TIA reader (io/formats/tia.cpp): the .ser header, dimension, offset
// array and element headers, the .emi's <ObjectInfo> metadata, the pairing of the two files, and
// the reading of every frame. Input: the .ser bytes, optionally followed by "#EMI#" and the .emi
// text; with an .emi the pair is opened from the .emi, else the .ser alone.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/io/formats/tia.hpp"

using namespace tmdflow;

namespace {

constexpr std::uint64_t kMaxReadBytes = 4u << 20;

void read_all(const std::string& path) {
  const auto src = io::open_tia_image(path);
  fuzz::check(!src->signals().empty(), "a TIA source has at least one series");
  for (std::size_t i = 0; i < src->signals().size(); ++i) {
    const io::ImageSignal& s = src->signals()[i];
    fuzz::check(s.frames > 0 && s.height > 0 && s.width > 0, "an image has positive extents");
    const std::uint64_t bytes = std::uint64_t(s.frames) * s.frame_bytes();
    if (bytes > kMaxReadBytes) continue;
    std::vector<char> frames(static_cast<std::size_t>(bytes));
    src->read_frames(i, 0, s.frames, frames.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find("#EMI#");
  auto& scratch = fuzz::Scratch::get();
  const std::string ser = scratch.write("series_1.ser", input.substr(0, split));
  if (split == std::string_view::npos) {
    scratch.remove("series.emi");
    fuzz::expect_only_typed_errors([&] { read_all(ser); });
  } else {
    const std::string emi = scratch.write("series.emi", input.substr(split + 5));
    fuzz::expect_only_typed_errors([&] { read_all(emi); });
  }
  return 0;
}
