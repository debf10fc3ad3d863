#pragma once
// What makes a simulation look like the microscope's data: scan distortion (drift, line jitter),
// counting noise for a given dose, detector read noise, detector point-spread, and the descan
// shift of the pattern across the scan. Every random draw is keyed by (seed, what, index), so the
// result does not depend on how work is split over ranks. Amorphous contamination is a structure
// operation (add_amorphous_layer in structure.hpp).
#include <cstdint>
#include <vector>

#include "tmdflow/sim/grid.hpp"

namespace tmdflow::sim {

/// Scan distortion of a raster of ny x nx probe positions, acquired row by row.
struct ScanDistortion {
  double drift_x_A = 0, drift_y_A = 0;  // sample drift over the whole frame (linear in time)
  double jitter_A = 0;                  // rms random shift of each scan line along x
  double line_jitter_y_A = 0;           // rms random shift of each scan line along y
  bool any() const { return drift_x_A != 0 || drift_y_A != 0 || jitter_A != 0 || line_jitter_y_A != 0; }
};

/// Probe positions of scan pixel (i, j) of a raster starting at (x0, y0) with step `step_A`: the
/// nominal (x0 + j step, y0 + i step) moved by drift (time runs along rows, then down) and jitter
/// (one draw per line, keyed by (seed, line)). xs, ys get ny*nx values (row-major).
void scan_positions(const ScanDistortion& d, int ny, int nx, double step_A, double x0, double y0, std::uint64_t seed,
                    std::vector<double>& xs, std::vector<double>& ys);

/// Bicubic (Keys, a = -0.5) interpolation of `image` on `grid` at positions (xs[k], ys[k]);
/// positions outside the grid take the nearest edge value.
void resample_bicubic(const float* image, const Grid& grid, const double* xs, const double* ys, std::size_t n, float* out);

/// Counting noise: values (expected fraction of the beam per pixel) are turned into detected
/// electrons, Poisson(electrons_per_unit * value), plus Gaussian read noise of `read_noise`
/// electrons rms. electrons_per_unit <= 0 leaves the values noise-free (read noise still added).
/// Deterministic in `key` (use rng::key(seed, what, index)).
void add_counting_noise(float* values, std::size_t n, double electrons_per_unit, double read_noise, std::uint64_t key);

/// Separable Gaussian blur (standard deviation sigma_px pixels), the kernel renormalised where it
/// meets the edges, in place: a detector's point-spread function.
void gaussian_blur(float* image, int ny, int nx, double sigma_px);

}  // namespace tmdflow::sim
