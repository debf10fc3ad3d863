// libFuzzer target: the raw binary reader, whose layout comes from the options (--shape, --dtype,
// --endian, --header-bytes, --gap-bytes, --scan), not from the file. Input: the options first
// (small values mostly, so that some layouts match the file; any 64-bit value sometimes, to probe
// the size arithmetic), the file's bytes after them.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "tmdflow/io/formats/raw.hpp"

using namespace tmdflow;

namespace {

std::int64_t extent(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return in.ConsumeIntegral<std::int64_t>();           // anything, negative included
    case 1: return in.ConsumeIntegralInRange<std::int64_t>(0, std::int64_t(1) << 40);
    default: return in.ConsumeIntegralInRange<std::int64_t>(1, 8);
  }
}

std::int64_t skip_bytes(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: return in.ConsumeIntegral<std::int64_t>();
    case 1: return in.ConsumeIntegralInRange<std::int64_t>(0, 64);
    default: return 0;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  io::FrameSourceOptions options;
  options.format = io::InputFormat::raw;
  const int rank = in.ConsumeIntegralInRange<int>(0, 5);  // 4 is the valid one
  for (int i = 0; i < rank; ++i) options.shape.push_back(extent(in));
  static const io::Dtype kTypes[] = {io::Dtype::u8,  io::Dtype::u16, io::Dtype::u32, io::Dtype::u64, io::Dtype::i8,
                                     io::Dtype::i16, io::Dtype::i32, io::Dtype::i64, io::Dtype::f32, io::Dtype::f64};
  if (in.ConsumeIntegralInRange<int>(0, 15) != 0) options.dtype = in.PickValueInArray(kTypes);
  options.byte_order = in.ConsumeBool() ? io::ByteOrder::big : io::ByteOrder::little;
  options.header_bytes = skip_bytes(in);
  options.gap_bytes = skip_bytes(in);
  if (in.ConsumeIntegralInRange<int>(0, 3) == 0) {
    const int n = in.ConsumeIntegralInRange<int>(1, 3);
    for (int i = 0; i < n; ++i) options.scan.push_back(extent(in));
  }
  const std::string file = in.ConsumeRemainingBytesAsString();
  const std::string path = fuzz::Scratch::get().write("cube.raw", file);

  fuzz::expect_only_typed_errors([&] {
    auto source = io::open_frame_source(path, options);
    const auto& m = source->meta();
    const std::uint64_t frames = std::uint64_t(m.positions());
    fuzz::check(m.positions() > 0 && frames * source->frame_bytes() <= file.size(), "the frames fit in the file");
    std::vector<char> out(std::size_t(frames * source->frame_bytes()));
    source->read_frames(0, std::int64_t(frames), out.data());
    // The first frame's bytes sit after the header and the first gap (native order when little).
    if (options.byte_order == io::ByteOrder::little && !out.empty())
      fuzz::check(file.compare(std::size_t(options.header_bytes + options.gap_bytes), source->frame_bytes(),
                               out.data(), source->frame_bytes()) == 0,
                  "the first frame is the bytes after the header and gap");
  });
  return 0;
}
