#include "tmdflow/sim/probe.hpp"

#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/fft.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::sim {

int fft_friendly_size(int n) {
  // Factors 2, 3 and 5 only, and (above 64) a multiple of 16: FFTW's estimated plans are markedly
  // faster there (e.g. 1280^2 vs 1260^2 = 2^2 3^2 5 7: about 1.3x for a real transform pair).
  for (int m = std::max(n, 1);; ++m) {
    if (m > 64 && m % 16 != 0) continue;
    int r = m;
    for (int p : {2, 3, 5})
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

void validate(const ProbeSpec& s) {
  auto positive = [](double v, const char* name) {
    if (!(v > 0) || !std::isfinite(v)) throw ConfigError(std::string(name) + ": expected a positive number, found " + std::to_string(v));
  };
  auto non_negative = [](double v, const char* name) {
    if (!(v >= 0) || !std::isfinite(v)) throw ConfigError(std::string(name) + ": expected a number >= 0, found " + std::to_string(v));
  };
  positive(s.voltage_kV, "voltage-kV");
  positive(s.convergence_mrad, "convergence-mrad");
  non_negative(s.source_size_A, "source-size-A");
  non_negative(s.defocus_spread_A, "defocus-spread-A");
  if (s.defocus_spread_points < 1 || s.defocus_spread_points > 32)
    throw ConfigError("defocus-spread-points: expected 1..32, found " + std::to_string(s.defocus_spread_points));
  const auto& a = s.aberrations;
  for (double v : {a.C1, a.A1, a.B2, a.A2, a.Cs, a.A1_angle_deg, a.B2_angle_deg, a.A2_angle_deg})
    if (!std::isfinite(v)) throw ConfigError("aberrations: expected finite values");
}

double aberration_phase(const ProbeSpec& s, double kx, double ky, double extra_C1) {
  const double lambda = units::electron_wavelength_A(s.voltage_kV);
  const double t = lambda * std::hypot(kx, ky);
  if (t == 0) return 0;
  const double a = std::atan2(ky, kx);
  const auto& ab = s.aberrations;
  const double d2 = units::deg_to_rad(1.0);
  const double t2 = t * t;
  const double chi = 0.5 * t2 * (ab.C1 + extra_C1 + ab.A1 * std::cos(2.0 * (a - ab.A1_angle_deg * d2))) +
                     (1.0 / 3.0) * t2 * t * (ab.B2 * std::cos(a - ab.B2_angle_deg * d2) + ab.A2 * std::cos(3.0 * (a - ab.A2_angle_deg * d2))) +
                     0.25 * t2 * t2 * ab.Cs;
  return 2.0 * units::pi / lambda * chi;
}

void probe_wave_fourier(const ProbeSpec& s, const Grid& g, double cx, double cy, cfloat* out, double extra_C1) {
  const double lambda = units::electron_wavelength_A(s.voltage_kV);
  const double k_ap = units::mrad_to_invA(s.convergence_mrad, lambda);
  const double dk = std::min(1.0 / g.extent_x(), 1.0 / g.extent_y());
  std::vector<double> fx(g.nx), fy(g.ny);
  std::vector<std::complex<double>> sx(g.nx), sy(g.ny);
  for (int j = 0; j < g.nx; ++j) {
    fx[j] = fft_frequency(j, g.nx, g.dx);
    sx[j] = std::polar(1.0, -2.0 * units::pi * fx[j] * cx);
  }
  for (int i = 0; i < g.ny; ++i) {
    fy[i] = fft_frequency(i, g.ny, g.dy);
    sy[i] = std::polar(1.0, -2.0 * units::pi * fy[i] * cy);
  }
  double norm = 0;
  std::vector<std::complex<double>> w(g.size());
  for (int i = 0; i < g.ny; ++i)
    for (int j = 0; j < g.nx; ++j) {
      const double k = std::hypot(fx[j], fy[i]);
      // Antialiased aperture edge: linear over one reciprocal pixel around k_ap.
      const double a = std::clamp((k_ap - k) / dk + 0.5, 0.0, 1.0);
      if (a <= 0) continue;
      const auto v = a * std::polar(1.0, -aberration_phase(s, fx[j], fy[i], extra_C1)) * sx[j] * sy[i];
      w[std::size_t(i) * g.nx + j] = v;
      norm += a * a;
    }
  if (norm == 0)
    throw ConfigError("probe: the aperture (" + std::to_string(s.convergence_mrad) + " mrad) holds no reciprocal pixel of a " +
                      std::to_string(g.extent_x()) + " A window: enlarge the window or the convergence angle");
  // Backward FFT of coefficients with sum |c|^2 = 1/N gives sum |psi|^2 = 1.
  const double scale = 1.0 / std::sqrt(norm * double(g.size()));
  for (std::size_t p = 0; p < g.size(); ++p) out[p] = cfloat(w[p] * scale);
}

std::vector<cfloat> probe_wave_real(const ProbeSpec& s, const Grid& g, double cx, double cy, double extra_C1) {
  fft::Buffer<float> buf(g.size());
  probe_wave_fourier(s, g, cx, cy, buf.data(), extra_C1);
  fft::Plan2D<float> plan(g.ny, g.nx);
  plan.inverse(buf.data());
  return std::vector<cfloat>(buf.data(), buf.data() + g.size());
}

void gauss_hermite_normal(int n, std::vector<double>& nodes, std::vector<double>& weights) {
  // Golub-Welsch: the Jacobi matrix of the probabilists' Hermite polynomials (zero diagonal,
  // off-diagonal sqrt(k)) has the nodes as eigenvalues and the weights as the squared first
  // components of its unit eigenvectors. Cyclic Jacobi rotations are plenty for n <= 32.
  std::vector<double> A(std::size_t(n) * n, 0.0), V(std::size_t(n) * n, 0.0);
  auto at = [n](std::vector<double>& M, int r, int c) -> double& { return M[std::size_t(r) * n + c]; };
  for (int k = 1; k < n; ++k) at(A, k - 1, k) = at(A, k, k - 1) = std::sqrt(double(k));
  for (int k = 0; k < n; ++k) at(V, k, k) = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += at(A, p, q) * at(A, p, q);
    if (off < 1e-30) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = at(A, p, q);
        if (std::abs(apq) < 1e-300) continue;
        const double theta = (at(A, q, q) - at(A, p, p)) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), sn = t * c;
        for (int k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = at(A, k, p), akq = at(A, k, q);
          at(A, k, p) = c * akp - sn * akq;
          at(A, k, q) = sn * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = at(A, p, k), aqk = at(A, q, k);
          at(A, p, k) = c * apk - sn * aqk;
          at(A, q, k) = sn * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {
          const double vkp = at(V, k, p), vkq = at(V, k, q);
          at(V, k, p) = c * vkp - sn * vkq;
          at(V, k, q) = sn * vkp + c * vkq;
        }
      }
  }
  nodes.resize(n);
  weights.resize(n);
  for (int k = 0; k < n; ++k) {
    nodes[k] = at(A, k, k);
    weights[k] = at(V, 0, k) * at(V, 0, k);
  }
}

