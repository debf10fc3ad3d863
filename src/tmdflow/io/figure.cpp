#include "tmdflow/io/figure.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "tmdflow/core/error.hpp"

namespace tmdflow::io {
namespace {

std::pair<float, float> finite_range(const std::vector<float>& v, double lo_frac, double hi_frac) {
  std::vector<float> f;
  f.reserve(v.size());
  for (float x : v)
    if (std::isfinite(x)) f.push_back(x);
  if (f.empty()) return {0.0f, 1.0f};
  auto at = [&](double frac) {
    std::size_t k = std::size_t(std::clamp(frac, 0.0, 1.0) * double(f.size() - 1));
    std::nth_element(f.begin(), f.begin() + std::ptrdiff_t(k), f.end());
    return f[k];
  };
  float lo = at(lo_frac), hi = at(hi_frac);
  if (!(hi > lo)) {
    lo = *std::min_element(f.begin(), f.end());
    hi = *std::max_element(f.begin(), f.end());
    if (!(hi > lo)) hi = lo + 1.0f;
  }
  return {lo, hi};
}

}  // namespace

std::array<std::uint8_t, 3> hsv_to_rgb(float h, float s, float v) {
  h = h - std::floor(h);
  const float c = v * s;
  const float hp = h * 6.0f;
  const float x = c * (1.0f - std::fabs(std::fmod(hp, 2.0f) - 1.0f));
  float r = 0, g = 0, b = 0;
  if (hp < 1) { r = c; g = x; }
  else if (hp < 2) { r = x; g = c; }
  else if (hp < 3) { g = c; b = x; }
  else if (hp < 4) { g = x; b = c; }
  else if (hp < 5) { r = x; b = c; }
  else { r = c; b = x; }
  const float m = v - c;
  auto to8 = [](float f) { return std::uint8_t(std::clamp(int(std::lround(f * 255.0f)), 0, 255)); };
  return {to8(r + m), to8(g + m), to8(b + m)};
}

RgbImage grey_image(const std::vector<float>& values, std::int64_t h, std::int64_t w, Scaling scaling) {
  RgbImage img{h, w, std::vector<std::uint8_t>(std::size_t(3 * h * w), 0)};
  std::vector<float> v = values;
  if (scaling == Scaling::log) {
    float mn = std::numeric_limits<float>::infinity();
    for (float x : v)
      if (std::isfinite(x)) mn = std::min(mn, x);
    for (float& x : v)
      if (std::isfinite(x)) x = std::log1p(std::max(0.0f, x - mn));
  }
  auto [lo, hi] = scaling == Scaling::percentile ? finite_range(v, 0.005, 0.995) : finite_range(v, 0.0, 1.0);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) continue;
    const float t = std::clamp((v[i] - lo) / (hi - lo), 0.0f, 1.0f);
    const auto g = std::uint8_t(std::lround(t * 255.0f));
    img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = g;
  }
  return img;
}

RgbImage cyclic_image(const std::vector<float>& values, std::int64_t h, std::int64_t w, float period) {
  RgbImage img{h, w, std::vector<std::uint8_t>(std::size_t(3 * h * w), 0)};
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) continue;
    auto c = hsv_to_rgb(values[i] / period, 0.85f, 0.95f);
    std::copy(c.begin(), c.end(), img.rgb.begin() + std::ptrdiff_t(3 * i));
  }
  return img;
}

RgbImage label_image(const std::vector<std::int32_t>& labels, std::int64_t h, std::int64_t w) {
  RgbImage img{h, w, std::vector<std::uint8_t>(std::size_t(3 * h * w), 0)};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    // Golden-ratio hues: neighbouring labels get distinct colours.
    const float hue = std::fmod(0.61803398875f * float(labels[i]) + 0.1f, 1.0f);
    const float val = (labels[i] / 7) % 2 ? 0.7f : 0.95f;
    auto c = hsv_to_rgb(hue, 0.75f, val);
    std::copy(c.begin(), c.end(), img.rgb.begin() + std::ptrdiff_t(3 * i));
  }
  return img;
}

