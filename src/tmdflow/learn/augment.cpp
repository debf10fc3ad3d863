#include "tmdflow/learn/augment.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "tmdflow/core/error.hpp"
#include "tmdflow/par/random.hpp"

namespace tmdflow::learn {
namespace {

using Stream = par::rng::Stream;
constexpr std::uint64_t kAugmentStream = 0x617567;  // "aug"

double uniform_in(Stream& r, double lo, double hi) { return lo + (hi - lo) * r.uniform(); }
int integer_upto(Stream& r, int most) { return most <= 0 ? 0 : int(r.uniform() * double(most + 1)) % (most + 1); }

struct Plane {
  float* data;
  std::int64_t height, width;
  float& at(std::int64_t y, std::int64_t x) { return data[y * width + x]; }
};

// Bilinear sample with edges clamped.
float bilinear(const float* in, std::int64_t h, std::int64_t w, double y, double x) {
  y = std::clamp(y, 0.0, double(h - 1));
  x = std::clamp(x, 0.0, double(w - 1));
  const std::int64_t y0 = std::int64_t(y), x0 = std::int64_t(x);
  const std::int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
  const double fy = y - double(y0), fx = x - double(x0);
  return float((1 - fy) * ((1 - fx) * in[y0 * w + x0] + fx * in[y0 * w + x1]) + fy * ((1 - fx) * in[y1 * w + x0] + fx * in[y1 * w + x1]));
}

void scale_planes(std::vector<float>& data, std::int64_t planes, std::int64_t h, std::int64_t w, double s, bool nearest) {
  std::vector<float> out(data.size());
  const double cy = 0.5 * double(h - 1), cx = 0.5 * double(w - 1);
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* in = data.data() + p * h * w;
    float* o = out.data() + p * h * w;
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) {
        const double sy = cy + (double(y) - cy) / s, sx = cx + (double(x) - cx) / s;
        if (nearest) {
          const std::int64_t ny = std::clamp<std::int64_t>(std::llround(sy), 0, h - 1);
          const std::int64_t nx = std::clamp<std::int64_t>(std::llround(sx), 0, w - 1);
          o[y * w + x] = in[ny * w + nx];
        } else {
          o[y * w + x] = bilinear(in, h, w, sy, sx);
        }
      }
  }
  data.swap(out);
}

std::vector<float> crop_planes(const std::vector<float>& data, std::int64_t planes, std::int64_t h, std::int64_t w,
                               std::int64_t y0, std::int64_t x0, std::int64_t size) {
  std::vector<float> out(std::size_t(planes * size * size));
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t y = 0; y < size; ++y)
      std::copy_n(data.data() + p * h * w + (y0 + y) * w + x0, size, out.data() + (p * size + y) * size);
  return out;
}

void blur_plane(Plane img, double sigma) {
  const int radius = std::max(1, int(std::ceil(3.0 * sigma)));
  std::vector<double> k(std::size_t(2 * radius + 1));
  double sum = 0;
  for (int i = -radius; i <= radius; ++i) sum += k[std::size_t(i + radius)] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (double& v : k) v /= sum;
  std::vector<float> tmp(std::size_t(img.height * img.width));
  for (std::int64_t y = 0; y < img.height; ++y)  // along x
    for (std::int64_t x = 0; x < img.width; ++x) {
      double acc = 0;
      for (int i = -radius; i <= radius; ++i) acc += k[std::size_t(i + radius)] * img.at(y, std::clamp<std::int64_t>(x + i, 0, img.width - 1));
      tmp[std::size_t(y * img.width + x)] = float(acc);
    }
  for (std::int64_t y = 0; y < img.height; ++y)  // along y
    for (std::int64_t x = 0; x < img.width; ++x) {
      double acc = 0;
      for (int i = -radius; i <= radius; ++i)
        acc += k[std::size_t(i + radius)] * tmp[std::size_t(std::clamp<std::int64_t>(y + i, 0, img.height - 1) * img.width + x)];
      img.at(y, x) = float(acc);
    }
}

// Adds amplitude * exp(-r^2 / 2 sigma^2) * weight(value) around (cy, cx), within 4 sigma.
template <class Weight>
void add_spot(Plane img, double cy, double cx, double sigma, double amplitude, Weight weight) {
  const std::int64_t r = std::int64_t(std::ceil(4 * sigma));
  for (std::int64_t y = std::max<std::int64_t>(0, std::int64_t(cy) - r); y <= std::min(img.height - 1, std::int64_t(cy) + r); ++y)
    for (std::int64_t x = std::max<std::int64_t>(0, std::int64_t(cx) - r); x <= std::min(img.width - 1, std::int64_t(cx) + r); ++x) {
      const double d2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
      float& v = img.at(y, x);
      v = float(v + amplitude * std::exp(-0.5 * d2 / (sigma * sigma)) * weight(v));
    }
}

