#include "tmdflow/analysis/dynamics/patches.hpp"

#include <algorithm>
#include <cmath>

namespace tmdflow::analysis::dynamics {

FrameStatistics frame_statistics(const float* frame, std::int64_t ny, std::int64_t nx) {
  double s = 0, ss = 0;
  const std::int64_t n = ny * nx;
  for (std::int64_t k = 0; k < n; ++k) s += frame[k], ss += double(frame[k]) * frame[k];
  FrameStatistics f;
  if (n == 0) return f;
  f.mean = s / double(n);
  const double var = ss / double(n) - f.mean * f.mean;
  f.sd = var > 1e-24 ? std::sqrt(var) : 1.0;
  return f;
}

void extract_patch(const float* frame, std::int64_t ny, std::int64_t nx, double x, double y, double step_px, int size, const FrameStatistics& stats,
                   float* out) {
  const double half = 0.5 * (size - 1);
  for (int i = 0; i < size; ++i) {
    const double v = std::clamp(y + (i - half) * step_px, 0.0, double(ny - 1));
    const auto i0 = std::min<std::int64_t>(std::int64_t(v), ny - 1), i1 = std::min<std::int64_t>(i0 + 1, ny - 1);
    const double fy = v - double(i0);
    for (int j = 0; j < size; ++j) {
      const double u = std::clamp(x + (j - half) * step_px, 0.0, double(nx - 1));
      const auto j0 = std::min<std::int64_t>(std::int64_t(u), nx - 1), j1 = std::min<std::int64_t>(j0 + 1, nx - 1);
      const double fx = u - double(j0);
      const double value = (1 - fy) * ((1 - fx) * frame[i0 * nx + j0] + fx * frame[i0 * nx + j1]) +
                           fy * ((1 - fx) * frame[i1 * nx + j0] + fx * frame[i1 * nx + j1]);
      out[std::size_t(i) * std::size_t(size) + std::size_t(j)] = float((value - stats.mean) / stats.sd);
    }
  }
}

}  // namespace tmdflow::analysis::dynamics
