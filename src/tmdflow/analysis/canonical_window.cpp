// Windows of an image resampled in the canonical frame (lattice_finder.hpp): bicubic taps, reflected
// at the image's edges, on a Gaussian-prefiltered copy when a window downsamples.
#include <algorithm>
#include <cmath>

#include "tmdflow/analysis/lattice_finder.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::analysis {
namespace {

/// Keys' cubic convolution kernel, a = -0.5 (as sim::resample_bicubic).
inline double keys(double x) {
  x = std::abs(x);
  if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
  return 0;
}

/// Half-sample reflection into [0, n): -1 -> 0, n -> n - 1, periodic with period 2n beyond.
inline std::int64_t reflect(std::int64_t i, std::int64_t n) {
  if (i >= 0 && i < n) return i;
  std::int64_t m = i % (2 * n);
  if (m < 0) m += 2 * n;
  return m < n ? m : 2 * n - 1 - m;
}

/// Separable Gaussian blur with reflected edges; the kernel is cut at 4 sigma and normalised.
std::vector<float> gaussian_prefilter(const float* image, std::int64_t height, std::int64_t width, double sigma) {
  const int r = std::max(1, int(std::ceil(4 * sigma)));
  std::vector<double> k(std::size_t(2 * r + 1));
  double sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[std::size_t(i + r)] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (auto& v : k) v /= sum;
  std::vector<float> rows(std::size_t(height * width)), out(std::size_t(height * width));
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      double acc = 0;
      for (int i = -r; i <= r; ++i) acc += k[std::size_t(i + r)] * image[y * width + reflect(x + i, width)];
      rows[std::size_t(y * width + x)] = float(acc);
    }
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      double acc = 0;
      for (int i = -r; i <= r; ++i) acc += k[std::size_t(i + r)] * rows[std::size_t(reflect(y + i, height) * width + x)];
      out[std::size_t(y * width + x)] = float(acc);
    }
  return out;
}

/// Input pixels per output pixel along the direction M stretches most (largest singular value).
double largest_step(const CanonicalFrame& f, double pixel_A) {
  const double a = f.m[0][0], b = f.m[0][1], c = f.m[1][0], d = f.m[1][1];
  const double s = a * a + b * b + c * c + d * d, det = a * d - b * c;
  return pixel_A * std::sqrt(0.5 * (s + std::sqrt(std::max(0.0, s * s - 4 * det * det))));
}

void check(std::int64_t height, std::int64_t width, const CanonicalFrame& frame, int n, double pixel_A) {
  const std::string who = "canonical window: ";
  if (n < 1 || n > 4096) throw ConfigError(who + "size: expected 1 to 4096 pixels, found " + std::to_string(n));
  if (!(pixel_A > 0) || !std::isfinite(pixel_A)) throw ConfigError(who + "pixel_A: expected a positive size, found " + str::number(pixel_A));
  if (height < 1 || width < 1) throw InputError(who + "image: expected at least 1 x 1 pixels, found " + std::to_string(height) + " x " + std::to_string(width));
  const double det = frame.m[0][0] * frame.m[1][1] - frame.m[0][1] * frame.m[1][0];
  if (!std::isfinite(det) || det == 0) throw ConfigError(who + "frame: expected an invertible map, found determinant " + str::number(det));
}

}  // namespace

CanonicalSampler::CanonicalSampler(const float* image, std::int64_t height, std::int64_t width, const CanonicalFrame& frame, int n,
                                   double pixel_A)
    : frame_(frame), source_(image), height_(height), width_(width), n_(n) {
  check(height, width, frame, n, pixel_A);
  downsampling_ = largest_step(frame, pixel_A);
  // Smoothing of (D - 1) / 2 input pixels keeps what the output grid cannot hold from aliasing
  // while leaving the atomic contrast, far below the output's Nyquist frequency, nearly untouched.
  if (downsampling_ > 1.3) {
    sigma_px_ = (downsampling_ - 1) / 2;
    prefiltered_ = gaussian_prefilter(image, height, width, sigma_px_);
    source_ = prefiltered_.data();
  }
  const std::size_t count = std::size_t(n) * n;
  dx_.resize(count), dy_.resize(count), base_x_.resize(count), base_y_.resize(count), wx_.resize(4 * count), wy_.resize(4 * count);
  const double c = 0.5 * (n - 1);
  double max_x = 0, max_y = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const std::size_t p = std::size_t(i) * n + j;
      const double qx = (j - c) * pixel_A, qy = (i - c) * pixel_A;
      dx_[p] = frame.m[0][0] * qx + frame.m[0][1] * qy;
      dy_[p] = frame.m[1][0] * qx + frame.m[1][1] * qy;
      base_x_[p] = int(std::floor(dx_[p])), base_y_[p] = int(std::floor(dy_[p]));
      const double fx = dx_[p] - base_x_[p], fy = dy_[p] - base_y_[p];
      for (int t = 0; t < 4; ++t) wx_[4 * p + t] = float(keys(fx - (t - 1))), wy_[4 * p + t] = float(keys(fy - (t - 1)));
      max_x = std::max(max_x, std::abs(dx_[p])), max_y = std::max(max_y, std::abs(dy_[p]));
    }
  reach_x_ = int(std::ceil(max_x)) + 3, reach_y_ = int(std::ceil(max_y)) + 3;
}

