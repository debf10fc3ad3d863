#pragma once
// Stacking inference over one image (data_schema/stacking.md): windows on a regular grid of
// centres, each sampled in the canonical frame of the image's lattice (analysis/lattice_finder.hpp)
// at the model's pixel size, normalised per window, run through a stacking regressor (a PatchModel:
// free of torch headers), and read as labels of the stacking's label symmetry -- slips as fractions
// of the canonical cell, or a twist angle. With the consistency check each window is also run
// rotated by 180 degrees (a turn the canonical frame cannot see: the label of the turned window is
// an equivalent one); the two answers are averaged between nearest equivalents and their distance is
// the window's consistency (Angstrom or degrees). For a model trained on anchored patches each window
// is sampled twice: once to find its lattice anchor, then centred on it.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tmdflow/analysis/lattice_finder.hpp"
#include "tmdflow/io/model_catalog.hpp"
#include "tmdflow/learn/patch_model.hpp"
#include "tmdflow/sim/stacking_symmetry.hpp"

namespace tmdflow::learn {

/// What a stacking model predicts, from its manifest's `output` object (stacking15 contract).
struct StackingModelInfo {
  std::string task;                 // "slip" or "twist"
  std::string material, stacking;
  int layers = 2;
  std::vector<std::string> values;  // names of the outputs
  std::int64_t window_px = 0;       // the training window (model pixels)
  double pixel_A = 0;               // the model's pixel size
  double a1c_A[2] = {0, 0}, a2c_A[2] = {0, 0};
  /// Trained on patches re-centred on their lattice anchor (manifest output "anchor": "lattice"):
  /// each window is then re-centred on its own before the network reads it (sim/lattice_anchor.hpp).
  bool anchor = false;
  /// The microscope conditions of its training data (manifest `conditions`; 0 when not recorded).
  double voltage_kV = 0, convergence_mrad = 0, inner_mrad = 0, outer_mrad = 0;
  double defocus_A = 0, source_size_A = 0;  // the middles of the trained ranges
  /// Throws InputError naming the model when the manifest is not that of a stacking model.
  static StackingModelInfo from_manifest(const io::ModelManifest& manifest);
  std::int64_t interfaces() const { return task == "slip" ? layers - 1 : 0; }
  /// Fractions (a, b) of the canonical cell -> Cartesian canonical Angstrom, and back.
  std::array<double, 2> cartesian(double a, double b) const { return {a * a1c_A[0] + b * a2c_A[0], a * a1c_A[1] + b * a2c_A[1]}; }
  std::array<double, 2> fractions(double x, double y) const {
    const double det = a1c_A[0] * a2c_A[1] - a2c_A[0] * a1c_A[1];
    return {(x * a2c_A[1] - y * a2c_A[0]) / det, (a1c_A[0] * y - a1c_A[1] * x) / det};
  }
};

/// Window centres on a regular grid: rows x cols windows of `window_px` input pixels, `stride_px`
/// apart, the first one window/2 from the top-left corner (windows lie inside the image).
struct WindowCentres {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> row_px, col_px;  // centre of window row i / column j (input pixels)
};
/// Throws ConfigError naming the sizes when the window is larger than the image or the stride is not positive.
WindowCentres window_centres(std::int64_t height, std::int64_t width, double window_px, double stride_px);

struct StackingInferenceOptions {
  std::int64_t batch = 128;
  bool consistency = true;           // also run each window turned by 180 degrees
};

/// Per window: the label (folded into the fundamental cell), the consistency (NaN without the check).
struct WindowLabels {
  std::vector<std::vector<double>> label;
  std::vector<double> consistency;
};

/// Runs the model on the windows centred at `centres` (row, col in input pixels) of the image that
/// `sampler` samples in the canonical frame (its window size and pixel size: the model's input).
/// on_batch(n) after each batch (progress).
WindowLabels infer_stacking_windows(PatchModel& model, const StackingModelInfo& info, const sim::LabelSymmetry& symmetry,
                                    const analysis::CanonicalSampler& sampler, const std::vector<std::array<double, 2>>& centres,
                                    const StackingInferenceOptions& options, const std::function<void(std::int64_t)>& on_batch = {});

/// Subtracts the mean and divides by the standard deviation (1 when it is 0) of n values.
void normalise_window(float* values, std::size_t n);

}  // namespace tmdflow::learn
