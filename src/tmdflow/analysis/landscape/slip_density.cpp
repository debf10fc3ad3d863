#include "tmdflow/analysis/landscape/slip_density.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/analysis/stacking_estimate.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/numeric.hpp"

namespace tmdflow::analysis {

namespace {

// TED-Gen's oblique axes (tedgen_da_db): Db along a1, Da at 119.8 degrees, i.e. 29.8 degrees
// past the normal to a1.
constexpr double kSkewRad = (119.8 - 90) * 3.14159265358979323846 / 180;


}  // namespace

bool SlipHistogram::add(double x, double y, double weight) {
  double u = (x - x0) / dx, v = (y - y0) / dy;
  if (!std::isfinite(u) || !std::isfinite(v)) return false;
  if (periodic) {
    u -= nx * std::floor(u / nx), v -= ny * std::floor(v / ny);
  } else if (u < 0 || v < 0 || u >= nx || v >= ny) {
    return false;
  }
  const int ix = std::min(nx - 1, int(u)), iy = std::min(ny - 1, int(v));
  counts[std::size_t(iy) * nx + ix] += weight;
  return true;
}

double SlipHistogram::total() const {
  double t = 0;
  for (double c : counts) t += c;
  return t;
}

double SlipHistogram::bin_area_A2() const { return std::abs(jacobian[0] * jacobian[3] - jacobian[1] * jacobian[2]) * dx * dy; }

std::vector<double> SlipHistogram::x_edges() const {
  std::vector<double> e(std::size_t(nx) + 1);
  for (int k = 0; k <= nx; ++k) e[std::size_t(k)] = x0 + k * dx;
  return e;
}

std::vector<double> SlipHistogram::y_edges() const {
  std::vector<double> e(std::size_t(ny) + 1);
  for (int k = 0; k <= ny; ++k) e[std::size_t(k)] = y0 + k * dy;
  return e;
}

SlipHistogram fraction_histogram(int nx, int ny, const std::array<double, 2>& a1, const std::array<double, 2>& a2) {
  if (nx < 2 || ny < 2) throw ConfigError("fraction histogram: expected at least 2 x 2 bins, found " + std::to_string(nx) + " x " + std::to_string(ny));
  SlipHistogram h;
  h.nx = nx, h.ny = ny, h.dx = 1.0 / nx, h.dy = 1.0 / ny, h.periodic = true;
  h.jacobian = {a1[0], a2[0], a1[1], a2[1]};
  h.counts.assign(std::size_t(nx) * ny, 0.0);
  return h;
}

std::array<double, 2> tedgen_xy(double da, double db) {
  const double y = da * std::cos(kSkewRad);
  return {db - da * std::sin(kSkewRad), y};
}

bool in_tedgen_cell(double da, double db) {
  const auto xy = tedgen_xy(da, db);
  // tedgen_da_db's first candidate is (-dx, dy): its own point when that lies in the cell.
  const auto back = tedgen_da_db(-xy[0], xy[1]);
  return std::abs(back[0] - da) < 1e-9 && std::abs(back[1] - db) < 1e-9;
}

SlipHistogram tedgen_histogram(double bin_A) {
  if (!(bin_A > 0.001 && bin_A < 10)) throw ConfigError("TED-Gen histogram: expected a bin of 0.001 to 10 A, found " + std::to_string(bin_A));
  // The box of their fundamental cell: every slip of one period of their lattice (a1 = (6.42, 0),
  // a2 = (-3.21, 5.71) after their flip), folded.
  double lo[2] = {HUGE_VAL, HUGE_VAL}, hi[2] = {-HUGE_VAL, -HUGE_VAL};
  const int n = 240;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double fa = (i + 0.5) / n, fb = (j + 0.5) / n;
      const double x = 6.42 * fa - 3.21 * fb, y = 5.71 * fb;
      const auto d = tedgen_da_db(-x, y);
      for (int c = 0; c < 2; ++c)
        if (std::isfinite(d[std::size_t(c)])) lo[c] = std::min(lo[c], d[std::size_t(c)]), hi[c] = std::max(hi[c], d[std::size_t(c)]);
    }
  SlipHistogram h;
  h.x0 = bin_A * std::floor(lo[0] / bin_A), h.y0 = bin_A * std::floor(lo[1] / bin_A);
  h.nx = int(std::ceil((hi[0] - h.x0) / bin_A)), h.ny = int(std::ceil((hi[1] - h.y0) / bin_A));
  h.dx = h.dy = bin_A;
  h.periodic = false;
  h.jacobian = {-std::sin(kSkewRad), 1.0, std::cos(kSkewRad), 0.0};
  h.counts.assign(std::size_t(h.nx) * h.ny, 0.0);
  return h;
}

std::vector<double> kernel_density(const SlipHistogram& h, double bandwidth_A) {
  if (!(bandwidth_A > 0)) throw ConfigError("kernel density: expected a positive bandwidth, found " + std::to_string(bandwidth_A));
  const auto& J = h.jacobian;
  // Metric of coordinate steps, G = J^T J; the reach of a kernel cut at 4 bandwidths along each
  // axis is r sqrt((G^-1)_ii).
  const double gxx = J[0] * J[0] + J[2] * J[2], gxy = J[0] * J[1] + J[2] * J[3], gyy = J[1] * J[1] + J[3] * J[3];
  const double det = gxx * gyy - gxy * gxy;
  const double reach = 4 * bandwidth_A;
  const int rx = int(std::ceil(reach * std::sqrt(gyy / det) / h.dx)), ry = int(std::ceil(reach * std::sqrt(gxx / det) / h.dy));
  std::vector<double> weight(std::size_t(2 * rx + 1) * std::size_t(2 * ry + 1));
  double weight_sum = 0;
  for (int j = -ry; j <= ry; ++j)
    for (int i = -rx; i <= rx; ++i) {
      const double X = J[0] * i * h.dx + J[1] * j * h.dy, Y = J[2] * i * h.dx + J[3] * j * h.dy;
      const double r2 = X * X + Y * Y;
      const double w = r2 <= reach * reach ? std::exp(-r2 / (2 * bandwidth_A * bandwidth_A)) : 0.0;
      weight[std::size_t(j + ry) * std::size_t(2 * rx + 1) + std::size_t(i + rx)] = w;
      weight_sum += w;
    }
  std::vector<double> density(h.counts.size(), 0.0);
  const double total = h.total();
  if (total <= 0) return density;
  const double scale = 1.0 / (weight_sum * total * h.bin_area_A2());
  for (int by = 0; by < h.ny; ++by)
    for (int bx = 0; bx < h.nx; ++bx) {
      const double c = h.counts[std::size_t(by) * h.nx + bx];
      if (c == 0) continue;
      for (int j = -ry; j <= ry; ++j) {
        int y = by + j;
        if (h.periodic) y = wrap_index(y, h.ny);
        else if (y < 0 || y >= h.ny) continue;
        for (int i = -rx; i <= rx; ++i) {
          int x = bx + i;
          if (h.periodic) x = wrap_index(x, h.nx);
          else if (x < 0 || x >= h.nx) continue;
          density[std::size_t(y) * h.nx + x] += c * scale * weight[std::size_t(j + ry) * std::size_t(2 * rx + 1) + std::size_t(i + rx)];
        }
      }
    }
  return density;
}

}  // namespace tmdflow::analysis
