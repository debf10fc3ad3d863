#pragma once
// The lattice of a TMD layer found in an ADF-STEM image, and the canonical frame it defines
// (data_schema/stacking.md, "Lattice and canonical frame").
//
// find_lattice reads the Hann-windowed spectrum of the image: a search of hexagonal lattices over
// orientation and scale near the material's constant, a least-squares fit of the general (affine)
// lattice to the refined spot positions, checks that the lattice is the material's and not a
// sub- or super-cell of it (the pixel-size check), and the canonical choice of a1, a2 (MX2: a1 the
// short vector at [-30, 30) deg, a2 at +60; 1T'': the cell's a1 (Re chains), modulo 180 deg, and
// the handedness, from the motif). canonical_frame turns it into the affine map from the ideal cell
// of sim::layer_cell(material) to image pixels; sample_canonical_window (or CanonicalSampler for many
// windows) resamples the image in that frame, so a network or a forward model always sees the
// bottom layer's lattice exactly as the ideal cell.
//
// Conventions (data_schema/conventions.md): x = column (last array axis), y = row; angles
// atan2(dy, dx) in degrees; lengths in Angstrom; pixel (0, 0) is at (0, 0).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tmdflow::analysis {

struct LatticeOptions {
  double pixel_A = 0;            // calibration of the input (Angstrom per pixel, square pixels)
  std::string material;          // sim::material() name: ReS2, ReSe2, MoS2, WS2, MoSe2, WSe2
  double tolerance = 0.10;       // largest accepted |found/expected - 1| of the lattice constant
  bool twisted = false;          // expect two lattices (twisted bilayer): report the second one too
  // Added fields.
  int layers = 0;                // layers in the stack when known (1..3); 1T'': the motif is fitted as that many
                                 // translated copies (0: up to 3)
};

struct FoundLattice {
  double a1_px[2] = {0, 0}, a2_px[2] = {0, 0};  // bottom-layer lattice vectors in input pixels (x = column, y = row), canonical choice
  double a1_A[2] = {0, 0}, a2_A[2] = {0, 0};    // the same in Angstrom (pixel_A applied)
  bool mirrored = false;        // the image shows the mirror image of layer_cell(material)'s handedness (1T'' only)
  double scale = 1;             // found / expected lattice constant: sqrt(found cell area / ideal cell area)
  double angle_deg = 0;         // atan2 of a1 in the image
  double quality = 0;           // strength of the lattice spots: mean 10 log10(power / background) of its six strongest (dB)
  bool has_second = false;      // twisted: a second lattice found
  double second_angle_deg = 0, twist_deg = 0;  // its a1 direction, and the angle between the lattices folded into [0, 60)
  // Added fields.
  double second_a1_px[2] = {0, 0}, second_a2_px[2] = {0, 0};  // the second lattice (twisted), same canonical choice
  double twist_folded_deg = 0;  // min(twist_deg, 60 - twist_deg): what the spectrum alone determines (theta ~ 60 - theta)
  double fitting_pixel_A = 0;   // the pixel size at which the found lattice has the material's constant (pixel_A / scale)
  int spots = 0;                // spots (Friedel pairs) the lattice fit used
  double residual_bins = 0;     // rms distance of those spots from the fitted lattice (Fourier bins)
  double anisotropy = 1;        // ratio of the canonical frame's singular values: 1 when the image shows the ideal cell
                                // up to rotation and scale; more for shear, non-square pixels, drift
  double motif_score = 0;       // 1T'': fraction of the lattice coefficients' power the motif (as `layers` copies) explains
  double motif_margin = 0;      // 1T'': its lead over the next assignment (small: the choice is uncertain)
  std::string material;
  std::string describe() const; // one line for logs
};

