#include "tmdflow/sim/adf.hpp"

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/elements.hpp"

namespace tmdflow::sim {

namespace {
double sinc(double u) { return u == 0 ? 1.0 : std::sin(units::pi * u) / (units::pi * u); }
}  // namespace

AdfSimulator::AdfSimulator(const AdfSpec& spec) : spec_(spec) {
  validate(spec.probe);
  if (spec.ny < 1 || spec.nx < 1 || spec.ny > 8192 || spec.nx > 8192)
    throw ConfigError("image size: expected 1..8192 pixels per axis, found " + std::to_string(spec.ny) + "x" + std::to_string(spec.nx));
  if (!(spec.pixel_A > 0)) throw ConfigError("pixel-A: expected a positive number, found " + std::to_string(spec.pixel_A));
  if (!(spec.inner_mrad >= 0 && spec.outer_mrad > spec.inner_mrad))
    throw ConfigError("detector angles: expected 0 <= inner-mrad < outer-mrad, found " + std::to_string(spec.inner_mrad) + " and " +
                      std::to_string(spec.outer_mrad));
  const double lambda = units::electron_wavelength_A(spec.probe.voltage_kV);
  const double k_probe = 2.0 * units::mrad_to_invA(spec.probe.convergence_mrad, lambda);  // band limit of |psi|^2
  const double nyquist = 0.5 / spec.pixel_A;
  if (k_probe > nyquist)
    throw ConfigError("pixel-A: the probe intensity holds frequencies up to " + std::to_string(k_probe) +
                      " 1/A (twice the aperture) but a " + std::to_string(spec.pixel_A) + " A step samples only " + std::to_string(nyquist) +
                      " 1/A: use a step <= " + std::to_string(0.5 / k_probe) + " A");
  margin_px_ = int(std::ceil(std::max(0.0, spec.margin_A) / spec.pixel_A));
  padded_.ny = fft_friendly_size(spec.ny + 2 * margin_px_);
  padded_.nx = fft_friendly_size(spec.nx + 2 * margin_px_);
  padded_.dy = padded_.dx = spec.pixel_A;
  padded_.y0 = spec.y0 - margin_px_ * spec.pixel_A;
  padded_.x0 = spec.x0 - margin_px_ * spec.pixel_A;
  plan_ = std::make_unique<fft::RealPlan2D<float>>(padded_.ny, padded_.nx);
  const int nxc = padded_.nx / 2 + 1;
  object_ = fft::RealBuffer<float>(padded_.size());
  spectrum_ = fft::Buffer<float>(std::size_t(padded_.ny) * nxc);
  result_ = fft::RealBuffer<float>(padded_.size());

  // Probe intensity (1/A^2) centred at pixel (0, 0): an atom of cross-section sigma (A^2) at r_j
  // scatters sigma * I(r - r_j) of the beam onto the detector when the probe is at r, so the image is
  // the deposit (sigma per atom) convolved with I. Divide by the bilinear window and by N (c2r).
  const auto intensity = probe_intensity(spec.probe, padded_);
  fft::Buffer<double> work(padded_.size());
  for (std::size_t p = 0; p < padded_.size(); ++p) work[p] = intensity[p];
  fft::Plan2D<double> plan(padded_.ny, padded_.nx);
  plan.forward(work.data());
  // The probe intensity is real, so its transform is Hermitian and the r2c half holds it all; it
  // is complex for asymmetric probes (coma, three-fold astigmatism), so keep the complex value.
  filter_.assign(std::size_t(padded_.ny) * nxc, cfloat(0));
  const double n = double(padded_.size());
  for (int i = 0; i < padded_.ny; ++i) {
    const double wy = sinc(double(i < (padded_.ny + 1) / 2 ? i : i - padded_.ny) / padded_.ny);
    for (int j = 0; j < nxc; ++j) {
      const double wx = sinc(double(j) / padded_.nx);
      filter_[std::size_t(i) * nxc + j] = cfloat(work[std::size_t(i) * padded_.nx + j] * (1.0 / (wx * wx * wy * wy * n)));
    }
  }
}

AdfSimulator::~AdfSimulator() = default;

double AdfSimulator::cross_section(int Z) {
  auto it = sigma_.find(Z);
  if (it != sigma_.end()) return it->second;
  const double lambda = units::electron_wavelength_A(spec_.probe.voltage_kV);
  const double s = annular_cross_section(Z, units::mrad_to_invA(spec_.inner_mrad, lambda), units::mrad_to_invA(spec_.outer_mrad, lambda),
                                         spec_.probe.voltage_kV);
  sigma_.emplace(Z, s);
  return s;
}

const float* AdfSimulator::padded_image(const Structure& s) {
  const Grid& g = padded_;
  float* obj = object_.data();
  std::fill(obj, obj + g.size(), 0.0f);
  for (const auto& a : s.atoms) {
    const double u = (a.x - g.x0) / g.dx, v = (a.y - g.y0) / g.dy;
    if (!(u >= 0 && v >= 0 && u < g.nx - 1 && v < g.ny - 1)) continue;
    const int j = int(u), i = int(v);
    const float fx = float(u - j), fy = float(v - i);
    const float w = float(cross_section(a.Z));
    float* p = obj + std::size_t(i) * g.nx + j;
    p[0] += w * (1 - fx) * (1 - fy);
    p[1] += w * fx * (1 - fy);
    p[g.nx] += w * (1 - fx) * fy;
    p[g.nx + 1] += w * fx * fy;
  }
  plan_->forward(obj, spectrum_.data());
  cfloat* sp = spectrum_.data();
  const std::size_t nc = spectrum_.size();
  const cfloat* f = filter_.data();
  Kokkos::parallel_for("tmdflow::sim::adf_transfer", Kokkos::RangePolicy<HostExec>(0, nc), [=](const std::size_t p) { sp[p] = cmul(sp[p], f[p]); });
  plan_->inverse(sp, result_.data());
  return result_.data();
}

void AdfSimulator::image(const Structure& s, float* out) { crop(padded_image(s), out); }

void AdfSimulator::crop(const float* padded, float* out) const {
  for (int i = 0; i < spec_.ny; ++i) {
    const float* src = padded + std::size_t(i + margin_px_) * padded_.nx + margin_px_;
    std::copy(src, src + spec_.nx, out + std::size_t(i) * spec_.nx);
  }
}

AdfField adf_field(const AdfSpec& spec, const ScanDistortion& d) {
  // 2 A beyond the margin so that the deposit grid's edge never cuts a lattice site the margin needs.
  const double room = std::max(0.0, spec.margin_A) + 2.0;
  AdfField f;
  f.x0 = room + std::abs(d.drift_x_A) + 4 * std::abs(d.jitter_A);
  f.y0 = room + std::abs(d.drift_y_A) + 4 * std::abs(d.line_jitter_y_A);
  f.extent_x = spec.nx * spec.pixel_A + 2 * f.x0;
  f.extent_y = spec.ny * spec.pixel_A + 2 * f.y0;
  return f;
}

}  // namespace tmdflow::sim
