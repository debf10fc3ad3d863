#include "tmdflow/analysis/lattice/spectrum.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/fft.hpp"
#include "tmdflow/core/numeric.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::analysis::lattice {
namespace {

constexpr double kEulerGamma = 0.5772156649015329;
constexpr double kDynamicRange = 1e-5;  // the weakest background counted, relative to the strongest spot
const double kLnEvidenceThreshold = std::log(10.0);


/// sum_{n<N} e^{2 pi i x n / N} in closed form (N at x = 0).
std::complex<double> dirichlet(double x, int n) {
  const double s = std::sin(units::pi * x / n);
  if (std::abs(s) < 1e-12) return {double(n), 0.0};
  return std::polar(std::sin(units::pi * x) / s, units::pi * x * (n - 1) / n);
}

/// Offset (bins, in [0, 1/2]) of a tone from the bin holding the Hann-windowed peak, from the ratio
/// of the larger neighbour's magnitude to the peak's: exact for one tone (Grandke, IEEE Trans.
/// Instrum. Meas. 32, 350 (1983)), since |W(d)| is proportional to |sin(pi d) / (d (1 - d^2))|.
double hann_offset(double peak, double neighbour) {
  if (!(peak > 0)) return 0;
  const double alpha = std::min(1.0, neighbour / peak);
  return std::clamp((2 * alpha - 1) / (alpha + 1), 0.0, 0.5);
}

}  // namespace

std::complex<double> hann_kernel(double d, int n) {
  return 0.5 * dirichlet(d, n) - 0.25 * dirichlet(d + 1, n) - 0.25 * dirichlet(d - 1, n);
}

Spectrum::Spectrum(const float* image, int height, int width, double min_radius_bins)
    : height_(height), width_(width), half_width_(width / 2 + 1), min_radius_bins_(min_radius_bins) {
  if (height < 16 || width < 16)
    throw InputError("lattice finder: image: expected at least 16 x 16 pixels, found " + std::to_string(height) + " x " +
                     std::to_string(width));
  transform(image);
  rings_ = int(std::ceil(std::hypot(0.5, 0.5) * min_size())) + 2;  // radii in units of 1 / min_size
  ring_.resize(coefficients_.size());
  for (int ky = 0; ky < height; ++ky) {
    const double fy = double(ky <= height / 2 ? ky : ky - height) / height;
    for (int kx = 0; kx < half_width_; ++kx)
      ring_[std::size_t(ky) * half_width_ + kx] = std::min(rings_ - 1, int(radius_bins(double(kx) / width, fy) + 0.5));
  }
  std::vector<float> lnp(coefficients_.size());
  for (std::size_t p = 0; p < lnp.size(); ++p) lnp[p] = std::log(std::norm(coefficients_[p]) + 1e-30f);
  ring_backgrounds(lnp);
  evidence_map(lnp);
  chance_levels();
}

void Spectrum::transform(const float* image) {
  const int height = height_, width = width_;
  std::vector<double> wy(static_cast<std::size_t>(height)), wx(static_cast<std::size_t>(width));
  for (int i = 0; i < height; ++i) wy[std::size_t(i)] = 0.5 - 0.5 * std::cos(2 * units::pi * i / height);
  for (int j = 0; j < width; ++j) wx[std::size_t(j)] = 0.5 - 0.5 * std::cos(2 * units::pi * j / width);
  // Subtracting the window-weighted mean empties the zero bin, so the image's mean level does not
  // leak into the first lattice orders of a small field.
  double sw = 0, swi = 0;
  for (int i = 0; i < height; ++i)
    for (int j = 0; j < width; ++j) {
      const double w = wy[std::size_t(i)] * wx[std::size_t(j)];
      const double v = image[std::size_t(i) * width + j];
      if (!std::isfinite(v))
        throw InputError("lattice finder: image: expected finite pixel values, found " + std::to_string(v) + " at row " +
                         std::to_string(i) + ", column " + std::to_string(j));
      sw += w, swi += w * v;
    }
  const double mean = swi / sw;
  fft::RealBuffer<float> in(std::size_t(height) * width);
  for (int i = 0; i < height; ++i)
    for (int j = 0; j < width; ++j)
      in[std::size_t(i) * width + j] = float(wy[std::size_t(i)] * wx[std::size_t(j)] * (image[std::size_t(i) * width + j] - mean));
  fft::Buffer<float> out(std::size_t(height) * half_width_);
  fft::RealPlan2D<float>(height, width).forward(in.data(), out.data());
  coefficients_.assign(out.data(), out.data() + out.size());
}

