#pragma once
// PNG figures next to the HDF5 products: grey-scale images with robust contrast, log-scaled
// diffraction patterns, colour maps (cyclic for angles, two colours for polarity, categorical for
// labels) and vector fields (direction as hue, magnitude as value). Written atomically.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tmdflow::io {

/// 8-bit RGB image, row-major (y rows, x columns).
struct RgbImage {
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> rgb;  // 3 * height * width
};

enum class Scaling { linear, percentile, log };

/// Grey image of `values` (height x width) with NaN shown black. `percentile` clips to the
/// 0.5-99.5 % range; `log` shows log(1 + v - min) (diffraction patterns).
RgbImage grey_image(const std::vector<float>& values, std::int64_t height, std::int64_t width, Scaling scaling);
/// Values in [0, period) on a cyclic colour wheel; NaN black.
RgbImage cyclic_image(const std::vector<float>& values, std::int64_t height, std::int64_t width, float period);
/// Integer labels with a categorical palette (label < 0 black).
RgbImage label_image(const std::vector<std::int32_t>& labels, std::int64_t height, std::int64_t width);
/// A 2-D vector field (x, y components): hue from direction atan2(y, x), value from magnitude.
RgbImage vector_image(const std::vector<float>& vx, const std::vector<float>& vy, std::int64_t height, std::int64_t width);

/// Nearest-neighbour upscaling so small maps stay visible (integer factor).
RgbImage upscale(const RgbImage& img, int factor);
/// Images side by side in a grid with `columns` columns and a gap of `gap` pixels.
RgbImage montage(const std::vector<RgbImage>& tiles, int columns, int gap = 4);

/// HSV (h in [0, 1)) to RGB.
std::array<std::uint8_t, 3> hsv_to_rgb(float h, float s, float v);

/// Writes a PNG (libpng), through a temporary file renamed on success. Throws IoError.
void write_png(const std::string& path, const RgbImage& img);
/// Reads an 8- or 16-bit PNG as grey float values (RGB averaged); for tests and image ingest.
std::vector<float> read_png_grey(const std::string& path, std::int64_t& height, std::int64_t& width);

}  // namespace tmdflow::io