std::vector<double> probe_intensity(const ProbeSpec& s, const Grid& g) {
  validate(s);
  std::vector<double> nodes, weights;
  if (s.defocus_spread_A > 0) {
    gauss_hermite_normal(s.defocus_spread_points, nodes, weights);
  } else {
    nodes = {0.0};
    weights = {1.0};
  }
  const std::size_t n = g.size();
  std::vector<double> intensity(n, 0.0);
  fft::Buffer<double> buf(n);
  fft::Plan2D<double> plan(g.ny, g.nx);
  fft::Buffer<float> wave(n);
  for (std::size_t q = 0; q < nodes.size(); ++q) {
    probe_wave_fourier(s, g, 0.0, 0.0, wave.data(), nodes[q] * s.defocus_spread_A);
    for (std::size_t p = 0; p < n; ++p) buf[p] = std::complex<double>(wave[p]);
    plan.inverse(buf.data());
    for (std::size_t p = 0; p < n; ++p) intensity[p] += weights[q] * std::norm(buf[p]);
  }
  if (s.source_size_A > 0) {
    for (std::size_t p = 0; p < n; ++p) buf[p] = intensity[p];
    plan.forward(buf.data());
    const double s2 = s.source_size_A * s.source_size_A;
    for (int i = 0; i < g.ny; ++i)
      for (int j = 0; j < g.nx; ++j) {
        const double kx = fft_frequency(j, g.nx, g.dx), ky = fft_frequency(i, g.ny, g.dy);
        buf[std::size_t(i) * g.nx + j] *= std::exp(-2.0 * units::pi * units::pi * s2 * (kx * kx + ky * ky)) / double(n);
      }
    plan.inverse(buf.data());
    for (std::size_t p = 0; p < n; ++p) intensity[p] = buf[p].real();
  }
  // Per-pixel fraction -> density (1/A^2).
  const double area = g.dx * g.dy;
  for (auto& v : intensity) v /= area;
  return intensity;
}

}  // namespace tmdflow::sim
