#include "tmdflow/io/figure.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "tmdflow/core/error.hpp"

namespace tmdflow::io {
namespace {

std::uint8_t to8(double f) { return std::uint8_t(std::clamp(int(std::lround(f * 255.0)), 0, 255)); }

std::pair<float, float> quantile_range(const std::vector<float>& v, double lo_frac, double hi_frac) {
  std::vector<float> f;
  f.reserve(v.size());
  for (float x : v)
    if (std::isfinite(x)) f.push_back(x);
  if (f.empty()) return {0.0f, 1.0f};
  auto at = [&](double frac) {
    const std::size_t k = std::size_t(std::clamp(frac, 0.0, 1.0) * double(f.size() - 1));
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

RgbImage blank(std::int64_t h, std::int64_t w) { return RgbImage{h, w, std::vector<std::uint8_t>(std::size_t(3 * h * w), 0)}; }

void put(RgbImage& img, std::size_t i, Rgb c) { std::copy(c.begin(), c.end(), img.rgb.begin() + std::ptrdiff_t(3 * i)); }

}  // namespace

Rgb ramp_colour(Ramp ramp, double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  if (ramp == Ramp::grey) return {to8(t), to8(t), to8(t)};
  // heat: piecewise linear through black, dark red, orange, yellow, white.
  static const double at[5] = {0.0, 0.35, 0.65, 0.9, 1.0};
  static const double rgb[5][3] = {{0, 0, 0}, {0.6, 0.08, 0.1}, {0.93, 0.45, 0.08}, {0.98, 0.87, 0.35}, {1, 1, 1}};
  int k = 0;
  while (k < 3 && t > at[k + 1]) ++k;
  const double s = (t - at[k]) / (at[k + 1] - at[k]);
  return {to8(rgb[k][0] + s * (rgb[k + 1][0] - rgb[k][0])), to8(rgb[k][1] + s * (rgb[k + 1][1] - rgb[k][1])),
          to8(rgb[k][2] + s * (rgb[k + 1][2] - rgb[k][2]))};
}

double ColourScale::position(double v) const {
  if (!std::isfinite(v)) return std::numeric_limits<double>::quiet_NaN();
  double t = 0;
  if (log10) t = (std::log10(std::max(v, lo)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  else t = (v - lo) / (hi - lo);
  return std::clamp(t, 0.0, 1.0);
}

ColourScale robust_scale(const std::vector<float>& values, double lo_frac, double hi_frac, Ramp ramp) {
  const auto [lo, hi] = quantile_range(values, lo_frac, hi_frac);
  return ColourScale{lo, hi, false, ramp};
}

ColourScale log_scale(const std::vector<float>& values, Ramp ramp, double max_decades) {
  std::vector<float> positive;
  for (float v : values)
    if (std::isfinite(v) && v > 0) positive.push_back(v);
  if (positive.empty()) return ColourScale{1e-3, 1.0, true, ramp};
  const auto mid = positive.begin() + std::ptrdiff_t(positive.size() / 2);
  std::nth_element(positive.begin(), mid, positive.end());
  const double median = *mid, hi = *std::max_element(positive.begin(), positive.end());
  const double lo = std::clamp(median, hi * std::pow(10.0, -max_decades), hi / 10.0);
  return ColourScale{lo, hi, true, ramp};
}

Rgb hsv_to_rgb(float h, float s, float v) {
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
  return {to8(r + m), to8(g + m), to8(b + m)};
}

Rgb angle_colour(double angle_deg, double period_deg) { return hsv_to_rgb(float(angle_deg / period_deg), 0.85f, 0.95f); }

Rgb label_colour(std::int32_t id) {
  // Twelve colours picked to be told apart at a glance (and from black, "no data"); further ids
  // step through hues by the golden ratio, every 7 ids darker.
  static const Rgb first[12] = {{230, 75, 60},  {55, 120, 220},  {95, 185, 75},   {245, 170, 40},  {150, 85, 195},  {70, 200, 205},
                                {235, 120, 190}, {150, 105, 60},  {200, 205, 65},  {130, 130, 130}, {30, 95, 70},    {250, 215, 160}};
  if (id >= 0 && id < 12) return first[id];
  const float hue = std::fmod(0.61803398875f * float(id) + 0.1f, 1.0f);
  const float val = (id / 7) % 2 ? 0.7f : 0.95f;
  return hsv_to_rgb(hue, 0.75f, val);
}

Rgb polarity_colour(int polarity) { return polarity > 0 ? Rgb{235, 140, 30} : Rgb{45, 110, 215}; }

Rgb vector_colour(double dx, double dy, double m) {
  const double turn = std::atan2(dy, dx) / (2.0 * 3.14159265358979323846);
  return hsv_to_rgb(float(turn), 0.9f, float(std::clamp(m, 0.0, 1.0)));
}

RgbImage scaled_image(const std::vector<float>& values, std::int64_t h, std::int64_t w, const ColourScale& scale) {
  RgbImage img = blank(h, w);
  for (std::size_t i = 0; i < values.size() && i < std::size_t(h * w); ++i) {
    const double t = scale.position(values[i]);
    put(img, i, std::isfinite(t) ? ramp_colour(scale.ramp, t) : no_data_colour);
  }
  return img;
}

RgbImage angle_image(const std::vector<float>& angles, std::int64_t h, std::int64_t w, double period) {
  RgbImage img = blank(h, w);
  for (std::size_t i = 0; i < angles.size() && i < std::size_t(h * w); ++i)
    put(img, i, std::isfinite(angles[i]) ? angle_colour(angles[i], period) : no_data_colour);
  return img;
}

RgbImage label_image(const std::vector<std::int32_t>& labels, std::int64_t h, std::int64_t w, const std::vector<std::int32_t>& display_id) {
  RgbImage img = blank(h, w);
  for (std::size_t i = 0; i < labels.size() && i < std::size_t(h * w); ++i) {
    std::int32_t l = labels[i];
    if (l >= 0 && !display_id.empty()) l = std::size_t(l) < display_id.size() ? display_id[std::size_t(l)] : -1;
    put(img, i, l >= 0 ? label_colour(l) : no_data_colour);
  }
  return img;
}

RgbImage polarity_image(const std::vector<std::int8_t>& polarity, std::int64_t h, std::int64_t w) {
  RgbImage img = blank(h, w);
  for (std::size_t i = 0; i < polarity.size() && i < std::size_t(h * w); ++i)
    put(img, i, polarity[i] != 0 ? polarity_colour(polarity[i]) : no_data_colour);
  return img;
}

RgbImage vector_image(const std::vector<float>& vx, const std::vector<float>& vy, std::int64_t h, std::int64_t w, double full) {
  RgbImage img = blank(h, w);
  for (std::size_t i = 0; i < vx.size() && i < vy.size() && i < std::size_t(h * w); ++i) {
    const double m = std::hypot(double(vx[i]), double(vy[i]));
    put(img, i, std::isfinite(m) ? vector_colour(vx[i], vy[i], full > 0 ? m / full : 0.0) : no_data_colour);
  }
  return img;
}

void write_png(const std::string& path, const RgbImage& img, const std::vector<std::pair<std::string, std::string>>& text) {
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
  // Rows filtered None, Sub or Up only: figures of flat colour areas compress as well as with all
  // five filters, and a small decoder (the end-to-end tests' numpy one) reads them fast.
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE | PNG_FILTER_SUB | PNG_FILTER_UP);
  // iTXt (UTF-8) chunks: captions hold units such as 1/Angstrom written with their own symbols.
  std::vector<png_text> chunks(text.size());
  for (std::size_t k = 0; k < text.size(); ++k) {
    chunks[k] = png_text{};
    chunks[k].compression = PNG_ITXT_COMPRESSION_NONE;
    chunks[k].key = const_cast<png_charp>(text[k].first.c_str());
    chunks[k].text = const_cast<png_charp>(text[k].second.c_str());
    chunks[k].itxt_length = text[k].second.size();
  }
  if (!chunks.empty()) png_set_text(png, info, chunks.data(), int(chunks.size()));
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

RgbImage read_png_rgb(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    throw InputError(path + ": expected a PNG image, found " + (image.message[0] ? image.message : "an unreadable file"));
  image.format = PNG_FORMAT_RGB;
  RgbImage img{std::int64_t(image.height), std::int64_t(image.width), {}};
  img.rgb.resize(std::size_t(3 * img.height * img.width));
  if (!png_image_finish_read(&image, nullptr, img.rgb.data(), 0, nullptr)) throw InputError(path + ": " + image.message);
  return img;
}

std::vector<std::pair<std::string, std::string>> read_png_text(const std::string& path) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) throw IoError(path + ": cannot open for reading");
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::fclose(fp);
    throw InputError(path + ": expected a PNG image, found an unreadable file");
  }
  png_init_io(png, fp);
  png_read_info(png, info);
  png_textp chunks = nullptr;
  const int n = png_get_text(png, info, &chunks, nullptr);
  std::vector<std::pair<std::string, std::string>> out;
  for (int k = 0; k < n; ++k) out.emplace_back(chunks[k].key, std::string(chunks[k].text, chunks[k].text + (chunks[k].itxt_length ? chunks[k].itxt_length : chunks[k].text_length)));
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(fp);
  return out;
}

}  // namespace tmdflow::io
