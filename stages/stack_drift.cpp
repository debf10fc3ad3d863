#include "stack_drift.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/io/image_stack.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/gather.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::stages {

namespace dyn = analysis::dynamics;

namespace {
struct FrameShift {
  std::int64_t frame = 0;  // the shift of this frame from the one before
  double dy = 0, dx = 0, peak = 0;
};
}  // namespace

std::vector<dyn::Shift> measure_stack_drift(const par::Comm& comm, const std::string& images, const StackDriftSpec& s, const std::string& label) {
  const io::ImageStackMeta m = io::ImageStackReader::open(images).meta();
  if (m.frames < 2) return std::vector<dyn::Shift>(std::size_t(std::max<std::int64_t>(m.frames, 0)));
  dyn::RegistrationSpec spec;
  spec.bin = s.bin > 0 ? s.bin : std::max(1, int(std::floor(0.25 / s.pixel_A + 1e-9)));
  spec.max_shift_px = s.max_drift_A / s.pixel_A;
  std::vector<FrameShift> mine;
  const par::Range frames = par::block_partition(m.frames - 1, comm.size(), comm.rank());  // shifts of frames 1 .. T-1
  par::Progress progress(comm, label, std::uint64_t(m.frames - 1), "frames");
  par::collectively(comm, [&] {
    if (frames.size() <= 0) return;
    const io::ImageStackReader reader = io::ImageStackReader::open(images);
    dyn::FrameRegistration registration(int(m.height), int(m.width), spec);
    std::vector<float> frame(std::size_t(m.height * m.width));
    reader.read_frames_as<float>(frames.begin, 1, frame.data());
    auto before = registration.spectrum(frame.data());
    for (std::int64_t f = frames.begin + 1; f <= frames.end; ++f) {
      reader.read_frames_as<float>(f, 1, frame.data());
      auto now = registration.spectrum(frame.data());
      const dyn::Shift sh = registration.shift(before, now);
      mine.push_back({f, sh.dy, sh.dx, sh.peak});
      before = std::move(now);
      progress.advance(1);
    }
  });
  progress.finish();
  const std::vector<FrameShift> all = par::allgather_rows(comm, mine);
  std::vector<dyn::Shift> steps(std::size_t(m.frames - 1));
  for (const auto& sh : all) steps[std::size_t(sh.frame - 1)] = {sh.dy, sh.dx, sh.peak};
  return dyn::cumulative_drift(steps);
}

}  // namespace tmdflow::stages
