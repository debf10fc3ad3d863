#pragma once
// Drift between frames of a movie by correlation in Fourier space: the cross-power spectrum
// B conj(A) of two frames, weighted by a Gaussian low-pass and by |B conj(A)|^-whitening, transformed
// back, peaks at the shift. whitening = 1 is phase correlation (Kuglin & Hines 1975: every
// frequency counts alike); whitening = 0 the plain cross-correlation, which weights each frequency
// by its power -- on a noisy lattice, where the signal sits in a few lattice frequencies and the
// noise spreads over all, it is the more precise (measured on shifted noisy lattice images: ~0.1
// pixel against ~0.5-1.5 for phase correlation), so it is the default. The frames are binned (speed;
// the lattice fringes survive a bin to ~0.25 A), mean-removed and Hann-windowed (no edge jump); the
// peak is searched within `max_shift_px` of zero: a crystal correlates with itself at every lattice
// vector, so the shift between consecutive frames must stay below half the lattice spacing, which
// drift per frame does. Sub-pixel: a parabola through the logarithm of the peak and its neighbours
// along each axis (exact for a Gaussian peak).
#include <complex>
#include <memory>
#include <vector>

namespace tmdflow::analysis::dynamics {

struct RegistrationSpec {
  int bin = 1;                  // frames are binned bin x bin before the transform
  double max_shift_px = 16;     // search radius, in frame pixels
  double lowpass_px = 1.0;      // sigma of the Gaussian smoothing of the correlation, in binned pixels
  double whitening = 0;         // 0: cross-correlation; 1: phase correlation
};

/// (row, col) in frame pixels.
struct Shift {
  double dy = 0, dx = 0;
  double peak = 0;  // the correlation at the peak over the geometric mean of the frames' own at zero (<= 1)
};

class FrameRegistration {
 public:
  /// ConfigError for a frame smaller than 8 binned pixels or a bad spec.
  FrameRegistration(int ny, int nx, const RegistrationSpec& spec);
  ~FrameRegistration();
  FrameRegistration(const FrameRegistration&) = delete;
  FrameRegistration& operator=(const FrameRegistration&) = delete;

  /// The windowed spectrum of a frame (ny x nx floats, row-major).
  std::vector<std::complex<float>> spectrum(const float* frame) const;
  /// How far the content of frame b has moved from frame a: b(y, x) ~ a(y - dy, x - dx).
  Shift shift(const std::vector<std::complex<float>>& a, const std::vector<std::complex<float>>& b) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The content's shift from frame 0 at every frame, (row, col) per frame: the running sum of the
/// shifts between consecutive frames (steps[k] is frame k + 1 relative to frame k).
std::vector<Shift> cumulative_drift(const std::vector<Shift>& steps);

}  // namespace tmdflow::analysis::dynamics