void check_range(double lo, double hi, const char* what, double floor) {
  if (!(lo >= floor) || !(hi >= lo))
    throw ConfigError(std::string("augmentation: ") + what + ": expected " + std::to_string(floor) + " <= min <= max, found " +
                      std::to_string(lo) + ", " + std::to_string(hi));
}
void check_probability(double p, const char* what) {
  if (!(p >= 0 && p <= 1)) throw ConfigError(std::string("augmentation: ") + what + ": expected a probability in [0, 1], found " + std::to_string(p));
}

}  // namespace

void Dihedral::map_vector(double& dx, double& dy) const {
  if (flip) dx = -dx;
  for (int k = 0; k < rotations; ++k) {
    const double nx = dy, ny = -dx;
    dx = nx;
    dy = ny;
  }
}

std::vector<float> apply_dihedral(const Dihedral& d, const std::vector<float>& image, std::int64_t channels, std::int64_t& height,
                                  std::int64_t& width) {
  const std::int64_t h = height, w = width;
  const bool swap = d.rotations % 2 == 1;
  const std::int64_t oh = swap ? w : h, ow = swap ? h : w;
  std::vector<float> out(image.size());
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      std::int64_t py = y, px = d.flip ? w - 1 - x : x, ph = h, pw = w;
      for (int k = 0; k < d.rotations; ++k) {  // (y, x) in (ph, pw) -> (pw-1-x, y) in (pw, ph)
        const std::int64_t ny = pw - 1 - px, nx = py;
        py = ny;
        px = nx;
        std::swap(ph, pw);
      }
      for (std::int64_t c = 0; c < channels; ++c) out[std::size_t((c * oh + py) * ow + px)] = image[std::size_t((c * h + y) * w + x)];
    }
  height = oh;
  width = ow;
  return out;
}

bool AugmentOptions::any() const {
  return dihedral || scale_min != 1.0 || scale_max != 1.0 || crop_px > 0 || blur_probability > 0 || contamination_max > 0 ||
         vacancies_max > 0 || mask_probability > 0 || noise_probability > 0;
}

void AugmentOptions::validate() const {
  check_range(scale_min, scale_max, "scale", 1e-3);
  if (crop_px < 0) throw ConfigError("augmentation: crop: expected a size >= 0 pixels, found " + std::to_string(crop_px));
  check_probability(blur_probability, "blur probability");
  check_range(0.0, blur_sigma_max_px, "blur sigma", 0.0);
  check_range(contamination_sigma_min_px, contamination_sigma_max_px, "contamination sigma", 1e-3);
  if (vacancies_max < 0 || contamination_max < 0) throw ConfigError("augmentation: spot counts must be >= 0");
  check_range(0.0, vacancy_depth, "vacancy depth", 0.0);
  check_probability(mask_probability, "mask probability");
  check_range(mask_fraction_min, mask_fraction_max, "mask fraction", 0.0);
  if (mask_fraction_max > 1) throw ConfigError("augmentation: mask fraction: expected <= 1, found " + std::to_string(mask_fraction_max));
  check_probability(noise_probability, "noise probability");
  check_probability(poisson_fraction, "Poisson fraction");
  check_range(psnr_min_db, psnr_max_db, "PSNR", 0.0);
}