void CanonicalSampler::sample(double centre_row, double centre_col, float* out) const {
  const double rr = std::round(centre_row), rc = std::round(centre_col);
  if (std::abs(centre_row - rr) > 1e-9 || std::abs(centre_col - rc) > 1e-9) return sample_general(centre_row, centre_col, out);
  const std::int64_t r0 = std::int64_t(rr), c0 = std::int64_t(rc);
  const std::size_t count = std::size_t(n_) * n_;
  const bool inside = r0 - reach_y_ >= 0 && r0 + reach_y_ < height_ && c0 - reach_x_ >= 0 && c0 + reach_x_ < width_;
  for (std::size_t p = 0; p < count; ++p) {
    const std::int64_t y = r0 + base_y_[p] - 1, x = c0 + base_x_[p] - 1;
    const float* wx = &wx_[4 * p];
    const float* wy = &wy_[4 * p];
    float acc = 0;
    if (inside || (y >= 0 && y + 3 < height_ && x >= 0 && x + 3 < width_)) {
      const float* s = source_ + y * width_ + x;
      for (int a = 0; a < 4; ++a, s += width_) acc += wy[a] * (wx[0] * s[0] + wx[1] * s[1] + wx[2] * s[2] + wx[3] * s[3]);
    } else {
      for (int a = 0; a < 4; ++a) {
        const float* s = source_ + reflect(y + a, height_) * width_;
        float row = 0;
        for (int b = 0; b < 4; ++b) row += wx[b] * s[reflect(x + b, width_)];
        acc += wy[a] * row;
      }
    }
    out[p] = acc;
  }
}

void CanonicalSampler::sample_general(double centre_row, double centre_col, float* out) const {
  // Whole-pixel part of the centre, and the window's offsets from it: 8 kernel weights per pixel,
  // and no reflection where the footprint lies inside the image (an anchored window's second sample).
  const double r0 = std::floor(centre_row), c0 = std::floor(centre_col);
  const double fr = centre_row - r0, fc = centre_col - c0;
  const std::int64_t ri = std::int64_t(r0), ci = std::int64_t(c0);
  const bool inside = ri - reach_y_ >= 0 && ri + reach_y_ + 1 < height_ && ci - reach_x_ >= 0 && ci + reach_x_ + 1 < width_;
  const std::size_t count = std::size_t(n_) * n_;
  for (std::size_t p = 0; p < count; ++p) {
    const double u = fc + dx_[p], v = fr + dy_[p];
    const double bu = std::floor(u), bv = std::floor(v);
    const double fx = u - bu, fy = v - bv;
    const double wx[4] = {keys(fx + 1), keys(fx), keys(fx - 1), keys(fx - 2)};
    const double wy[4] = {keys(fy + 1), keys(fy), keys(fy - 1), keys(fy - 2)};
    const std::int64_t x0 = ci + std::int64_t(bu) - 1, y0 = ri + std::int64_t(bv) - 1;
    double acc = 0;
    if (inside) {
      const float* s = source_ + y0 * width_ + x0;
      for (int a = 0; a < 4; ++a, s += width_) acc += wy[a] * (wx[0] * s[0] + wx[1] * s[1] + wx[2] * s[2] + wx[3] * s[3]);
    } else {
      for (int a = 0; a < 4; ++a) {
        const float* s = source_ + reflect(y0 + a, height_) * width_;
        double row = 0;
        for (int b = 0; b < 4; ++b) row += wx[b] * s[reflect(x0 + b, width_)];
        acc += wy[a] * row;
      }
    }
    out[p] = float(acc);
  }
}

void sample_canonical_window(const float* image, std::int64_t height, std::int64_t width, const CanonicalFrame& frame,
                             double centre_row, double centre_col, int n, double pixel_A, float* out) {
  check(height, width, frame, n, pixel_A);
  const double step = largest_step(frame, pixel_A);
  // Only the window's footprint (and the prefilter's reach) is prefiltered: a crop that holds both
  // gives the same values as the whole image would.
  const double sigma = step > 1.3 ? (step - 1) / 2 : 0;
  const double half_x = 0.5 * (n - 1) * pixel_A * (std::abs(frame.m[0][0]) + std::abs(frame.m[0][1]));
  const double half_y = 0.5 * (n - 1) * pixel_A * (std::abs(frame.m[1][0]) + std::abs(frame.m[1][1]));
  const int margin = 4 + (sigma > 0 ? std::max(1, int(std::ceil(4 * sigma))) : 0);
  const std::int64_t c0 = std::int64_t(std::floor(centre_col - half_x)) - margin, c1 = std::int64_t(std::ceil(centre_col + half_x)) + margin;
  const std::int64_t r0 = std::int64_t(std::floor(centre_row - half_y)) - margin, r1 = std::int64_t(std::ceil(centre_row + half_y)) + margin;
  if (sigma > 0 && r0 >= 0 && c0 >= 0 && r1 < height && c1 < width) {
    const std::int64_t h = r1 - r0 + 1, w = c1 - c0 + 1;
    std::vector<float> crop(std::size_t(h * w));
    for (std::int64_t y = 0; y < h; ++y) std::copy(image + (r0 + y) * width + c0, image + (r0 + y) * width + c0 + w, &crop[std::size_t(y * w)]);
    CanonicalSampler(crop.data(), h, w, frame, n, pixel_A).sample(centre_row - double(r0), centre_col - double(c0), out);
    return;
  }
  CanonicalSampler(image, height, width, frame, n, pixel_A).sample(centre_row, centre_col, out);
}

}  // namespace tmdflow::analysis
