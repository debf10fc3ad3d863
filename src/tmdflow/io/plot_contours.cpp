#include "tmdflow/io/plot_contours.hpp"

#include <array>
#include <cmath>

namespace tmdflow::io::plot {

namespace {

Mark segment(double x0, double y0, double x1, double y1, Rgb colour, double width) {
  Mark m;
  m.kind = Mark::Kind::line;
  m.x0 = x0, m.y0 = y0, m.x1 = x1, m.y1 = y1, m.colour = colour, m.line_width = width;
  return m;
}

}  // namespace

std::vector<Mark> contour_marks(const std::vector<float>& v, std::int64_t h, std::int64_t w, const std::vector<double>& levels, Rgb colour,
                                double line_width, bool periodic) {
  std::vector<Mark> out;
  const std::int64_t rows = periodic ? h : h - 1, cols = periodic ? w : w - 1;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      const std::int64_t i1 = (i + 1) % h, j1 = (j + 1) % w;
      // Corners counter-clockwise from the top left: (x, y) = (j, i), (j + 1, i), (j + 1, i + 1), (j, i + 1).
      const std::array<double, 4> c = {v[std::size_t(i * w + j)], v[std::size_t(i * w + j1)], v[std::size_t(i1 * w + j1)], v[std::size_t(i1 * w + j)]};
      if (!std::isfinite(c[0]) || !std::isfinite(c[1]) || !std::isfinite(c[2]) || !std::isfinite(c[3])) continue;
      const std::array<double, 4> cx = {double(j), double(j + 1), double(j + 1), double(j)}, cy = {double(i), double(i), double(i + 1), double(i + 1)};
      for (double level : levels) {
        // Crossings on the four edges (corner k to k + 1), in edge order.
        std::array<std::array<double, 2>, 4> at{};
        std::array<bool, 4> crosses{};
        int n = 0;
        for (int e = 0; e < 4; ++e) {
          const double a = c[std::size_t(e)] - level, b = c[std::size_t((e + 1) % 4)] - level;
          if ((a < 0) == (b < 0)) continue;
          const double t = a / (a - b);
          const std::size_t p = std::size_t(e), q = std::size_t((e + 1) % 4);
          at[p] = {cx[p] + t * (cx[q] - cx[p]), cy[p] + t * (cy[q] - cy[p])};
          crosses[p] = true;
          ++n;
        }
        if (n == 2) {
          int first = -1;
          for (int e = 0; e < 4; ++e)
            if (crosses[std::size_t(e)]) {
              if (first < 0) {
                first = e;
              } else {
                out.push_back(segment(at[std::size_t(first)][0], at[std::size_t(first)][1], at[std::size_t(e)][0], at[std::size_t(e)][1], colour, line_width));
              }
            }
        } else if (n == 4) {
          // A saddle square: the centre's side decides which corners connect.
          const bool centre_below = (c[0] + c[1] + c[2] + c[3]) / 4 < level;
          const bool corner0_below = c[0] < level;
          // Edges 0 (top), 1 (right), 2 (bottom), 3 (left): corner 0 cut off by edges 3 and 0 when
          // the centre is on the other side, else corner 1 by edges 0 and 1.
          const std::array<std::array<int, 2>, 2> pairs =
              centre_below == corner0_below ? std::array<std::array<int, 2>, 2>{{{0, 1}, {2, 3}}} : std::array<std::array<int, 2>, 2>{{{3, 0}, {1, 2}}};
          for (const auto& pr : pairs)
            out.push_back(segment(at[std::size_t(pr[0])][0], at[std::size_t(pr[0])][1], at[std::size_t(pr[1])][0], at[std::size_t(pr[1])][1], colour,
                                  line_width));
        }
      }
    }
  return out;
}

std::vector<Mark> region_border_marks(const std::vector<std::int32_t>& labels, std::int64_t h, std::int64_t w, Rgb colour, double line_width) {
  std::vector<Mark> out;
  for (std::int64_t i = 0; i < h; ++i)
    for (std::int64_t j = 0; j < w; ++j) {
      const std::int32_t l = labels[std::size_t(i * w + j)];
      if (l < 0) continue;
      // The edge between pixel (i, j) and its right neighbour runs at x = j + 0.5 from y = i - 0.5 to i + 0.5.
      if (j + 1 < w) {
        const std::int32_t r = labels[std::size_t(i * w + j + 1)];
        if (r >= 0 && r != l) out.push_back(segment(j + 0.5, i - 0.5, j + 0.5, i + 0.5, colour, line_width));
      }
      if (i + 1 < h) {
        const std::int32_t d = labels[std::size_t((i + 1) * w + j)];
        if (d >= 0 && d != l) out.push_back(segment(j - 0.5, i + 0.5, j + 0.5, i + 0.5, colour, line_width));
      }
    }
  return out;
}

std::vector<double> even_levels(double lo, double hi, int count) {
  std::vector<double> levels;
  for (int k = 1; k <= count; ++k) levels.push_back(lo + (hi - lo) * k / (count + 1));
  return levels;
}

}  // namespace tmdflow::io::plot
