#include "tmdflow/analysis/dynamics/registration.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/fft.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::analysis::dynamics {

struct FrameRegistration::Impl {
  int ny = 0, nx = 0, by = 0, bx = 0, bin = 1;
  RegistrationSpec spec;
  std::unique_ptr<fft::RealPlan2D<float>> plan;
  std::vector<float> window;     // by x bx
  std::vector<float> lowpass;    // by x (bx / 2 + 1)
  mutable fft::RealBuffer<float> real;
  mutable fft::Buffer<float> complex;
};

FrameRegistration::FrameRegistration(int ny, int nx, const RegistrationSpec& spec) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  if (spec.bin < 1) throw ConfigError("registration bin: expected 1 or more, found " + std::to_string(spec.bin));
  if (!(spec.max_shift_px > 0) || !(spec.lowpass_px >= 0) || !(spec.whitening >= 0 && spec.whitening <= 1))
    throw ConfigError("registration: expected a positive search radius, a low-pass >= 0 and a whitening in [0, 1]");
  m.ny = ny, m.nx = nx, m.bin = spec.bin, m.spec = spec;
  m.by = ny / spec.bin, m.bx = nx / spec.bin;
  if (m.by < 8 || m.bx < 8)
    throw ConfigError("registration: expected frames of at least 8 x 8 binned pixels, found " + std::to_string(m.by) + " x " + std::to_string(m.bx));
  m.plan = std::make_unique<fft::RealPlan2D<float>>(m.by, m.bx);
  m.window.resize(std::size_t(m.by) * m.bx);
  for (int i = 0; i < m.by; ++i)
    for (int j = 0; j < m.bx; ++j)
      m.window[std::size_t(i) * m.bx + j] = float((0.5 - 0.5 * std::cos(2 * M_PI * (i + 0.5) / m.by)) * (0.5 - 0.5 * std::cos(2 * M_PI * (j + 0.5) / m.bx)));
  const int cx = m.bx / 2 + 1;
  m.lowpass.resize(std::size_t(m.by) * cx);
  const double s = spec.lowpass_px;
  for (int i = 0; i < m.by; ++i)
    for (int j = 0; j < cx; ++j) {
      const double fy = fft::frequency(i, m.by, 1.0), fx = double(j) / m.bx;
      m.lowpass[std::size_t(i) * cx + j] = float(std::exp(-2 * M_PI * M_PI * s * s * (fx * fx + fy * fy)));
    }
  m.real = fft::RealBuffer<float>(std::size_t(m.by) * m.bx);
  m.complex = fft::Buffer<float>(std::size_t(m.by) * cx);
}

FrameRegistration::~FrameRegistration() = default;

std::vector<std::complex<float>> FrameRegistration::spectrum(const float* frame) const {
  const auto& m = *impl_;
  double mean = 0;
  for (int i = 0; i < m.by; ++i)
    for (int j = 0; j < m.bx; ++j) {
      double v = 0;
      for (int a = 0; a < m.bin; ++a)
        for (int b = 0; b < m.bin; ++b) v += frame[std::size_t(i * m.bin + a) * m.nx + std::size_t(j * m.bin + b)];
      m.real[std::size_t(i) * m.bx + j] = float(v);
      mean += v;
    }
  mean /= double(m.by) * m.bx;
  for (std::size_t k = 0; k < m.window.size(); ++k) m.real[k] = float((m.real[k] - mean) * m.window[k]);
  m.plan->forward(m.real.data(), m.complex.data());
  return std::vector<std::complex<float>>(m.complex.data(), m.complex.data() + m.complex.size());
}

Shift FrameRegistration::shift(const std::vector<std::complex<float>>& a, const std::vector<std::complex<float>>& b) const {
  const auto& m = *impl_;
  if (a.size() != m.complex.size() || b.size() != m.complex.size()) throw Error("registration: spectra of another frame size", ExitCode::failure);
  // Weights w = low-pass / |c|^whitening; the frames' own correlations at zero, with the same
  // weights, normalise the peak (Cauchy-Schwarz: at most 1).
  const int cx = m.bx / 2 + 1;
  double self_a = 0, self_b = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const std::complex<float> c = b[k] * std::conj(a[k]);
    const double r = std::abs(c);
    const double w = r > 0 ? m.lowpass[k] * (m.spec.whitening > 0 ? std::pow(r, -m.spec.whitening) : 1.0) : 0.0;
    m.complex[k] = c * float(w);
    const int j = int(k % std::size_t(cx));
    const double twice = (j == 0 || 2 * j == m.bx) ? 1.0 : 2.0;  // the half spectrum stands for both halves
    self_a += twice * w * std::norm(a[k]);
    self_b += twice * w * std::norm(b[k]);
  }
  m.plan->inverse(m.complex.data(), m.real.data());
  // The peak within the search radius (binned pixels), indices wrapping around.
  const double radius = m.spec.max_shift_px / m.bin;
  const int reach = int(std::ceil(radius));
  auto value = [&](int dy, int dx) {
    const int i = ((dy % m.by) + m.by) % m.by, j = ((dx % m.bx) + m.bx) % m.bx;
    return double(m.real[std::size_t(i) * m.bx + j]);
  };
  int best_y = 0, best_x = 0;
  double best = -HUGE_VAL;
  for (int dy = -reach; dy <= reach; ++dy)
    for (int dx = -reach; dx <= reach; ++dx) {
      if (dy * dy + dx * dx > radius * radius) continue;
      const double v = value(dy, dx);
      if (v > best) best = v, best_y = dy, best_x = dx;
    }
  auto offset = [](double l, double c, double r) {
    if (l > 0 && c > 0 && r > 0) l = std::log(l), c = std::log(c), r = std::log(r);
    const double curvature = l - 2 * c + r;
    return curvature < 0 ? std::clamp(0.5 * (l - r) / curvature, -0.5, 0.5) : 0.0;
  };
  Shift s;
  s.dy = (best_y + offset(value(best_y - 1, best_x), best, value(best_y + 1, best_x))) * m.bin;
  s.dx = (best_x + offset(value(best_y, best_x - 1), best, value(best_y, best_x + 1))) * m.bin;
  s.peak = self_a > 0 && self_b > 0 ? best / std::sqrt(self_a * self_b) : 0;
  return s;
}

std::vector<Shift> cumulative_drift(const std::vector<Shift>& steps) {
  std::vector<Shift> drift(steps.size() + 1);
  for (std::size_t k = 0; k < steps.size(); ++k) {
    drift[k + 1].dy = drift[k].dy + steps[k].dy;
    drift[k + 1].dx = drift[k].dx + steps[k].dx;
    drift[k + 1].peak = steps[k].peak;
  }
  if (!drift.empty()) drift[0].peak = 1;
  return drift;
}

}  // namespace tmdflow::analysis::dynamics
