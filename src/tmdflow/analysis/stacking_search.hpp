#pragma once
// What the stacking fit needs before and after its least squares (stacking_fit.hpp): where the
// lattice sits in the window (FFT cross-correlation of the window with the model over one cell of
// shifts, for each candidate orientation and slip), and the window's white-noise level (its power
// beyond the model's band, where only noise lives).
#include <vector>

#include "tmdflow/analysis/stacking_fit.hpp"
#include "tmdflow/core/fft.hpp"

namespace tmdflow::analysis {

class StackingSearch {
 public:
  /// An n x n window of pixel_A whose centre (window coordinates (0, 0)) is at pixel (centre_px, centre_px).
  StackingSearch(const StackingRenderer& renderer, int n, double pixel_A, double centre_px);

  struct Found {
    StackingParams params;  // start with the origin found (and the orientation and slip chosen)
    double score = 0;       // normalised cross-correlation at the chosen shift
  };
  /// Candidates: start's orientation (and, MX2 with find_orientation, turned by 60 deg) x start's
  /// slips (and, with search_slip, a slip_grid^2 grid over the cell per interface). Origins are
  /// searched within one cell around start's origin.
  Found best_start(const float* window, const StackingParams& start, const FitOptions& options);

 private:
  /// Correlation of the window (already transformed) with the model of `params` over the shifts;
  /// the best shift (pixels, sub-pixel) and its normalised score.
  void correlate(const StackingParams& params, double& shift_x, double& shift_y, double& score);

  const StackingRenderer& renderer_;
  int n_;
  double pixel_A_, centre_px_;
  int reach_px_ = 0;       // largest shift searched (pixels), a cell's half-diagonal with room
  int canvas_ = 0, offset_ = 0;
  double window_norm_ = 0;
  fft::RealPlan2D<float> canvas_plan_;
  fft::RealBuffer<float> real_;
  fft::Buffer<float> window_spectrum_, model_spectrum_;
  std::vector<float> model_;
};

/// The white-noise level of n x n windows of pixel_A.
class WindowNoise {
 public:
  WindowNoise(int n, double pixel_A);
  /// Standard deviation of the window's white noise: the mean power of its (Hann-tapered) spectrum
  /// beyond 0.6 / blur_A (where a Gaussian of that sigma has fallen below 1e-3), capped at 0.8 x the
  /// Nyquist frequency. `bins`, when given, gets the number of spectrum bins averaged (the estimate's
  /// variance is about 2 / bins relative, the taper correlating neighbouring bins).
  double rms(const float* window, double blur_A, long* bins = nullptr);

 private:
  int n_, size_;
  double pixel_A_;
  fft::RealPlan2D<float> plan_;
  fft::RealBuffer<float> real_;
  fft::Buffer<float> spectrum_;
};

}  // namespace tmdflow::analysis