/// Images larger than 2048 px on a side are read on their central 2048 x 2048 part (the vectors are
/// in the input's pixels all the same).
/// Throws InputError (one line: what was expected, what was found) when no lattice of the material is
/// found, or when its constant differs from the material's by more than the tolerance (calibration or
/// material wrong: say the pixel size that would fit). ConfigError for bad options (unknown material,
/// pixel_A <= 0, tolerance outside (0, 0.5], twisted with a 1T'' material).
FoundLattice find_lattice(const float* image, std::int64_t height, std::int64_t width, const LatticeOptions& options);

/// For an image without a calibration: the pixel size (Angstrom) at which the image's strongest
/// lattice has `material`'s constant (then refined by find_lattice at that size). InputError when
/// the image shows no lattice.
double estimate_pixel_size(const float* image, std::int64_t height, std::int64_t width, const std::string& material);

/// The affine map from canonical-frame coordinates (Angstrom; the ideal cell of sim::layer_cell(material),
/// a1c along +x) to input pixels: p = centre + M q. M = [a1_px a2_px] [a1c a2c]^-1, so it carries scale,
/// rotation, shear and the mirror.
struct CanonicalFrame { double m[2][2]; };
CanonicalFrame canonical_frame(const FoundLattice& lattice, const std::string& material);

/// A window of n x n pixels of size pixel_A in the canonical frame, centred at input pixel
/// (centre_row, centre_col), bicubic (Keys, a = -0.5), with anti-aliasing when it downsamples by more
/// than 1.3 (a Gaussian prefilter of sigma (D - 1) / 2 input pixels, D the largest input-pixel step
/// per output pixel); pixels outside the image: reflect (half-sample: -1 -> 0). Window pixel (i, j)
/// is canonical q = ((j - (n-1)/2) pixel_A, (i - (n-1)/2) pixel_A): the window's geometric centre sits
/// at the given input pixel. One call prefilters only the window's footprint; for many windows use
/// CanonicalSampler (the same values, prefiltered once).
void sample_canonical_window(const float* image, std::int64_t height, std::int64_t width, const CanonicalFrame& frame,
                             double centre_row, double centre_col, int n, double pixel_A, float* out);

/// sample_canonical_window for many windows of one image and frame: the prefilter runs once over the
/// whole image, and the bicubic taps are precomputed for windows centred on whole pixels.
class CanonicalSampler {
 public:
  CanonicalSampler(const float* image, std::int64_t height, std::int64_t width, const CanonicalFrame& frame, int n, double pixel_A);
  /// Thread-safe (const); `out` holds n * n values.
  void sample(double centre_row, double centre_col, float* out) const;
  int size() const { return n_; }
  /// The input-pixel offset (row, column) of canonical offset (qx, qy) Angstrom: M q.
  std::array<double, 2> input_offset(double qx_A, double qy_A) const {
    return {frame_.m[1][0] * qx_A + frame_.m[1][1] * qy_A, frame_.m[0][0] * qx_A + frame_.m[0][1] * qy_A};
  }
  double downsampling() const { return downsampling_; }   // input pixels per output pixel (largest direction)
  double prefilter_sigma_px() const { return sigma_px_; }  // 0: no prefilter

 private:
  void sample_general(double centre_row, double centre_col, float* out) const;
  CanonicalFrame frame_{};
  const float* source_ = nullptr;   // the image, or prefiltered_ when the window downsamples
  std::vector<float> prefiltered_;
  std::int64_t height_ = 0, width_ = 0;
  int n_ = 0;
  double downsampling_ = 1, sigma_px_ = 0;
  std::vector<double> dx_, dy_;     // input-pixel offset (column, row) of each window pixel from the centre
  std::vector<int> base_x_, base_y_;  // floor of the offsets (whole-pixel centres)
  std::vector<float> wx_, wy_;      // 4 bicubic weights per window pixel and axis (whole-pixel centres)
  int reach_x_ = 0, reach_y_ = 0;   // the footprint's half-size in input pixels (fast-path bounds)
};

}  // namespace tmdflow::analysis
