#include "tmdflow/sim/patch_scan.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/sim/defect_trainset.hpp"

namespace tmdflow::sim {

PatchScan::PatchScan(const AdfSpec& adf, const ScanDistortion& distortion, int patch_px, double detector_pixel_A, std::uint64_t scan_seed)
    : adf_(adf), P_(patch_px), native_(adf.nx), pixel_A_(detector_pixel_A) {
  scan_positions(distortion, native_, native_, adf.pixel_A, adf.x0, adf.y0, scan_seed, xs_, ys_);
  const int P = P_, n = native_;
  px_.resize(std::size_t(P) * P);
  py_.resize(std::size_t(P) * P);
  for (int i = 0; i < P; ++i) {
    const double v = std::max(0.0, bilinear_source(i, n, P));
    const int i0 = std::min(int(v), n - 1), i1 = std::min(i0 + 1, n - 1);
    for (int j = 0; j < P; ++j) {
      const double u = std::max(0.0, bilinear_source(j, n, P));
      const int j0 = std::min(int(u), n - 1), j1 = std::min(j0 + 1, n - 1);
      const double fx = u - j0, fy = v - i0;
      auto mix = [&](const std::vector<double>& q) {
        return (1 - fy) * ((1 - fx) * q[std::size_t(i0) * n + j0] + fx * q[std::size_t(i0) * n + j1]) +
               fy * ((1 - fx) * q[std::size_t(i1) * n + j0] + fx * q[std::size_t(i1) * n + j1]);
      };
      px_[std::size_t(i) * P + j] = mix(xs_);
      py_[std::size_t(i) * P + j] = mix(ys_);
    }
  }
}

void PatchScan::render(const Structure& s, double dose, std::uint64_t noise_seed, float* image) {
  AdfSimulator simulator(adf_);
  const float* padded = simulator.padded_image(s);
  std::vector<float> frame(xs_.size());
  resample_bicubic(padded, simulator.padded_grid(), xs_.data(), ys_.data(), xs_.size(), frame.data());
  if (dose > 0) add_counting_noise(frame.data(), frame.size(), dose * adf_.pixel_A * adf_.pixel_A, 0.0, noise_seed);
  resample_bilinear(frame.data(), native_, native_, image, P_, P_);
}

// The scan's grid starts at (x0, y0) at native pixel centres.
double PatchScan::column_of(double x) const { return (x - adf_.x0 + 0.5 * adf_.pixel_A) / pixel_A_ - 0.5; }
double PatchScan::row_of(double y) const { return (y - adf_.y0 + 0.5 * adf_.pixel_A) / pixel_A_ - 0.5; }

void PatchScan::splat(float* map, double x, double y, double sigma_A, int reach) const {
  const int P = P_;
  const double col = column_of(x), row = row_of(y);
  if (col < -reach || row < -reach || col > P + reach || row > P + reach) return;
  const double inv2s2 = 1.0 / (2 * sigma_A * sigma_A);
  const int jc = int(std::lround(col)), ic = int(std::lround(row));
  for (int i = std::max(0, ic - reach); i <= std::min(P - 1, ic + reach); ++i)
    for (int j = std::max(0, jc - reach); j <= std::min(P - 1, jc + reach); ++j) {
      const std::size_t q = std::size_t(i) * P + j;
      const double dx = px_[q] - x, dy = py_[q] - y;
      map[q] += float(std::exp(-(dx * dx + dy * dy) * inv2s2));
    }
}

}  // namespace tmdflow::sim
