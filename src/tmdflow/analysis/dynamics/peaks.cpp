#include "tmdflow/analysis/dynamics/peaks.hpp"

#include <algorithm>
#include <cmath>

namespace tmdflow::analysis::dynamics {

namespace {

/// Vertex of the parabola through (-1, a), (0, b), (1, c), clamped to half a pixel.
double parabola_offset(double a, double b, double c) {
  const double curvature = a - 2 * b + c;
  if (!(curvature < 0)) return 0;
  return std::clamp(0.5 * (a - c) / curvature, -0.5, 0.5);
}

bool stronger(const Peak& a, const Peak& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.cls != b.cls) return a.cls < b.cls;
  return a.y != b.y ? a.y < b.y : a.x < b.x;
}

/// Greedy suppression in order of strength; `same` says which pairs compete.
template <class Same>
std::vector<Peak> suppress(std::vector<Peak> peaks, double distance, Same same) {
  std::stable_sort(peaks.begin(), peaks.end(), stronger);
  std::vector<Peak> kept;
  const double d2 = distance * distance;
  for (const Peak& p : peaks) {
    bool free = true;
    for (const Peak& k : kept)
      if (same(p, k) && (p.x - k.x) * (p.x - k.x) + (p.y - k.y) * (p.y - k.y) < d2) {
        free = false;
        break;
      }
    if (free) kept.push_back(p);
  }
  return kept;
}

}  // namespace

std::vector<Peak> find_peaks(const float* map, std::int64_t ny, std::int64_t nx, int cls, const PeakSpec& spec) {
  auto at = [&](std::int64_t y, std::int64_t x) { return map[y * nx + x]; };
  // Candidates: maxima of their 3 x 3 neighbourhood anywhere in the map (the halo's too, so that a
  // stronger peak just outside the owned region suppresses a weaker one inside, as it does for
  // the neighbouring tile); ties go to the first pixel in row-major order.
  std::vector<Peak> candidates;
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const float v = at(y, x);
      if (!(v >= spec.threshold)) continue;
      bool maximum = true;
      for (std::int64_t dy = -1; dy <= 1 && maximum; ++dy)
        for (std::int64_t dx = -1; dx <= 1; ++dx) {
          if (!dy && !dx) continue;
          const std::int64_t yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= ny || xx < 0 || xx >= nx) continue;
          const float w = at(yy, xx);
          if (w > v || (w == v && (dy < 0 || (dy == 0 && dx < 0)))) {
            maximum = false;
            break;
          }
        }
      if (!maximum) continue;
      Peak p;
      p.cls = cls;
      p.score = v;
      p.row = y, p.col = x;
      p.x = double(x) + (x > 0 && x + 1 < nx ? parabola_offset(at(y, x - 1), v, at(y, x + 1)) : 0.0);
      p.y = double(y) + (y > 0 && y + 1 < ny ? parabola_offset(at(y - 1, x), v, at(y + 1, x)) : 0.0);
      candidates.push_back(p);
    }
  return suppress(std::move(candidates), spec.min_distance_px, [](const Peak&, const Peak&) { return true; });
}

std::vector<Peak> peaks_within(const std::vector<Peak>& peaks, std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1) {
  std::vector<Peak> out;
  for (const Peak& p : peaks)
    if (p.row >= y0 && p.row < y1 && p.col >= x0 && p.col < x1) out.push_back(p);
  return out;
}

std::vector<Peak> one_class_per_site(std::vector<Peak> peaks, double distance_px) {
  std::vector<Peak> kept = suppress(std::move(peaks), distance_px, [](const Peak& a, const Peak& b) { return a.cls != b.cls; });
  std::sort(kept.begin(), kept.end(), [](const Peak& a, const Peak& b) { return a.y != b.y ? a.y < b.y : a.x < b.x; });
  return kept;
}

}  // namespace tmdflow::analysis::dynamics