void augment(Sample& s, const AugmentOptions& o, std::uint64_t seed, std::int64_t epoch) {
  if (!o.any()) return;
  Stream r(par::rng::key(seed, kAugmentStream, std::uint64_t(epoch), std::uint64_t(s.index)));
  const bool map = s.target_kind == TargetKind::map;

  if (o.dihedral) {
    Dihedral d;
    const bool square = s.height == s.width;
    d.rotations = square ? int(r() % 4) : 2 * int(r() % 2);
    d.flip = r() % 2 == 1;
    std::int64_t h = s.height, w = s.width;
    s.input = apply_dihedral(d, s.input, s.channels, h, w);
    if (map) {
      std::int64_t mh = s.height, mw = s.width;
      s.target = apply_dihedral(d, s.target, s.target_channels, mh, mw);
    } else if (o.transform_target) {
      o.transform_target(d, s.target);
    }
    s.height = h;
    s.width = w;
  }
  if (o.scale_min != 1.0 || o.scale_max != 1.0) {
    const double f = std::exp(uniform_in(r, std::log(o.scale_min), std::log(o.scale_max)));  // log-uniform: zoom in and out alike
    scale_planes(s.input, s.channels, s.height, s.width, f, false);
    if (map) scale_planes(s.target, s.target_channels, s.height, s.width, f, true);
  }
  if (o.crop_px > 0) {
    if (o.crop_px > s.height || o.crop_px > s.width)
      throw ConfigError("augmentation: crop of " + std::to_string(o.crop_px) + " pixels: expected at most the sample's " +
                        std::to_string(s.height) + " x " + std::to_string(s.width));
    const std::int64_t y0 = std::int64_t(r() % std::uint64_t(s.height - o.crop_px + 1));
    const std::int64_t x0 = std::int64_t(r() % std::uint64_t(s.width - o.crop_px + 1));
    s.input = crop_planes(s.input, s.channels, s.height, s.width, y0, x0, o.crop_px);
    if (map) s.target = crop_planes(s.target, s.target_channels, s.height, s.width, y0, x0, o.crop_px);
    s.height = s.width = o.crop_px;
  }

  for (std::int64_t c = 0; c < s.channels; ++c) {
    // One stream per channel, so channels get independent noise but the same geometry.
    Stream rc(par::rng::key(seed, kAugmentStream, std::uint64_t(epoch), std::uint64_t(s.index), std::uint64_t(c) + 1));
    Plane img{s.input.data() + c * s.height * s.width, s.height, s.width};
    const std::size_t n = std::size_t(s.height * s.width);
    const auto [lo_it, hi_it] = std::minmax_element(img.data, img.data + n);
    const double lo = *lo_it, range = std::max(double(*hi_it) - lo, 1e-12);

    if (rc.uniform() < o.blur_probability) blur_plane(img, std::max(1e-3, uniform_in(rc, 0, o.blur_sigma_max_px)));
    for (int k = integer_upto(rc, o.contamination_max); k > 0; --k) {
      const double cy = uniform_in(rc, 0, double(s.height)), cx = uniform_in(rc, 0, double(s.width));
      const double sigma = uniform_in(rc, o.contamination_sigma_min_px, o.contamination_sigma_max_px);
      add_spot(img, cy, cx, sigma, uniform_in(rc, 0, o.contamination_amplitude) * range, [](float) { return 1.0; });
    }
    for (int k = integer_upto(rc, o.vacancies_max); k > 0; --k) {
      const double cy = uniform_in(rc, 0, double(s.height)), cx = uniform_in(rc, 0, double(s.width));
      const double depth = uniform_in(rc, 0.5 * o.vacancy_depth, o.vacancy_depth);
      add_spot(img, cy, cx, o.vacancy_sigma_px, -depth, [lo](float v) { return std::max(0.0, double(v) - lo); });
    }
    if (rc.uniform() < o.mask_probability) {
      const double mean = std::accumulate(img.data, img.data + n, 0.0) / double(n);
      const auto mh = std::max<std::int64_t>(1, std::int64_t(uniform_in(rc, o.mask_fraction_min, o.mask_fraction_max) * double(s.height)));
      const auto mw = std::max<std::int64_t>(1, std::int64_t(uniform_in(rc, o.mask_fraction_min, o.mask_fraction_max) * double(s.width)));
      const std::int64_t y0 = std::int64_t(rc() % std::uint64_t(s.height - mh + 1)), x0 = std::int64_t(rc() % std::uint64_t(s.width - mw + 1));
      for (std::int64_t y = y0; y < y0 + mh; ++y)
        for (std::int64_t x = x0; x < x0 + mw; ++x) img.at(y, x) = float(mean);
    }
    if (rc.uniform() < o.noise_probability) {
      const double psnr = uniform_in(rc, o.psnr_min_db, o.psnr_max_db);
      if (rc.uniform() < o.poisson_fraction) {
        const double peak_counts = std::pow(10.0, psnr / 10.0);  // Poisson PSNR at the peak: 10 log10(counts)
        for (std::size_t i = 0; i < n; ++i) {
          const double mean = std::max(0.0, (double(img.data[i]) - lo) / range * peak_counts);
          std::poisson_distribution<long> draw(std::max(mean, 1e-12));
          img.data[i] = float(lo + double(draw(rc)) / peak_counts * range);
        }
      } else {
        const double sigma = range / std::pow(10.0, psnr / 20.0);
        for (std::size_t i = 0; i < n; ++i) img.data[i] = float(img.data[i] + sigma * rc.normal());
      }
    }
  }
}

}  // namespace tmdflow::learn
