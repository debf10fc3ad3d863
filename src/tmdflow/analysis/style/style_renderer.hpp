#pragma once
// The realism model of the simulation engine applied to one noise-free image, fast enough to be
// evaluated hundreds of times by the style fit (data_schema/style.md): the probe's source size (a
// Gaussian blur of the intensity, done in Fourier space), scan-line jitter (the image resampled at
// the jittered probe positions, sim::scan_positions), a uniform background, counting noise at a
// dose and read noise, a point-spread after the noise; then the detector's gain and offset onto an
// experiment's grey scale. The
// engine's make-trainset and simulate-adf apply the same model (sim/realism.hpp).
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "tmdflow/analysis/style/grey_measures.hpp"
#include "tmdflow/sim/grid.hpp"

namespace tmdflow::analysis {

/// The realism a style fits, in the engine's units.
struct StyleParameters {
  double dose_e_per_A2 = 1e5;   // incident electrons per A^2 (counting noise)
  double source_size_A = 0;     // Gaussian source size, standard deviation
  double jitter_A = 0;          // rms shift of each scan line along x
  double background = 0;        // fraction of the beam added to every pixel before the noise
  double read_noise = 0;        // detected electrons rms, after the counting noise
  double psf_A = 0;             // Gaussian point-spread after the noise (detector, display, resampling), sigma
};

/// Counting noise: Poisson draws as the engine makes them (sim::add_counting_noise), or Poisson
/// counts by inversion of fixed uniform draws per pixel (common random numbers: the fit's objective
/// then changes smoothly with the parameters instead of redrawing its noise at every evaluation).
enum class CountingNoise { none, poisson, fixed_draws };

class StyleRenderer {
 public:
  /// `padded`: the noise-free image (fraction of the beam) without source size on `grid`
  /// (sim::AdfSimulator::padded_image), which must reach beyond the scan of ny x nx pixels of
  /// pixel_A from (x0, y0) by the blur and jitter to come; `seed` keys the jitter and the noise.
  StyleRenderer(const float* padded, const sim::Grid& grid, int ny, int nx, double pixel_A, double x0, double y0, std::uint64_t seed);
  ~StyleRenderer();
  StyleRenderer(const StyleRenderer&) = delete;
  StyleRenderer& operator=(const StyleRenderer&) = delete;

  int ny() const { return ny_; }
  int nx() const { return nx_; }
  /// Mean of the noise-free scan (fraction of the beam), the unit of the fit's background.
  double mean_clean() const { return mean_clean_; }

  /// The scan with `p`'s source size, jitter and background, noise-free (fraction of the beam).
  void clean(const StyleParameters& p, std::vector<float>& out);
  /// Detected electrons: clean() counted at p's dose with `noise`, plus read noise, then blurred by
  /// p's point-spread (which correlates the noise of neighbouring pixels).
  void detected(const StyleParameters& p, CountingNoise noise, std::vector<float>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int ny_, nx_;
  double mean_clean_ = 0;
};

/// The detector's linear response onto an experiment's grey scale: stored = scale.stored(gain * v +
/// offset). match_moments gives the gain and offset that match the experiment's mean and standard
/// deviation (a gain that is not positive when the values are flat: gain 0, offset = the mean).
struct GreyMapping {
  double gain = 1, offset = 0;
};
GreyMapping match_moments(const std::vector<float>& values, double target_mean, double target_sd);
/// Applies a mapping in place, with the scale's clipping and rounding.
void apply_mapping(std::vector<float>& values, const GreyMapping& m, const GreyScale& scale);

/// Mean and standard deviation of n values.
std::pair<double, double> mean_and_sd(const float* values, std::size_t n);

}  // namespace tmdflow::analysis
