#include "tmdflow/sim/patch_scan.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/defect_trainset.hpp"

namespace tmdflow::sim {

void validate(const ScanRanges& r) {
  for (const Range* x : {&r.native_pixel_A, &r.dose, &r.voltage_kV, &r.convergence_mrad, &r.inner_mrad, &r.outer_mrad, &r.defocus_A, &r.source_size_A,
                         &r.jitter_A, &r.drift_A, &r.contamination})
    if (!(x->max >= x->min) || !std::isfinite(x->min) || !std::isfinite(x->max)) throw ConfigError("ranges: expected finite MIN,MAX with MIN <= MAX");
  if (!(r.native_pixel_A.min > 0.02 && r.native_pixel_A.max <= 1)) throw ConfigError("native-pixel-range-A: expected pixels of 0.02 to 1 Angstrom");
  if (r.dose.min < 0 || (r.dose.min == 0) != (r.dose.max == 0)) throw ConfigError("dose-range-e-per-A2: expected 0,0 (noise-free) or two positive doses");
  for (const Range* x : {&r.source_size_A, &r.jitter_A, &r.drift_A, &r.contamination})
    if (x->min < 0) throw ConfigError("source size, jitter, drift and contamination ranges: expected values >= 0");
  if (!(r.voltage_kV.min >= 20 && r.voltage_kV.max <= 400)) throw ConfigError("voltage-range-kV: expected 20 to 400 kV");
  if (!(r.convergence_mrad.min > 0 && r.inner_mrad.min > 0 && r.inner_mrad.max < r.outer_mrad.min))
    throw ConfigError("convergence and detector ranges: expected positive angles, every inner angle below every outer one");
}

ScanDraw draw_scan(const ScanRanges& r, int P, double pixel_A, double Cs_A, rng::Stream& g) {
  auto draw = [&](const Range& x) { return x.min + (x.max - x.min) * g.uniform(); };
  ScanDraw d;
  d.native = std::max(8, int(std::lround(P * pixel_A / draw(r.native_pixel_A))));
  d.native_pixel_A = P * pixel_A / d.native;
  d.dose = r.dose.max > 0 ? std::exp(std::log(r.dose.min) + (std::log(r.dose.max) - std::log(r.dose.min)) * g.uniform()) : 0.0;
  d.voltage_kV = draw(r.voltage_kV);
  d.convergence_mrad = draw(r.convergence_mrad);
  d.inner_mrad = draw(r.inner_mrad);
  d.outer_mrad = draw(r.outer_mrad);
  d.defocus_A = draw(r.defocus_A);
  d.source_size_A = draw(r.source_size_A);
  d.jitter_A = draw(r.jitter_A);
  d.drift_A = draw(r.drift_A);
  const double drift_angle = 2 * M_PI * g.uniform();
  d.drift_x_A = d.drift_A * std::cos(drift_angle);
  d.drift_y_A = d.drift_A * std::sin(drift_angle);
  d.contamination = draw(r.contamination);
  AdfSpec& a = d.adf;
  a.probe.voltage_kV = d.voltage_kV;
  a.probe.convergence_mrad = d.convergence_mrad;
  a.probe.aberrations.C1 = d.defocus_A;
  a.probe.aberrations.Cs = Cs_A;
  a.probe.source_size_A = d.source_size_A;
  a.inner_mrad = d.inner_mrad;
  a.outer_mrad = d.outer_mrad;
  a.ny = a.nx = d.native;
  a.pixel_A = d.native_pixel_A;
  a.margin_A = 6;
  d.distortion.jitter_A = d.jitter_A;
  d.distortion.drift_x_A = d.drift_x_A;
  d.distortion.drift_y_A = d.drift_y_A;
  d.field = adf_field(a, d.distortion);
  a.x0 = d.field.x0;
  a.y0 = d.field.y0;
  return d;
}

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

void PatchScan::render(const Structure& s, double dose, std::uint64_t noise_seed, float* image, const PatchRealism& realism) {
  AdfSimulator simulator(adf_);
  const float* padded = simulator.padded_image(s);
  std::vector<float> frame(xs_.size());
  resample_bicubic(padded, simulator.padded_grid(), xs_.data(), ys_.data(), xs_.size(), frame.data());
  if (realism.background > 0)
    for (float& v : frame) v += float(realism.background);
  if (dose > 0) add_counting_noise(frame.data(), frame.size(), dose * adf_.pixel_A * adf_.pixel_A, realism.read_noise, noise_seed);
  if (realism.psf_A > 0) gaussian_blur(frame.data(), native_, native_, realism.psf_A / adf_.pixel_A);
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
