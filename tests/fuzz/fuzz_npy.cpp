// libFuzzer target: the NumPy .npy reader (magic, version, header length, the header's Python
// literal, the size check). Input: the file's bytes. A 3-D array is read again as a scan of one
// row (--scan 1,N), the way `ingest --scan` reads a stack of frames.
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/io/formats/npy.hpp"

using namespace tmdflow;

namespace {

void open_and_read(const std::string& path, const std::vector<std::int64_t>& scan, std::size_t file_size) {
  io::FrameSourceOptions options;
  options.format = io::InputFormat::npy;
  options.scan = scan;
  auto source = io::open_frame_source(path, options);
  const auto& m = source->meta();
  fuzz::check(m.shape.size() == 4 && std::all_of(m.shape.begin(), m.shape.end(), [](auto v) { return v > 0; }),
              "an npy source has a positive 4-D shape");
  const std::uint64_t frames = std::uint64_t(m.positions());
  fuzz::check(frames * source->frame_bytes() <= file_size, "the array fits in the file");
  std::vector<char> out(std::size_t(frames * source->frame_bytes()));
  source->read_frames(0, std::int64_t(frames), out.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = fuzz::Scratch::get().write("array.npy", bytes);

  std::vector<std::int64_t> shape;
  fuzz::expect_only_typed_errors([&] { shape = io::parse_npy_header(bytes, path).shape; });
  fuzz::expect_only_typed_errors([&] { open_and_read(path, {}, size); });
  if (shape.size() == 3 && shape[0] > 0)
    fuzz::expect_only_typed_errors([&] { open_and_read(path, {1, shape[0]}, size); });
  return 0;
}