void Spectrum::ring_backgrounds(const std::vector<float>& lnp) {
  // The mean of ln P over each ring, spots excluded by a second pass; for the exponential
  // distribution of a featureless spectrum E[ln P] = ln <P> - gamma.
  std::vector<double> sum(std::size_t(rings_), 0.0), cut(std::size_t(rings_), 1e300);
  std::vector<long> count(std::size_t(rings_), 0);
  for (int pass = 0; pass < 2; ++pass) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0L);
    for (std::size_t p = 0; p < lnp.size(); ++p) {
      const std::size_t r = std::size_t(ring_[p]);
      if (lnp[p] > cut[r]) continue;
      sum[r] += lnp[p];
      ++count[r];
    }
    for (std::size_t r = 0; r < sum.size(); ++r)
      if (count[r]) cut[r] = sum[r] / double(count[r]) + 3.0;
  }
  // A floor 50 dB under the strongest spot: in a noise-free simulation the "background" is the
  // window's sidelobes and rounding, and a spot must stand out over those, not over zero.
  float strongest = -1e30f;
  for (std::size_t p = 0; p < lnp.size(); ++p)
    if (ring_[p] >= min_radius_bins_) strongest = std::max(strongest, lnp[p]);
  const double dynamic_floor = std::exp(double(strongest)) * kDynamicRange;
  ring_background_.assign(std::size_t(rings_), 0.0f);
  double last = 0;
  for (std::size_t r = 0; r < sum.size(); ++r) {
    if (count[r]) last = sum[r] / double(count[r]) + kEulerGamma;
    ring_background_[r] = float(std::max(std::exp(last), dynamic_floor));
  }
}

void Spectrum::evidence_map(const std::vector<float>& lnp) {
  // ln(snr / 10) at the peak of every genuine spot (a local maximum with snr > 10 that no stronger
  // spot within 5 bins outshines 100 times: not a sidelobe), 0 elsewhere; then the maximum over 3x3
  // bins (separable), so that a spot predicted within a bin of its peak is still seen.
  const int height = height_, width = width_;
  std::vector<float> ln_background(ring_background_.size());
  for (std::size_t r = 0; r < ring_background_.size(); ++r) ln_background[r] = std::log(ring_background_[r]) + float(kLnEvidenceThreshold);
  std::vector<float> raw(std::size_t(height) * width, 0.0f);
  for (int ky = 0; ky < height; ++ky)
    for (int kx = 0; kx < half_width_; ++kx) {
      const std::size_t p = std::size_t(ky) * half_width_ + kx;
      const float e = lnp[p] - ln_background[std::size_t(ring_[p])];
      if (e <= 0) continue;
      const double fy = double(ky <= height / 2 ? ky : ky - height) / height;
      if (radius_bins(double(kx) / width, fy) < min_radius_bins_ || !local_maximum(ky, kx) || !stands_out(ky, kx)) continue;
      raw[std::size_t(ky) * width + kx] = e;
      raw[std::size_t(wrap_index(-ky, height)) * width + wrap_index(-kx, width)] = e;
    }
  std::vector<float> rowmax(raw.size());
  for (int ky = 0; ky < height; ++ky) {
    const float* r = &raw[std::size_t(ky) * width];
    float* m = &rowmax[std::size_t(ky) * width];
    m[0] = std::max({r[width - 1], r[0], r[1]});
    for (int kx = 1; kx < width - 1; ++kx) m[kx] = std::max({r[kx - 1], r[kx], r[kx + 1]});
    m[width - 1] = std::max({r[width - 2], r[width - 1], r[0]});
  }
  evidence_.resize(raw.size());
  for (int ky = 0; ky < height; ++ky) {
    const float* up = &rowmax[std::size_t(wrap_index(ky - 1, height)) * width];
    const float* mid = &rowmax[std::size_t(ky) * width];
    const float* down = &rowmax[std::size_t(wrap_index(ky + 1, height)) * width];
    float* e = &evidence_[std::size_t(ky) * width];
    for (int kx = 0; kx < width; ++kx) e[kx] = std::max({up[kx], mid[kx], down[kx]});
  }
}

