#pragma once
// Patches around detected defects (stage defect-motifs): a square of `size` x `size` samples,
// `step_px` frame pixels apart, centred on the defect's sub-pixel position, by bilinear
// interpolation (positions outside the frame take the nearest edge pixel), standardised by the
// frame's mean and standard deviation so that patches of frames of another dose compare.
#include <cstdint>

namespace tmdflow::analysis::dynamics {

struct FrameStatistics {
  double mean = 0, sd = 1;
};
/// Mean and standard deviation of a frame (sd 1 for a flat frame).
FrameStatistics frame_statistics(const float* frame, std::int64_t ny, std::int64_t nx);

/// Writes size x size values (row-major) into `out`.
void extract_patch(const float* frame, std::int64_t ny, std::int64_t nx, double x, double y, double step_px, int size,
                   const FrameStatistics& stats, float* out);

}  // namespace tmdflow::analysis::dynamics
