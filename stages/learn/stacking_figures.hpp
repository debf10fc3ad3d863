#pragma once
// The PNG figures of infer-stacking (data_schema/figures.md): the first image with the window grid
// and the boundary windows outlined, the maps of the slip components (Angstrom) or twist (degrees)
// and of the confidence, each with its colour bar; and a crop of the image with the atomic model of
// the found stacking drawn over it (one colour per layer, metals larger).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/learn/stacking_inference.hpp"

namespace tmdflow::stages {

struct StackingFigureInput {
  const std::vector<float>* image = nullptr;
  std::int64_t height = 0, width = 0;
  double pixel_A = 0;
  std::string material, task, stacking, where;
  int layers = 2;
  const learn::WindowCentres* grid = nullptr;
  double window_px = 0;
  /// Per window: (x_A, y_A) per interface, or (twist_deg).
  std::vector<std::vector<double>> window_values;
  std::vector<double> confidence;
  std::vector<std::uint8_t> boundary;
  std::vector<double> estimate_label;                  // canonical label of the whole image
  std::vector<std::array<double, 2>> estimate_xy_A;     // per interface, image frame
  double estimate_twist = 0;
  /// A refined window: (centre row, centre col, origin_x_A, origin_y_A) and its canonical label.
  std::optional<std::array<double, 4>> model_origin;
  std::vector<double> model_label;      // as fitted (not folded)
  double model_bottom_rotation_deg = 0;  // MX2: 0 or 60 (the fit's bottom-layer orientation)
  std::array<double, 4> frame{};  // the image's canonical frame: canonical Angstrom -> input pixels, row-major
};

/// Writes DIR/STEM_stacking_maps.png and, when a refined window places the lattice,
/// DIR/STEM_stacking_model.png.
void write_stacking_figures(const std::string& dir, const std::string& stem, const StackingFigureInput& in);

}  // namespace tmdflow::stages
