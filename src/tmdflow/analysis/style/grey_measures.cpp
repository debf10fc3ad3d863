#include "tmdflow/analysis/style/grey_measures.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis {

int GreyScale::bin(double v) const {
  const double step = integer_levels ? (hi - lo) / std::max(1, bins - 1) : (hi - lo) / bins;
  const double start = integer_levels ? lo - step / 2 : lo;
  const double k = step > 0 ? std::floor((v - start) / step) : 0.0;
  return int(std::clamp(k, 0.0, double(bins - 1)));
}

double GreyScale::stored(double v) const {
  v = std::clamp(v, lo, hi);
  return integer_levels ? std::round(v) : v;
}

GreyScale grey_scale_of(const std::vector<const float*>& images, std::size_t n) {
  bool eight_bit = true;
  std::vector<float> all;
  all.reserve(images.size() * n);
  for (const float* im : images)
    for (std::size_t p = 0; p < n; ++p) {
      const float v = im[p];
      if (!std::isfinite(v)) throw InputError("grey scale: expected finite pixel values, found " + std::to_string(v));
      if (eight_bit && !(v >= 0 && v <= 255 && v == std::round(v))) eight_bit = false;
      all.push_back(v);
    }
  GreyScale s;
  if (eight_bit) return s;
  // Quantiles by selection (the 0.1 % and 99.9 % values).
  auto quantile = [&](double q) {
    const std::size_t k = std::min(all.size() - 1, std::size_t(q * double(all.size() - 1) + 0.5));
    std::nth_element(all.begin(), all.begin() + std::ptrdiff_t(k), all.end());
    return double(all[k]);
  };
  if (all.empty()) throw InputError("grey scale: expected at least one pixel, found none");
  s.lo = quantile(0.001);
  s.hi = quantile(0.999);
  if (!(s.hi > s.lo)) throw InputError("grey scale: expected an image with contrast, found every pixel (but outliers) at " + std::to_string(s.lo));
  s.integer_levels = false;
  return s;
}

std::vector<double> grey_histogram(const float* v, std::size_t n, const GreyScale& s) {
  std::vector<double> h(std::size_t(s.bins), 0.0);
  for (std::size_t p = 0; p < n; ++p) h[std::size_t(s.bin(v[p]))] += 1;
  return h;
}

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q, double pseudo) {
  if (p.size() != q.size() || p.empty())
    throw InputError("KL divergence: expected two histograms of the same length, found " + std::to_string(p.size()) + " and " +
                     std::to_string(q.size()) + " bins");
  double np = 0, nq = 0;
  for (std::size_t k = 0; k < p.size(); ++k) np += p[k] + pseudo, nq += q[k] + pseudo;
  double kl = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    const double pk = (p[k] + pseudo) / np, qk = (q[k] + pseudo) / nq;
    if (pk > 0) kl += pk * std::log(pk / qk);
  }
  return std::max(0.0, kl);
}

double line_roughness(const float* image, int ny, int nx, const GreyScale& s) {
  if (ny < 1 || nx < 1) return 0;
  std::vector<double> line;
  double sum = 0;
  std::size_t lines = 0;
  auto profile = [&](std::size_t start, std::size_t stride, int n) {
    line.resize(std::size_t(n));
    double mean = 0, lo = HUGE_VAL, hi = -HUGE_VAL;
    for (int k = 0; k < n; ++k) {
      const double v = s.stored(image[start + std::size_t(k) * stride]);
      line[std::size_t(k)] = v, mean += v, lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (!(hi > lo)) return;
    mean /= n;
    double dev = 0;
    for (double v : line) dev += std::abs(v - mean);
    sum += dev / n / (hi - lo);
    ++lines;
  };
  for (int i = 0; i < ny; ++i) profile(std::size_t(i) * nx, 1, nx);
  for (int j = 0; j < nx; ++j) profile(std::size_t(j), std::size_t(nx), ny);
  return lines ? sum / double(lines) : 0.0;
}

}  // namespace tmdflow::analysis
