// libFuzzer target: the Merlin .mib reader (frame headers, file size, every frame's header on
// reading) and its .hdr companion. Input: the .mib bytes, optionally followed by "#HDR#" and the
// text of the .hdr written beside it.
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/io/formats/merlin.hpp"

using namespace tmdflow;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find("#HDR#");
  const std::string_view mib = input.substr(0, split);
  auto& scratch = fuzz::Scratch::get();
  const std::string path = scratch.write("scan.mib", mib);
  if (split != std::string_view::npos) scratch.write("scan.hdr", input.substr(split + 5));
  else scratch.remove("scan.hdr");

  // The header parser on its own, as the reader calls it for frame 0 and for every later frame.
  fuzz::expect_only_typed_errors([&] { io::parse_mib_header(mib, path, 0); });
  if (split != std::string_view::npos)
    fuzz::expect_only_typed_errors([&] { io::parse_merlin_hdr(std::string(input.substr(split + 5)), path); });

  fuzz::expect_only_typed_errors([&] {
    io::FrameSourceOptions options;
    options.format = io::InputFormat::mib;
    auto source = io::open_frame_source(path, options);
    const auto& m = source->meta();
    fuzz::check(m.shape.size() == 4 && m.shape[0] > 0 && m.shape[1] > 0 && m.shape[2] > 0 && m.shape[3] > 0,
                "a Merlin source has a positive 4-D shape");
    // The frames (pixels without headers) never hold more bytes than the file.
    const std::uint64_t frames = std::uint64_t(m.positions());
    fuzz::check(frames * source->frame_bytes() <= mib.size(), "the frames fit in the file");
    std::vector<char> out(std::size_t(frames * source->frame_bytes()));
    source->read_frames(0, std::int64_t(frames), out.data());
    // A read of the last row alone gives the same bytes as its part of the whole read.
    if (m.shape[0] > 1) {
      std::vector<char> row(std::size_t(m.scan_cols()) * source->frame_bytes());
      source->read_rows(m.shape[0] - 1, 1, row.data());
      fuzz::check(std::equal(row.begin(), row.end(), out.end() - std::ptrdiff_t(row.size())),
                  "the last row reads the same alone");
    }
  });
  return 0;
}
