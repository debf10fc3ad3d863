#pragma once
// Physics refinement of a stacking estimate (issue 15, data_schema/stacking.md "Physics
// refinement"): the incoherent ADF forward model of the stack (stacking_model.hpp) fitted to one
// canonical-frame window by Levenberg-Marquardt least squares -- slips (or twist), origin, affine
// lattice distortion, Gaussian probe blur, per-layer intensity and background -- starting from the
// network's estimate. The residual against the window's own noise level gives a confidence.
#include <memory>

#include "tmdflow/analysis/stacking_model.hpp"

namespace tmdflow::analysis {

struct StackingFit {
  StackingParams params;
  double residual_rms = 0;     // rms of (window - model), in units of the window's values
  double r2 = 0;               // 1 - SS_res / SS_tot
  double confidence = 0;       // in [0, 1]: exp(-(misfit / misfit_scale)^2)
  int iterations = 0;
  bool converged = false;
  double noise_rms = 0;        // white-noise level estimated from the window's spectrum beyond the model's band
  double misfit = 0;           // in [0, 1]: sqrt(U / (E + U)) per pixel, E = var(window) - residual_rms^2 what the
                               // model explains, U = max(0, residual_rms^2 - noise_rms^2 - 2 se) what it leaves
                               // beyond the noise (se: the standard error of that difference); 1 when E is not
                               // significant (no signal the model knows, e.g. pure noise)
  double distortion = 0;       // largest |singular value - 1| of the fitted affine: how far the window's lattice is
                               // from the model's ideal cell (a lattice finder leaves ~1 %; a wrong material more)
  double search_score = 0;     // normalised cross-correlation of the chosen start (find_origin), in [-1, 1]
};

struct FitOptions {
  int max_iterations = 30;
  bool fit_affine = true;
  bool fit_blur = true;
  bool find_origin = true;        // find origin (and orientation) by FFT cross-correlation before the fit
  bool fit_slip = true;           // false: the slips stay as started (e.g. a twist-only fit)
  bool free_layer_intensity = false;  // false: one intensity for all layers (incoherent imaging of a stack
                                      // far thinner than the depth of field); true: one per layer, which
                                      // trades against the slip where two layers nearly coincide
  bool find_orientation = true;   // with find_origin, MX2: also try the bottom layer turned by 60 deg
  bool search_slip = false;       // with find_origin: also try a slip_grid^2 grid of slips per interface
                                  // over the cell (a twist window: the network gives no local registry);
                                  // trilayers: slip_grid^4 candidates
  int slip_grid = 6;
  bool twist_branches = false;    // twisted models: also fit from -theta, 60 - theta and theta - 60 and keep the
                                  // least misfit. The labels fold theta ~ -theta (mirror images) but a window is
                                  // not mirrored, and theta, 60 - theta nearly share an image: a fit stays on the
                                  // branch it starts on (data_schema/stacking.md "Physics refinement")
  int bin = 0;                    // pixels per side averaged before the fit (0: auto, so that start.blur_A spans
                                  // ~2.5 binned pixels; at most 4); residual, r2 and confidence use the window as given
  double tolerance_A = 1e-4;      // converged when no position moves by more than this in a step
  double misfit_scale = 0.3;      // confidence = exp(-(misfit / misfit_scale)^2)
};

/// Fits many windows of one size and model: FFT plans, cross-sections and buffers made once (use it
/// rather than fit_stacking_window for a map of windows). Not thread-safe: one per thread.
class StackingWindowFitter {
 public:
  StackingWindowFitter(const StackingModelSpec& spec, int n, double pixel_A, const FitOptions& options = {});
  ~StackingWindowFitter();
  StackingWindowFitter(const StackingWindowFitter&) = delete;
  StackingWindowFitter& operator=(const StackingWindowFitter&) = delete;
  /// `window`: n x n values (row-major, finite; InputError otherwise).
  StackingFit fit(const float* window, const StackingParams& start);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Fits the forward model to a square window (n x n pixels of pixel_A Angstrom, in the canonical
/// frame: the bottom layer's lattice is the ideal cell of sim::layer_cell(material), a1c along +x,
/// up to the small affine distortion being fitted). `start` holds the network's estimate; with
/// find_origin the origin (and, MX2, the bottom layer's polarity) is found first by FFT
/// cross-correlation with the model at the start slip, since nothing else knows where the lattice
/// sits in the window. The slip is reported as fitted (not folded into a fundamental cell). Start
/// blur_A from gaussian_probe_sigma_A of the conditions (it also sets the fit's binning).
StackingFit fit_stacking_window(const float* window, int n, double pixel_A, const StackingModelSpec& spec,
                                const StackingParams& start, const FitOptions& options = {});

}  // namespace tmdflow::analysis