RgbImage vector_image(const std::vector<float>& vx, const std::vector<float>& vy, std::int64_t h, std::int64_t w) {
  RgbImage img{h, w, std::vector<std::uint8_t>(std::size_t(3 * h * w), 0)};
  std::vector<float> mag(vx.size());
  for (std::size_t i = 0; i < vx.size(); ++i) mag[i] = std::hypot(vx[i], vy[i]);
  const float hi = finite_range(mag, 0.0, 0.99).second;
  for (std::size_t i = 0; i < vx.size(); ++i) {
    if (!std::isfinite(mag[i])) continue;
    const float hue = (std::atan2(vy[i], vx[i]) + 3.14159265f) / (2.0f * 3.14159265f);
    auto c = hsv_to_rgb(hue, 0.9f, std::clamp(mag[i] / hi, 0.0f, 1.0f));
    std::copy(c.begin(), c.end(), img.rgb.begin() + std::ptrdiff_t(3 * i));
  }
  return img;
}

RgbImage upscale(const RgbImage& img, int f) {
  if (f <= 1) return img;
  RgbImage out{img.height * f, img.width * f, std::vector<std::uint8_t>(std::size_t(3 * img.height * f * img.width * f))};
  for (std::int64_t y = 0; y < out.height; ++y)
    for (std::int64_t x = 0; x < out.width; ++x)
      for (int c = 0; c < 3; ++c)
        out.rgb[std::size_t(3 * (y * out.width + x) + c)] = img.rgb[std::size_t(3 * ((y / f) * img.width + x / f) + c)];
  return out;
}

RgbImage montage(const std::vector<RgbImage>& tiles, int columns, int gap) {
  if (tiles.empty()) return {};
  std::int64_t th = 0, tw = 0;
  for (const auto& t : tiles) {
    th = std::max(th, t.height);
    tw = std::max(tw, t.width);
  }
  const int n = int(tiles.size());
  const int cols = std::max(1, std::min(columns, n));
  const int rows = (n + cols - 1) / cols;
  RgbImage out{rows * th + (rows - 1) * gap, cols * tw + (cols - 1) * gap, {}};
  out.rgb.assign(std::size_t(3 * out.height * out.width), 255);
  for (int k = 0; k < n; ++k) {
    const std::int64_t oy = (k / cols) * (th + gap), ox = (k % cols) * (tw + gap);
    const auto& t = tiles[std::size_t(k)];
    for (std::int64_t y = 0; y < t.height; ++y)
      std::copy_n(t.rgb.begin() + std::ptrdiff_t(3 * y * t.width), 3 * t.width,
                  out.rgb.begin() + std::ptrdiff_t(3 * ((oy + y) * out.width + ox)));
  }
  return out;
}

void write_png(const std::string& path, const RgbImage& img) {
  if (img.height <= 0 || img.width <= 0) throw IoError(path + ": cannot write an empty image");
  const std::string tmp = path + ".tmp";
  std::FILE* fp = std::fopen(tmp.c_str(), "wb");
  if (!fp) throw IoError(path + ": cannot open for writing");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(fp);
    std::remove(tmp.c_str());
    throw IoError(path + ": libpng failed to write the image");
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, png_uint_32(img.width), png_uint_32(img.height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (std::int64_t y = 0; y < img.height; ++y)
    png_write_row(png, const_cast<png_bytep>(img.rgb.data() + 3 * y * img.width));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  if (std::fclose(fp) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot finish writing the PNG");
  }
}

std::vector<float> read_png_grey(const std::string& path, std::int64_t& height, std::int64_t& width) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    throw InputError(path + ": expected a PNG image, found " + (image.message[0] ? image.message : "an unreadable file"));
  const bool sixteen = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
  image.format = sixteen ? PNG_FORMAT_LINEAR_Y : PNG_FORMAT_GRAY;
  height = image.height;
  width = image.width;
  std::vector<float> out(std::size_t(height * width));
  if (sixteen) {
    std::vector<png_uint_16> buf(out.size());
    if (!png_image_finish_read(&image, nullptr, buf.data(), 0, nullptr)) throw InputError(path + ": " + image.message);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = float(buf[i]);
  } else {
    std::vector<png_byte> buf(out.size());
    if (!png_image_finish_read(&image, nullptr, buf.data(), 0, nullptr)) throw InputError(path + ": " + image.message);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = float(buf[i]);
  }
  return out;
}

}  // namespace tmdflow::io
