#include "tmdflow/learn/window_grid.hpp"

#include <algorithm>

#include "tmdflow/core/error.hpp"

namespace tmdflow::learn {

Padding padding_from_string(const std::string& name) {
  if (name == "none") return Padding::none;
  if (name == "reflect") return Padding::reflect;
  throw ConfigError("padding: expected 'none' or 'reflect', found '" + name + "'");
}

std::string to_string(Padding padding) { return padding == Padding::reflect ? "reflect" : "none"; }

std::int64_t reflect_index(std::int64_t i, std::int64_t n) {
  if (n <= 1) return 0;
  const std::int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

WindowGrid::WindowGrid(const PatchWindows& windows, std::int64_t image_height, std::int64_t image_width)
    : w_(windows), height_(image_height), width_(image_width) {
  if (height_ <= 0 || width_ <= 0 || w_.window_y <= 0 || w_.window_x <= 0 || w_.stride_y <= 0 || w_.stride_x <= 0)
    throw ConfigError("patch windows: every size must be positive, found " + describe());
  if (w_.padding == Padding::none && (w_.window_y > height_ || w_.window_x > width_))
    throw ConfigError("patch windows: the window must fit in the image (or use padding 'reflect'): expected at most " +
                      std::to_string(height_) + "x" + std::to_string(width_) + ", found window " +
                      std::to_string(w_.window_y) + "x" + std::to_string(w_.window_x) + " (" + describe() + ")");
  if (w_.padding == Padding::reflect) {
    rows_ = (height_ + w_.stride_y - 1) / w_.stride_y;
    cols_ = (width_ + w_.stride_x - 1) / w_.stride_x;
    // Centre each window on the centre of its stride cell (see the header).
    offset_y_ = (w_.window_y - 1) / 2 - (w_.stride_y - 1) / 2;
    offset_x_ = (w_.window_x - 1) / 2 - (w_.stride_x - 1) / 2;
  } else {
    rows_ = (height_ - w_.window_y) / w_.stride_y + 1;
    cols_ = (width_ - w_.window_x) / w_.stride_x + 1;
  }
}

par::Range WindowGrid::image_rows_for(const par::Range& window_rows) const {
  if (window_rows.empty()) return {0, 0};
  const std::int64_t lo = first_row(window_rows.begin);
  const std::int64_t hi = first_row(window_rows.end - 1) + w_.window_y;  // exclusive, before reflection
  if (lo >= 0 && hi <= height_) return {lo, hi};
  // Near an edge with reflection the mirrored rows may lie outside [lo, hi): take the span of the
  // rows actually read (a shard plus a window at most, cheap to scan).
  std::int64_t first = height_, last = -1;
  for (std::int64_t r = lo; r < hi; ++r) {
    const std::int64_t m = reflect_index(r, height_);
    first = std::min(first, m);
    last = std::max(last, m);
  }
  return {first, last + 1};
}

std::string WindowGrid::describe() const {
  auto x = [](std::int64_t a, std::int64_t b) { return std::to_string(a) + "x" + std::to_string(b); };
  return "image " + x(height_, width_) + ", window " + x(w_.window_y, w_.window_x) + ", stride " +
         x(w_.stride_y, w_.stride_x) + ", padding " + to_string(w_.padding);
}

}  // namespace tmdflow::learn
