#pragma once
// The Fourier spectrum a lattice finder reads: the image minus its weighted mean, times a periodic
// (DFT-even) Hann window in each axis, transformed once (FFTW r2c through core/fft). A lattice shows
// as spots; each spot's exact frequency and complex amplitude follow from its three-bin neighbourhood
// because the Hann window's transform is known in closed form (a single tone e^{2 pi i f n} gives
// X_k = A K_N(fN - k), K_N below), which is what makes a 1024^2 image's lattice accurate to ~0.01 bin.
//
// Frequencies are in cycles per pixel, (fx, fy) with fx along columns (x) and fy along rows (y);
// bin (ky, kx) of an height x width image is (kx / width, ky / height). The spectrum of a real
// image is Hermitian, so any signed bin can be asked for.
#include <complex>
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::lattice {

/// Transform of the periodic Hann window for a tone `d` bins from the bin it is read at, for N
/// samples: sum_n w_n e^{2 pi i d n / N}, w_n = 1/2 - 1/2 cos(2 pi n / N).
std::complex<double> hann_kernel(double d, int n);

/// One refined spot.
struct Spot {
  double fx = 0, fy = 0;             // frequency (cycles per pixel)
  double snr = 0;                    // peak power over the background power at its radius
  std::complex<double> amplitude;    // A of A e^{2 pi i (fx x + fy y)} in the image (x, y in pixels from (0, 0))
};

class Spectrum {
 public:
  /// Power spectrum of the Hann-windowed image; `min_radius_bins` marks the low frequencies (the
  /// image's smooth background, contamination) that no spot is looked for in.
  Spectrum(const float* image, int height, int width, double min_radius_bins = 2.5);

  int height() const { return height_; }
  int width() const { return width_; }
  /// Smaller of height and width: radii "in bins" are in units of 1 / min_size cycles per pixel.
  int min_size() const { return height_ < width_ ? height_ : width_; }
  double min_radius_bins() const { return min_radius_bins_; }

  /// DFT coefficient of signed bin (ky, kx) (Hermitian symmetry for the half FFTW does not store).
  std::complex<double> coefficient(int ky, int kx) const;
  double power(int ky, int kx) const { return std::norm(coefficient(ky, kx)); }
  /// Power of the featureless background at the radius of bin (ky, kx) (per ring, spots excluded),
  /// at least 1e-5 of the strongest spot's (the window's sidelobes are no spots).
  double background(int ky, int kx) const;
  double snr(int ky, int kx) const { return power(ky, kx) / background(ky, kx); }
  /// Evidence of a spot at bin (ky, kx): the largest over the 3x3 bins around it of ln(snr / 10) at
  /// the peak of a genuine spot (a local maximum with snr > 10 that stands out of its
  /// neighbourhood: no sidelobe), 0 elsewhere and inside the low-frequency disc (a noise bin passes
  /// snr 10 with probability e^-10). Indexed periodically (any signed bin).
  float evidence(int ky, int kx) const;
  float evidence_at(double fx, double fy) const;
  /// Evidence at (fx, fy) minus its mean over the ring at that radius (what a point placed at random
  /// on the ring collects): the score of a lattice point.
  float evidence_above_chance(double fx, double fy) const;
  /// Evidence of a genuine spot near (fx, fy): ln(snr / 10) of the strongest bin within 1.5 bins
  /// when it is a local maximum with snr >= 10 and at least 1 % of the power of every bin within 5
  /// bins (the Hann window's sidelobes, <= 0.06 % of their spot's power beyond 2 bins, are no
  /// spots); else 0. `spot`, when given, receives that bin's frequency (cycles per pixel).
  double spot_evidence_at(double fx, double fy, double* spot = nullptr) const;
  /// Radius of frequency (fx, fy) in bins (units of 1 / min_size).
  double radius_bins(double fx, double fy) const;

  /// The spot nearest (fx, fy): the largest power within `search_bins` bins that is a local maximum
  /// and has snr >= min_snr, refined to a fraction of a bin (Hann three-bin estimator per axis).
  /// Returns false when there is none.
  bool refine_spot(double fx, double fy, double search_bins, double min_snr, Spot& spot) const;
  /// Complex amplitude and snr of a tone known to be at (fx, fy), read from its nearest bin.
  Spot spot_at(double fx, double fy) const;

  /// Genuine spots (local maxima with snr > 10 that stand out of their neighbourhood) in the half
  /// plane fx > 0 or (fx = 0, fy > 0), within [min_radius, max_radius_bins], refined, strongest
  /// first (at most `count`).
  std::vector<Spot> strongest_spots(double max_radius_bins, std::size_t count) const;

 private:
  void transform(const float* image);
  void ring_backgrounds(const std::vector<float>& ln_power);
  void evidence_map(const std::vector<float>& ln_power);
  void chance_levels();
  int ring_of(int ky, int kx) const;
  bool local_maximum(int ky, int kx) const;  // over the 3 x 3 bins around it
  /// No bin within 5 bins has 100 times its power (it is no sidelobe of a strong spot).
  bool stands_out(int ky, int kx) const;
  int height_, width_, half_width_, rings_ = 1;
  double min_radius_bins_;
  std::vector<std::complex<float>> coefficients_;   // height x (width/2 + 1), FFTW's r2c layout
  std::vector<int> ring_;                           // ring of each stored bin (same layout)
  std::vector<float> ring_background_;              // background power per ring
  std::vector<float> evidence_;                     // height x width, full plane (periodic)
  std::vector<float> chance_;                       // mean evidence per ring
};

}  // namespace tmdflow::analysis::lattice
