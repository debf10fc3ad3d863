#include "tmdflow/analysis/style/power_spectrum.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <string>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/fft.hpp"

namespace tmdflow::analysis {

struct RadialSpectrum::Plan {
  fft::RealPlan2D<double> plan;
  fft::RealBuffer<double> in;
  fft::Buffer<double> out;
  Plan(int ny, int nx) : plan(ny, nx), in(std::size_t(ny) * nx), out(std::size_t(ny) * (nx / 2 + 1)) {}
};

RadialSpectrum::RadialSpectrum(int ny, int nx, double pixel_A, double k_min, int bins) : ny_(ny), nx_(nx) {
  if (ny < 8 || nx < 8) throw ConfigError("power spectrum: expected images of at least 8 x 8 pixels, found " + std::to_string(ny) + " x " + std::to_string(nx));
  if (!(pixel_A > 0) || !(k_min > 0) || bins < 4) throw ConfigError("power spectrum: expected a positive pixel size, k_min and at least 4 bins");
  plan_ = std::make_unique<Plan>(ny, nx);
  const double nyquist = 0.5 / pixel_A;
  if (!(k_min < nyquist)) throw ConfigError("power spectrum: k_min " + std::to_string(k_min) + " 1/A is above the Nyquist frequency " + std::to_string(nyquist) + " 1/A");
  const double ratio = std::log(nyquist / k_min) / bins;
  const int nxc = nx / 2 + 1;
  bin_of_.assign(std::size_t(ny) * nxc, -1);
  std::vector<double> count(std::size_t(bins), 0.0);
  for (int i = 0; i < ny; ++i) {
    const double ky = fft::frequency(i, ny, pixel_A);
    for (int j = 0; j < nxc; ++j) {
      const double kx = double(j) / (nx * pixel_A), k = std::hypot(kx, ky);
      if (k < k_min || k >= nyquist) continue;
      const int b = std::min(bins - 1, int(std::log(k / k_min) / ratio));
      bin_of_[std::size_t(i) * nxc + j] = b;
      // The r2c half holds each frequency once; its mirror (j > 0, j < nx/2) counts twice.
      count[std::size_t(b)] += (j == 0 || 2 * j == nx) ? 1.0 : 2.0;
    }
  }
  // Keep the bins that hold samples, renumbered.
  std::vector<int> renumber(std::size_t(bins), -1);
  for (int b = 0; b < bins; ++b)
    if (count[std::size_t(b)] > 0) {
      renumber[std::size_t(b)] = int(k_.size());
      k_.push_back(k_min * std::exp(ratio * (b + 0.5)));
      samples_.push_back(count[std::size_t(b)]);
    }
  for (int& b : bin_of_)
    if (b >= 0) b = renumber[std::size_t(b)];
  samples_x_.assign(k_.size(), 0.0);
  samples_y_.assign(k_.size(), 0.0);
  for (int i = 0; i < ny; ++i) {
    const double ky = fft::frequency(i, ny, pixel_A);
    for (int j = 0; j < nxc; ++j) {
      const int b = bin_of_[std::size_t(i) * nxc + j];
      if (b < 0) continue;
      const double w = (j == 0 || 2 * j == nx) ? 1.0 : 2.0, kx = double(j) / (nx * pixel_A);
      (kx > std::abs(ky) ? samples_x_ : samples_y_)[std::size_t(b)] += w;
    }
  }
  // Independent samples: the r2c half holds each +-k pair once (weights 2 count one power twice).
  const std::size_t nb = k_.size();
  std::vector<double> band_x(kAnisotropyBands, 0.0), band_y(kAnisotropyBands, 0.0);
  for (std::size_t b = 0; b < nb; ++b) {
    const double n = samples_[b] / 2;
    weights_.push_back(n / (n + 16));
    band_of_.push_back(int(b * kAnisotropyBands / nb));
    band_x[std::size_t(band_of_.back())] += samples_x_[b] / 2, band_y[std::size_t(band_of_.back())] += samples_y_[b] / 2;
  }
  for (int q = 0; q < kAnisotropyBands; ++q) {
    const double nmin = std::min(band_x[std::size_t(q)], band_y[std::size_t(q)]);
    anisotropy_weights_.push_back(nmin / (nmin + 16));
  }
  if (k_.size() < 4)
    throw ConfigError("power spectrum: an image of " + std::to_string(ny) + " x " + std::to_string(nx) + " pixels holds fewer than 4 frequency bins above " +
                      std::to_string(k_min) + " 1/A");
  window_.resize(std::size_t(ny) * nx);
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < ny; ++i)
    for (int j = 0; j < nx; ++j)
      window_[std::size_t(i) * nx + j] = (0.5 - 0.5 * std::cos(2 * pi * (i + 0.5) / ny)) * (0.5 - 0.5 * std::cos(2 * pi * (j + 0.5) / nx));
}

