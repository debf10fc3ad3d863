#include "tmdflow/sim/realism.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "tmdflow/sim/random.hpp"

namespace tmdflow::sim {

void scan_positions(const ScanDistortion& d, int ny, int nx, double step, double x0, double y0, std::uint64_t seed,
                    std::vector<double>& xs, std::vector<double>& ys) {
  const std::size_t n = std::size_t(ny) * std::size_t(nx);
  xs.resize(n);
  ys.resize(n);
  const double total = std::max<double>(1.0, double(n) - 1.0);
  for (int i = 0; i < ny; ++i) {
    double jx = 0, jy = 0;
    if (d.jitter_A != 0 || d.line_jitter_y_A != 0) {
      rng::Stream g(rng::key(seed, 0x6a6974746572ULL, std::uint64_t(i)));
      jx = d.jitter_A * g.normal();
      jy = d.line_jitter_y_A * g.normal();
    }
    for (int j = 0; j < nx; ++j) {
      const std::size_t k = std::size_t(i) * nx + j;
      const double t = double(k) / total;  // acquisition time, 0..1 over the frame
      xs[k] = x0 + j * step + d.drift_x_A * t + jx;
      ys[k] = y0 + i * step + d.drift_y_A * t + jy;
    }
  }
}

namespace {
inline double keys(double t) {  // Keys cubic convolution kernel, a = -0.5
  t = std::abs(t);
  if (t < 1) return (1.5 * t - 2.5) * t * t + 1;
  if (t < 2) return ((-0.5 * t + 2.5) * t - 4) * t + 2;
  return 0;
}
}  // namespace

void resample_bicubic(const float* img, const Grid& g, const double* xs, const double* ys, std::size_t n, float* out) {
  Kokkos::parallel_for("tmdflow::sim::resample_bicubic", Kokkos::RangePolicy<HostExec>(0, n), [=](const std::size_t k) {
    const double u = (xs[k] - g.x0) / g.dx, v = (ys[k] - g.y0) / g.dy;
    const int j = int(std::floor(u)), i = int(std::floor(v));
    const double fu = u - j, fv = v - i;
    double acc = 0;
    for (int a = -1; a <= 2; ++a) {
      const int ii = std::clamp(i + a, 0, g.ny - 1);
      const double wy = keys(fv - a);
      for (int b = -1; b <= 2; ++b) {
        const int jj = std::clamp(j + b, 0, g.nx - 1);
        acc += wy * keys(fu - b) * img[std::size_t(ii) * g.nx + jj];
      }
    }
    out[k] = float(acc);
  });
}

void add_counting_noise(float* values, std::size_t n, double electrons_per_unit, double read_noise, std::uint64_t key) {
  rng::Stream g(key);
  for (std::size_t p = 0; p < n; ++p) {
    double v = values[p];
    if (electrons_per_unit > 0) {
      const double mean = std::max(0.0, v * electrons_per_unit);
      v = mean > 0 ? double(std::poisson_distribution<long>(mean)(g)) : 0.0;
    }
    if (read_noise > 0) v += read_noise * g.normal();
    values[p] = float(v);
  }
}

void gaussian_blur(float* img, int ny, int nx, double sigma) {
  if (!(sigma > 0)) return;
  const int r = std::max(1, int(std::ceil(4 * sigma)));
  std::vector<double> w(std::size_t(2 * r + 1));
  for (int k = -r; k <= r; ++k) w[std::size_t(k + r)] = std::exp(-0.5 * k * k / (sigma * sigma));
  std::vector<double> line;
  auto blur_line = [&](float* p, int n, std::ptrdiff_t stride) {
    line.assign(std::size_t(n), 0.0);
    for (int i = 0; i < n; ++i) {
      double acc = 0, norm = 0;
      for (int k = std::max(-r, -i); k <= std::min(r, n - 1 - i); ++k) {
        acc += w[std::size_t(k + r)] * p[(i + k) * stride];
        norm += w[std::size_t(k + r)];
      }
      line[std::size_t(i)] = acc / norm;
    }
    for (int i = 0; i < n; ++i) p[i * stride] = float(line[std::size_t(i)]);
  };
  for (int i = 0; i < ny; ++i) blur_line(img + std::size_t(i) * nx, nx, 1);
  for (int j = 0; j < nx; ++j) blur_line(img + j, ny, nx);
}

}  // namespace tmdflow::sim
