#pragma once
// The radially averaged power spectrum of an image (data_schema/style.md, "Measures"): what an
// image's texture looks like at each length scale -- the lattice's peaks, the probe's fall-off,
// the noise floor -- independent of where its atoms sit and how it is turned.
#include <memory>
#include <vector>

namespace tmdflow::analysis {

/// log10 of the radially averaged power spectrum in log-spaced bins of spatial frequency |k|
/// (1/Angstrom) from k_min to the Nyquist frequency. The image's mean is removed and a Hann window
/// applied (so the edges add no streaks); the log power is shifted to mean 0 over the bins, so the
/// spectrum of g * image + b is that of image (the gain of a detector drops out).
class RadialSpectrum {
 public:
  static constexpr int kAnisotropyBands = 8;
  /// Plans for ny x nx images of pixel_A; bins that no FFT sample falls in are dropped (the lowest
  /// frequencies of a small image). Throws ConfigError when fewer than 4 bins remain.
  RadialSpectrum(int ny, int nx, double pixel_A, double k_min_invA = 0.1, int bins = 40);
  ~RadialSpectrum();
  RadialSpectrum(const RadialSpectrum&) = delete;
  RadialSpectrum& operator=(const RadialSpectrum&) = delete;

  /// Bin centres (geometric means of the edges) [1/Angstrom].
  const std::vector<double>& k_invA() const { return k_; }
  /// Weights of the bins in distances: n / (n + 16) for a bin of n independent samples (the log of
  /// an average of n exponential powers scatters by 0.43 / sqrt(n)), so the few-sample bins at low
  /// frequency count less; for the anisotropy bands, n of the band's smaller sector.
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& anisotropy_weights() const { return anisotropy_weights_; }
  /// The spectrum of one image (ny x nx values), one value per bin.
  std::vector<double> log_power(const float* image);
  /// With `anisotropy`, also log10(P_x / P_y) in kAnisotropyBands bands of consecutive bins: the
  /// power of the frequencies nearer the kx axis (|kx| > |ky|) over that of those nearer the ky
  /// axis, each averaged over its own samples (wide bands: a lattice peak near a sector's edge or a
  /// noisy few-sample bin would otherwise swamp it). Scan-line jitter and drift move power between
  /// the two: a radial average cannot see them.
  std::vector<double> log_power(const float* image, std::vector<double>* anisotropy);

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
  int ny_, nx_;
  std::vector<double> k_;
  std::vector<int> bin_of_;          // per r2c sample: bin index, -1 outside
  std::vector<double> samples_;      // samples per bin (r2c half, Hermitian weights)
  std::vector<double> samples_x_, samples_y_;  // the same per sector (|kx| > |ky|, and the rest)
  std::vector<double> weights_, anisotropy_weights_;
  std::vector<int> band_of_;             // per bin: its anisotropy band
  std::vector<double> window_;       // ny * nx Hann window
};

/// Root-mean-square difference of two spectra of the same bins (log10 units: 0.3 is a factor 2),
/// weighted per bin when `weights` is given.
double spectrum_distance(const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& weights = {});

}  // namespace tmdflow::analysis