RadialSpectrum::~RadialSpectrum() = default;

std::vector<double> RadialSpectrum::log_power(const float* image) { return log_power(image, nullptr); }

std::vector<double> RadialSpectrum::log_power(const float* image, std::vector<double>* anisotropy) {
  const std::size_t n = std::size_t(ny_) * nx_;
  double mean = 0;
  for (std::size_t p = 0; p < n; ++p) mean += image[p];
  mean /= double(n);
  double* in = plan_->in.data();
  for (std::size_t p = 0; p < n; ++p) in[p] = (image[p] - mean) * window_[p];
  plan_->plan.forward(in, plan_->out.data());
  std::vector<double> power(k_.size(), 0.0), px(k_.size(), 0.0);
  const int nxc = nx_ / 2 + 1;
  const std::complex<double>* out = plan_->out.data();
  for (int i = 0; i < ny_; ++i) {
    const int iy = i < (ny_ + 1) / 2 ? i : ny_ - i;  // |ky| in samples of 1/(ny pixel); kx in 1/(nx pixel)
    for (int j = 0; j < nxc; ++j) {
      const int b = bin_of_[std::size_t(i) * nxc + j];
      if (b < 0) continue;
      const double p = std::norm(out[std::size_t(i) * nxc + j]) * ((j == 0 || 2 * j == nx_) ? 1.0 : 2.0);
      power[std::size_t(b)] += p;
      if (double(j) / nx_ > double(iy) / ny_) px[std::size_t(b)] += p;
    }
  }
  // A floor 12 decades below the mean power per sample: bins without power (a flat image, a pure
  // cosine) read the same in any image instead of the round-off of the transform.
  double total = 0, samples = 0;
  for (std::size_t b = 0; b < power.size(); ++b) total += power[b], samples += samples_[b];
  const double floor = 1e-12 * total / samples + 1e-300;
  if (anisotropy) {
    std::vector<double> bx(kAnisotropyBands, 0.0), by(kAnisotropyBands, 0.0), nx(kAnisotropyBands, 0.0), ny(kAnisotropyBands, 0.0);
    for (std::size_t b = 0; b < k_.size(); ++b) {
      const auto q = std::size_t(band_of_[b]);
      bx[q] += px[b], by[q] += power[b] - px[b], nx[q] += samples_x_[b], ny[q] += samples_y_[b];
    }
    anisotropy->assign(kAnisotropyBands, 0.0);
    for (std::size_t q = 0; q < std::size_t(kAnisotropyBands); ++q)
      if (nx[q] > 0 && ny[q] > 0) (*anisotropy)[q] = std::log10((bx[q] / nx[q] + floor) / (by[q] / ny[q] + floor));
  }
  double sum = 0;
  for (std::size_t b = 0; b < power.size(); ++b) {
    power[b] = std::log10(power[b] / samples_[b] + floor);
    sum += power[b];
  }
  for (double& v : power) v -= sum / double(power.size());
  return power;
}

double spectrum_distance(const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& weights) {
  if (a.size() != b.size() || a.empty() || (!weights.empty() && weights.size() != a.size()))
    throw InputError("spectrum distance: expected two spectra (and weights) of the same bins, found " + std::to_string(a.size()) + ", " +
                     std::to_string(b.size()) + " and " + std::to_string(weights.size()));
  double s = 0, w = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const double wk = weights.empty() ? 1.0 : weights[k];
    s += wk * (a[k] - b[k]) * (a[k] - b[k]), w += wk;
  }
  return w > 0 ? std::sqrt(s / w) : 0.0;
}

}  // namespace tmdflow::analysis