void Spectrum::chance_levels() {
  // What a lattice point put anywhere on a ring collects: scores count evidence above it, so a
  // denser lattice gains nothing from points that hit spots by chance (a spectrum rich in spots,
  // as a 1T'' layer's, otherwise favours dense lattices). The map is Hermitian: the half plane tells.
  std::vector<double> ring_sum(std::size_t(rings_), 0.0);
  std::vector<long> ring_count(std::size_t(rings_), 0);
  for (int ky = 0; ky < height_; ++ky)
    for (int kx = 0; kx < half_width_; ++kx) {
      const std::size_t r = std::size_t(ring_[std::size_t(ky) * half_width_ + kx]);
      ring_sum[r] += evidence_[std::size_t(ky) * width_ + kx];
      ++ring_count[r];
    }
  chance_.assign(std::size_t(rings_), 0.0f);
  for (int r = 0; r < rings_; ++r)
    if (ring_count[std::size_t(r)] && r >= min_radius_bins_) chance_[std::size_t(r)] = float(ring_sum[std::size_t(r)] / double(ring_count[std::size_t(r)]));
}

float Spectrum::evidence_above_chance(double fx, double fy) const {
  const int ky = int(std::lround(fy * height_)), kx = int(std::lround(fx * width_));
  return evidence(ky, kx) - chance_[std::size_t(ring_of(ky, kx))];
}

double Spectrum::radius_bins(double fx, double fy) const { return std::hypot(fx, fy) * min_size(); }

int Spectrum::ring_of(int ky, int kx) const {
  int y = wrap_index(ky, height_), x = wrap_index(kx, width_);
  if (x >= half_width_) y = wrap_index(-y, height_), x = width_ - x;  // rings are symmetric
  return ring_[std::size_t(y) * half_width_ + x];
}

std::complex<double> Spectrum::coefficient(int ky, int kx) const {
  int y = wrap_index(ky, height_), x = wrap_index(kx, width_);
  if (x < half_width_) return std::complex<double>(coefficients_[std::size_t(y) * half_width_ + x]);
  y = wrap_index(-y, height_), x = width_ - x;
  return std::conj(std::complex<double>(coefficients_[std::size_t(y) * half_width_ + x]));
}

double Spectrum::background(int ky, int kx) const { return ring_background_[std::size_t(ring_of(ky, kx))]; }

float Spectrum::evidence(int ky, int kx) const { return evidence_[std::size_t(wrap_index(ky, height_)) * width_ + wrap_index(kx, width_)]; }

float Spectrum::evidence_at(double fx, double fy) const {
  return evidence(int(std::lround(fy * height_)), int(std::lround(fx * width_)));
}

bool Spectrum::local_maximum(int ky, int kx) const {
  const double p = power(ky, kx);
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx)
      if ((dy || dx) && power(ky + dy, kx + dx) > p) return false;
  return true;
}

bool Spectrum::stands_out(int ky, int kx) const {
  const double p = power(ky, kx);
  for (int dy = -5; dy <= 5; ++dy)
    for (int dx = -5; dx <= 5; ++dx) {
      if (dy * dy + dx * dx > 25) continue;
      if (radius_bins(double(kx + dx) / width_, double(ky + dy) / height_) < min_radius_bins_) continue;
      if (power(ky + dy, kx + dx) > 100 * p) return false;
    }
  return true;
}

double Spectrum::spot_evidence_at(double fx, double fy, double* spot) const {
  const double cy = fy * height_, cx = fx * width_;
  double peak = -1;
  int py = 0, px = 0;
  for (int ky = int(std::floor(cy)) - 2; ky <= int(std::ceil(cy)) + 2; ++ky)
    for (int kx = int(std::floor(cx)) - 2; kx <= int(std::ceil(cx)) + 2; ++kx) {
      if (std::hypot(ky - cy, kx - cx) > 1.5 || radius_bins(double(kx) / width_, double(ky) / height_) < min_radius_bins_) continue;
      const double p = power(ky, kx);
      if (p > peak) peak = p, py = ky, px = kx;
    }
  if (peak <= 0 || !local_maximum(py, px) || !stands_out(py, px)) return 0;
  if (spot) spot[0] = double(px) / width_, spot[1] = double(py) / height_;
  return std::max(0.0, std::log(peak / background(py, px)) - kLnEvidenceThreshold);
}

