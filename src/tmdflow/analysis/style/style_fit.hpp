#pragma once
// The style fit (stage style-fit, data_schema/style.md): the realism parameters of the simulation
// engine (dose, source size, scan jitter, background, read noise, point-spread after the noise; the
// detector's gain and offset by moment matching) that make a simulation of an experiment's
// structure look like the experiment, judged by the grey-level histogram (KL divergence), the
// radially averaged power spectrum (and its anisotropy, which shows scan distortion) and the
// roughness of the line profiles. Coarse scans, then Nelder-Mead, on a central crop with counting
// noise from fixed draws, so the fit is deterministic; then the measures on the whole images.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/analysis/style/grey_measures.hpp"
#include "tmdflow/analysis/style/style_renderer.hpp"
#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::analysis {

/// What the fit simulates: a stack imaged by the incoherent ADF model. The fit sets the stack's
/// extent and the image's size and pixel; the probe's source size is the fit's (set it to 0 here).
struct StyleScene {
  sim::StackSpec stack;
  sim::AdfSpec adf;
  double contamination = 0;      // amorphous carbon, atoms per A^2 (fixed, not fitted)
  std::uint64_t seed = 1;        // structure, jitter and noise draws
};

/// The names of the parameters a fit may vary: dose, source-size, jitter, background, read-noise, psf.
const std::vector<std::string>& style_parameter_names();

struct StyleFitSpec {
  std::vector<std::string> fit = style_parameter_names();
  /// The start, and the value of every parameter that is not fitted. The fit first scans each fitted
  /// parameter over a coarse grid (dose 10 to 1e8 e/A^2; a dose of 0 means "to be found"), twice.
  StyleParameters start{0, 0.3, 0, 0, 0, 0};
  double weight_kl = 1, weight_spectrum = 1, weight_roughness = 1, weight_anisotropy = 1;
  int fit_px = 256;              // side of the central crop the fit works on (0: the whole image)
  int max_evaluations = 300;
  double k_min_invA = 0.1;       // the spectrum from here to the Nyquist frequency
  int spectrum_bins = 40;
  double max_source_size_A = 1.5, max_jitter_A = 0.5, max_psf_A = 1.0;
};
/// Throws ConfigError naming the first bad field.
void validate(const StyleFitSpec& spec);

/// An experiment: frames of one size and pixel size (row-major ny x nx each).
struct StyleExperiment {
  std::vector<std::vector<float>> frames;
  int ny = 0, nx = 0;
  double pixel_A = 0;
};

/// How one simulated image compares with one experimental frame (on the frame's grey scale).
struct StyleComparison {
  double kl = 0;                 // KL(experiment || simulation) of the grey-level histograms
  double roughness = 0;          // Ra of the simulation's line profiles
  double spectrum_distance = 0;  // rms log10 difference of the radial power spectra
  double anisotropy_distance = 0;  // rms difference of log10(P_x / P_y), the spectra's anisotropy
  double objective = 0;          // w_kl KL + w_s d^2 + w_r ((Ra_sim - Ra_exp) / Ra_exp)^2 + w_a a^2
  GreyMapping mapping;           // detected electrons (or beam fraction) -> grey levels
};

/// The simulations every report compares: the engine's noise-free image, the same with white
/// Gaussian noise of the experiment's level (the paper's "noise added"), and the fitted style.
constexpr int kStyleSimulations = 3;
const char* style_simulation_name(int k);  // "noise_free", "noise_added", "style_fit"

struct StyleFitReport {
  GreyScale scale;
  StyleParameters start, fitted;                     // start: after the coarse scans, where the simplex begins
  double objective_start = 0, objective_fitted = 0;  // on the fit's crop, fixed draws
  int evaluations = 0;
  double seconds = 0;
  std::vector<double> history;                       // best objective after each evaluation of the simplexes
  int fit_ny = 0, fit_nx = 0;
  double noise_sd = 0;                               // the experiment's white-noise level (grey levels), first frame
  // Whole images, per frame n and simulation k.
  std::vector<double> experiment_roughness;                          // [N]
  std::vector<std::array<StyleComparison, kStyleSimulations>> comparisons;  // [N][3]
  std::vector<std::vector<double>> experiment_histograms;            // [N][bins]
  std::vector<std::array<std::vector<double>, kStyleSimulations>> simulation_histograms;  // [N][3][bins]
  std::vector<double> spectrum_k_invA;                               // [K]
  std::vector<std::vector<double>> experiment_spectra;               // [N][K]
  std::vector<std::array<std::vector<double>, kStyleSimulations>> simulation_spectra;  // [N][3][K]
  std::array<std::vector<float>, kStyleSimulations> simulations;     // [3][ny * nx], first frame's grey scale
};

/// The noise-free image of the scene (fraction of the beam, no source size) on a padded grid that
/// reaches beyond the ny x nx scan by the simulator's margin plus room for jitter up to max_jitter_A.
struct NoiseFreeScan {
  std::vector<float> padded;
  sim::Grid grid;
  double x0 = 0, y0 = 0;         // the scan's first probe position on the grid
};
NoiseFreeScan simulate_noise_free(const StyleScene& scene, int ny, int nx, double pixel_A, double max_jitter_A);

/// Fits the style and measures the three simulations against every frame. Throws ConfigError for a
/// bad spec, InputError for frames that do not fit (sizes, no contrast).
StyleFitReport fit_style(const StyleExperiment& experiment, const StyleScene& scene, const StyleFitSpec& spec);

}  // namespace tmdflow::analysis
