#pragma once
// Rasters of the PNG figures and the colour rules every figure shares: a value scale (linear or
// log10, with the ramp a colour bar shows), cyclic colours for angles, a categorical palette for
// labels, two colours for polarity, and direction/magnitude colours for vector fields. PNGs are
// written atomically (temporary file, rename) with text chunks (title, caption, layout).
// The figure composition (titles, axes, keys) is plot.hpp.
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tmdflow::io {

using Rgb = std::array<std::uint8_t, 3>;

/// 8-bit RGB image, row-major (y rows, x columns).
struct RgbImage {
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> rgb;  // 3 * height * width
  Rgb at(std::int64_t y, std::int64_t x) const {
    const auto* p = &rgb[std::size_t(3 * (y * width + x))];
    return {p[0], p[1], p[2]};
  }
};

/// Colour ramps of continuous values: grey (intensities, as microscopists show them) and heat
/// (black, red, orange, yellow, white: values that are not intensities, e.g. a probability).
enum class Ramp { grey, heat };
Rgb ramp_colour(Ramp ramp, double t);  // t in [0, 1], clamped

/// A map from values to colours, shared by an image and its colour bar.
struct ColourScale {
  double lo = 0, hi = 1;  // values at the ends of the ramp (log10: both > 0)
  bool log10 = false;
  Ramp ramp = Ramp::grey;
  /// Position of v on the ramp in [0, 1] (clamped); NaN for a non-finite v.
  double position(double v) const;
};

/// Linear scale over the [lo_frac, hi_frac] quantiles of the finite values (robust contrast).
ColourScale robust_scale(const std::vector<float>& values, double lo_frac = 0.005, double hi_frac = 0.995, Ramp ramp = Ramp::grey);
/// log10 scale for diffraction patterns: from the median of the positive values (the background:
/// most of a pattern is background) up to the maximum (the central beam), at least 1 and at most
/// `max_decades` decades. Spots 4 decades below the central beam stay well above black.
ColourScale log_scale(const std::vector<float>& values, Ramp ramp = Ramp::grey, double max_decades = 7.0);

/// HSV (h in [0, 1)) to RGB.
Rgb hsv_to_rgb(float h, float s, float v);
/// Colour of an angle with period `period_deg` (hue wheel), as the colour wheel of plot.hpp shows it.
Rgb angle_colour(double angle_deg, double period_deg);
/// Colour of label id >= 0 (categorical; neighbouring ids get distinct hues).
Rgb label_colour(std::int32_t id);
/// Colours of polarity +1 and -1.
Rgb polarity_colour(int polarity);
/// Colour of a vector of direction atan2(dy, dx) and relative magnitude m in [0, 1] (clamped).
Rgb vector_colour(double dx, double dy, double m);
/// Undetermined pixels (label -1, NaN): black.
constexpr Rgb no_data_colour{0, 0, 0};

/// Images of maps (height x width, row-major).
RgbImage scaled_image(const std::vector<float>& values, std::int64_t height, std::int64_t width, const ColourScale& scale);
RgbImage angle_image(const std::vector<float>& angles_deg, std::int64_t height, std::int64_t width, double period_deg);
/// Labels < 0 black; `display_id` (when not empty) maps label l to the id whose colour it takes.
RgbImage label_image(const std::vector<std::int32_t>& labels, std::int64_t height, std::int64_t width,
                     const std::vector<std::int32_t>& display_id = {});
/// Polarity +1 / -1 in their colours, 0 black.
RgbImage polarity_image(const std::vector<std::int8_t>& polarity, std::int64_t height, std::int64_t width);
/// Vector field; magnitude relative to `full_magnitude` (value 1 there).
RgbImage vector_image(const std::vector<float>& vx, const std::vector<float>& vy, std::int64_t height, std::int64_t width,
                      double full_magnitude);

/// Writes a PNG (libpng) through a temporary file renamed on success, with tEXt chunks
/// (keyword, text), e.g. {"Title", ...}, {"Description", ...}. Throws IoError.
void write_png(const std::string& path, const RgbImage& img, const std::vector<std::pair<std::string, std::string>>& text = {});
/// Reads an 8- or 16-bit PNG as grey float values (RGB averaged); for tests and image ingest.
std::vector<float> read_png_grey(const std::string& path, std::int64_t& height, std::int64_t& width);
/// Reads a PNG as 8-bit RGB (for tests).
RgbImage read_png_rgb(const std::string& path);
/// The tEXt chunks of a PNG (for tests).
std::vector<std::pair<std::string, std::string>> read_png_text(const std::string& path);

}  // namespace tmdflow::io