bool Spectrum::refine_spot(double fx, double fy, double search_bins, double min_snr, Spot& spot) const {
  const double cy = fy * height_, cx = fx * width_;
  const int r = int(std::ceil(search_bins));
  int best_y = 0, best_x = 0;
  double best = -1;
  for (int ky = int(std::floor(cy)) - r; ky <= int(std::ceil(cy)) + r; ++ky)
    for (int kx = int(std::floor(cx)) - r; kx <= int(std::ceil(cx)) + r; ++kx) {
      if (std::hypot(ky - cy, kx - cx) > search_bins) continue;
      if (radius_bins(double(kx) / width_, double(ky) / height_) < min_radius_bins_) continue;
      const double p = power(ky, kx);
      if (p <= best || p < min_snr * background(ky, kx) || !local_maximum(ky, kx)) continue;
      best = p, best_y = ky, best_x = kx;
    }
  if (best < 0) return false;
  const double m0 = std::sqrt(best);
  const double mxl = std::abs(coefficient(best_y, best_x - 1)), mxr = std::abs(coefficient(best_y, best_x + 1));
  const double myl = std::abs(coefficient(best_y - 1, best_x)), myr = std::abs(coefficient(best_y + 1, best_x));
  const double dx = mxr >= mxl ? hann_offset(m0, mxr) : -hann_offset(m0, mxl);
  const double dy = myr >= myl ? hann_offset(m0, myr) : -hann_offset(m0, myl);
  spot.fx = (best_x + dx) / width_;
  spot.fy = (best_y + dy) / height_;
  spot.snr = best / background(best_y, best_x);
  spot.amplitude = coefficient(best_y, best_x) / (hann_kernel(dx, width_) * hann_kernel(dy, height_));
  return true;
}

Spot Spectrum::spot_at(double fx, double fy) const {
  const int kx = int(std::lround(fx * width_)), ky = int(std::lround(fy * height_));
  const double dx = fx * width_ - kx, dy = fy * height_ - ky;
  Spot s;
  s.fx = fx, s.fy = fy;
  s.snr = power(ky, kx) / background(ky, kx);
  s.amplitude = coefficient(ky, kx) / (hann_kernel(dx, width_) * hann_kernel(dy, height_));
  return s;
}

std::vector<Spot> Spectrum::strongest_spots(double max_radius_bins, std::size_t count) const {
  struct Candidate {
    double snr;
    int ky, kx;
  };
  std::vector<Candidate> found;
  const int ry = int(std::ceil(max_radius_bins * height_ / min_size())), rx = int(std::ceil(max_radius_bins * width_ / min_size()));
  for (int ky = -std::min(ry, height_ / 2); ky <= std::min(ry, (height_ - 1) / 2); ++ky)
    for (int kx = 0; kx <= std::min(rx, half_width_ - 1); ++kx) {
      if (kx == 0 && ky <= 0) continue;  // the half plane: fx > 0, or fx = 0 and fy > 0
      const double rb = radius_bins(double(kx) / width_, double(ky) / height_);
      if (rb < min_radius_bins_ || rb > max_radius_bins) continue;
      const double snr = this->snr(ky, kx);
      if (snr < 10 || !local_maximum(ky, kx) || !stands_out(ky, kx)) continue;
      found.push_back({snr, ky, kx});
    }
  std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) { return a.snr > b.snr; });
  if (found.size() > count) found.resize(count);
  std::vector<Spot> spots;
  for (const auto& c : found) {
    Spot s;
    if (refine_spot(double(c.kx) / width_, double(c.ky) / height_, 0.5, 0, s)) spots.push_back(s);
  }
  return spots;
}

}  // namespace tmdflow::analysis::lattice
