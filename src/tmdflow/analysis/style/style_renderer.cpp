#include "tmdflow/analysis/style/style_renderer.hpp"

#include <algorithm>
#include <cmath>
#include <complex>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/fft.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"

namespace tmdflow::analysis {

namespace rng = sim::rng;

struct StyleRenderer::Impl {
  sim::Grid grid;
  double pixel_A = 0, x0 = 0, y0 = 0;
  std::uint64_t seed = 0;
  fft::RealPlan2D<float> plan;
  fft::Buffer<float> spectrum;      // of the noise-free padded image
  fft::Buffer<float> work;
  fft::RealBuffer<float> blurred;
  std::vector<double> line_jitter;  // the engine's unit jitter of each scan line (x shift per 1 A rms)
  std::vector<double> xs, ys;
  // Per pixel: the counting draw u (inverted), the standard normal with the same CDF value (for
  // large means), and the read-noise draw.
  std::vector<float> uniform, uniform_normal, normal;
  Impl(const sim::Grid& g) : grid(g), plan(g.ny, g.nx), spectrum(std::size_t(g.ny) * (g.nx / 2 + 1)),
                             work(std::size_t(g.ny) * (g.nx / 2 + 1)), blurred(g.size()) {}
};

StyleRenderer::StyleRenderer(const float* padded, const sim::Grid& grid, int ny, int nx, double pixel_A, double x0, double y0,
                             std::uint64_t seed)
    : impl_(std::make_unique<Impl>(grid)), ny_(ny), nx_(nx) {
  if (ny < 1 || nx < 1) throw ConfigError("style renderer: expected a scan of at least 1 x 1 pixels");
  auto& m = *impl_;
  m.pixel_A = pixel_A, m.x0 = x0, m.y0 = y0, m.seed = seed;
  std::copy(padded, padded + grid.size(), m.blurred.data());
  m.plan.forward(m.blurred.data(), m.spectrum.data());
  std::copy(padded, padded + grid.size(), m.blurred.data());
  // The jitter of each line as sim::scan_positions draws it, for a 1 A rms: scaled later.
  sim::ScanDistortion unit;
  unit.jitter_A = 1;
  std::vector<double> xs, ys;
  sim::scan_positions(unit, ny, 1, pixel_A, 0.0, 0.0, seed, xs, ys);
  m.line_jitter = xs;
  const std::size_t n = std::size_t(ny) * nx;
  m.uniform.resize(n);
  m.uniform_normal.resize(n);
  m.normal.resize(n);
  rng::Stream g(rng::key(seed, 0x636f756e74ULL));
  for (std::size_t p = 0; p < n; ++p) {
    // The normal first, its CDF value the uniform: both draws agree exactly.
    const double z = g.normal();
    m.uniform_normal[p] = float(z);
    m.uniform[p] = float(std::clamp(0.5 * std::erfc(-z / std::sqrt(2.0)), 1e-12, 1 - 1e-12));
    m.normal[p] = float(g.normal());
  }
  std::vector<float> plain;
  clean(StyleParameters{}, plain);
  double sum = 0;
  for (float v : plain) sum += v;
  mean_clean_ = sum / double(n);
}

StyleRenderer::~StyleRenderer() = default;

void StyleRenderer::clean(const StyleParameters& p, std::vector<float>& out) {
  auto& m = *impl_;
  const sim::Grid& g = m.grid;
  const float* source = m.blurred.data();
  if (p.source_size_A > 0) {
    // Source size: the intensity convolved with a Gaussian, exp(-2 pi^2 s^2 k^2) in Fourier space
    // (the padded grid holds the scan with margins wider than the blur, so wrapping does no harm).
    const int nxc = g.nx / 2 + 1;
    const double c = -2 * 3.14159265358979323846 * 3.14159265358979323846 * p.source_size_A * p.source_size_A;
    const float norm = 1.0f / float(g.size());
    for (int i = 0; i < g.ny; ++i) {
      const double ky = fft::frequency(i, g.ny, g.dy);
      for (int j = 0; j < nxc; ++j) {
        const double kx = double(j) / (g.nx * g.dx);
        const std::size_t q = std::size_t(i) * nxc + j;
        m.work[q] = m.spectrum[q] * (norm * float(std::exp(c * (kx * kx + ky * ky))));
      }
    }
    m.plan.inverse(m.work.data(), m.blurred.data());
  } else {
    // The plain image again (the buffer may hold an earlier blur): from its spectrum.
    const std::size_t nc = m.spectrum.size();
    const float norm = 1.0f / float(g.size());
    for (std::size_t q = 0; q < nc; ++q) m.work[q] = m.spectrum[q] * norm;
    m.plan.inverse(m.work.data(), m.blurred.data());
  }
  const std::size_t n = std::size_t(ny_) * nx_;
  m.xs.resize(n);
  m.ys.resize(n);
  for (int i = 0; i < ny_; ++i)
    for (int j = 0; j < nx_; ++j) {
      const std::size_t k = std::size_t(i) * nx_ + j;
      m.xs[k] = m.x0 + j * m.pixel_A + p.jitter_A * m.line_jitter[std::size_t(i)];
      m.ys[k] = m.y0 + i * m.pixel_A;
    }
  out.resize(n);
  sim::resample_bicubic(source, g, m.xs.data(), m.ys.data(), n, out.data());
  if (p.background != 0)
    for (float& v : out) v += float(p.background);
}

namespace {
// Poisson count whose CDF first reaches u: an exact draw when u is uniform. Above a mean of 400
// the normal approximation (continuity-corrected) is as good and keeps the cost bounded.
double poisson_by_inversion(double mean, double u, double z) {
  if (!(mean > 0)) return 0;
  if (mean > 400) return std::max(0.0, std::floor(mean + std::sqrt(mean) * z + 0.5));
  double term = std::exp(-mean), cdf = term;
  int k = 0;
  while (u > cdf && k < 10000) {
    ++k;
    term *= mean / k;
    cdf += term;
  }
  return k;
}
}  // namespace

void StyleRenderer::detected(const StyleParameters& p, CountingNoise noise, std::vector<float>& out) {
  auto& m = *impl_;
  clean(p, out);
  const double per_unit = p.dose_e_per_A2 * m.pixel_A * m.pixel_A;  // electrons per unit of beam fraction
  const std::size_t n = out.size();
  switch (noise) {
    case CountingNoise::none:
      for (float& v : out) v = float(std::max(0.0, double(v)) * per_unit);
      break;
    case CountingNoise::poisson:
      sim::add_counting_noise(out.data(), n, per_unit, p.read_noise, rng::key(m.seed, 0x6e6f697365ULL));
      break;
    case CountingNoise::fixed_draws:
      for (std::size_t q = 0; q < n; ++q) {
        const double mean = std::max(0.0, double(out[q])) * per_unit;
        out[q] = float(poisson_by_inversion(mean, m.uniform[q], m.uniform_normal[q]) + p.read_noise * m.normal[q]);
      }
      break;
  }
  if (p.psf_A > 0) sim::gaussian_blur(out.data(), ny_, nx_, p.psf_A / m.pixel_A);
}

GreyMapping match_moments(const std::vector<float>& values, double target_mean, double target_sd) {
  const auto [mean, sd] = mean_and_sd(values.data(), values.size());
  GreyMapping m;
  m.gain = sd > 0 ? target_sd / sd : 0.0;
  m.offset = target_mean - m.gain * mean;
  return m;
}

void apply_mapping(std::vector<float>& values, const GreyMapping& m, const GreyScale& scale) {
  for (float& v : values) v = float(scale.stored(m.gain * v + m.offset));
}

std::pair<double, double> mean_and_sd(const float* v, std::size_t n) {
  if (n == 0) return {0.0, 0.0};
  double s = 0;
  for (std::size_t p = 0; p < n; ++p) s += v[p];
  const double mean = s / double(n);
  double s2 = 0;
  for (std::size_t p = 0; p < n; ++p) s2 += (v[p] - mean) * (v[p] - mean);
  return {mean, std::sqrt(s2 / double(n))};
}

}  // namespace tmdflow::analysis
