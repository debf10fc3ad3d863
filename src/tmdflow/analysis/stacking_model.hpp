#pragma once
// The incoherent ADF forward model of a stack of 2D layers seen through a window in the canonical
// frame (data_schema/stacking.md, "Physics refinement"): every atom is a Gaussian spot of the
// detector cross-section of its element (sim::annular_cross_section, as sim::AdfSimulator uses),
// i.e. the incoSTEM image with the probe intensity replaced by a Gaussian of standard deviation
// blur_A, times a per-layer intensity, plus a background. The layers are sim::layer_cell(material)
// placed by stacking registry, slip and twist, the whole stack seen through a small affine lattice
// distortion. render_stacking_window() draws it; StackingRenderer also draws the derivative images
// that the least-squares fit (stacking_fit.hpp) needs.
//
// Window coordinates: pixel (i, j) of an n x n window of pixel_A Angstrom lies at
//   x = (j - (n - 1)/2) pixel_A,  y = (i - (n - 1)/2) pixel_A
// from the window centre (x = column, y = row, data_schema/conventions.md). An atom at ideal
// position p (Angstrom, undistorted canonical frame, relative to layer 0's cell origin) is drawn at
//   X = T_k (origin + affine p),   T_1 = rotation by twist_deg about the window centre (twisted
//                                  bilayers), T_k = identity otherwise,
//   p = R_b (n1 a1c + n2 a2c + basis_k + registry_k) + S_k,   S_k = slip_0 + ... + slip_{k-1},
// with R_b the rotation by bottom_rotation_deg and basis_k the layer cell's atoms (turned by 60 deg
// for the odd layers of a 2H stack).
#include <string>
#include <vector>

#include "tmdflow/sim/probe.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::analysis {

struct StackingModelSpec {
  std::string material;          // ReS2, ReSe2, MoS2, WS2, MoSe2, WSe2
  int layers = 2;                // 2 or 3 (1: a monolayer, for comparisons)
  std::string stacking = "AA";   // MX2: 2H, 3R, AA; 1T'': AA (structures.md)
  bool twist = false;            // fit a twist of layer 1 besides its slip (MX2 bilayers)
  double voltage_kV = 300, convergence_mrad = 21.3, inner_mrad = 39, outer_mrad = 200;  // cross-sections and probe
};

/// Throws ConfigError naming the first bad field.
void validate(const StackingModelSpec& spec);

struct StackingParams {
  std::vector<double> slip_x_A, slip_y_A;  // per interface k: layer k+1 relative to layer k minus the registry, canonical frame
                                           // (undistorted; affine x slip is the slip in the window's own frame), Angstrom
  double twist_deg = 0;                    // layer 1 relative to layer 0, counter-clockwise, about the window centre
  double origin_x_A = 0, origin_y_A = 0;   // position of layer 0's cell origin relative to the window centre (canonical frame)
  double affine[4] = {1, 0, 0, 1};         // lattice distortion (row-major 2x2 acting on the ideal cell)
  double blur_A = 0.5;                     // Gaussian sigma of the effective probe
  std::vector<double> layer_intensity;     // per layer scale (empty: start from equal)
  double background = 0;
  /// The bottom layer's orientation in the canonical frame, which a lattice finder cannot tell for an
  /// MX2 layer: 0 (phi = 30, the metal -> chalcogen vector at +30 deg) or 60 (phi = 90, the polarity
  /// reversed). The whole stack turns with it (registry included; slips stay canonical-frame
  /// vectors, as the trainset labels them). 1T'' layers: 0 (a turn by 180 deg is a translation).
  double bottom_rotation_deg = 0;
};

/// Throws ConfigError when `params` does not fit `spec` (slip sizes, layer intensities, blur, affine).
void validate(const StackingModelSpec& spec, const StackingParams& params);

/// The forward model's image of `params` (n x n, canonical frame) -- for tests, figures and the fit.
/// Empty layer_intensity means 1 per layer; values are then in the units of sim::AdfSimulator (the
/// fraction of the beam on the detector).
void render_stacking_window(const StackingModelSpec& spec, const StackingParams& params, int n, double pixel_A, float* out);

/// The Gaussian standard deviation (Angstrom) that best matches the intensity of `probe` (least
/// squares over a 2-D grid, amplitude free): a starting blur_A for given conditions.
double gaussian_probe_sigma_A(const sim::ProbeSpec& probe);

/// The model and its derivatives with respect to the atoms' positions, per layer, for the fit.
class StackingRenderer {
 public:
  /// Derivative images of one layer (size x size each), unit layer intensity:
  /// image = sum_a w_a G(r - X_a); grad_x/y = sum_a dG/dX_a (so d image/d X_a = those terms);
  /// moment_ij = sum_a p_a,j (d G / d X_a,i) (p_a the ideal position; i, j in {x, y} -> index 2i + j);
  /// blur = sum_a w_a (dG/dsigma + 2 G / sigma), the sigma-derivative beyond G's normalisation.
  /// G is a Gaussian spot of integral 1 cut at 4 sigma (each 1-D factor lowered to end at zero).
  struct LayerImages {
    std::vector<float> image, grad_x, grad_y, moment[4], blur;
  };

  StackingRenderer(const StackingModelSpec& spec);
  const StackingModelSpec& spec() const { return spec_; }
  int layers() const { return spec_.layers; }
  const sim::LayerCell& cell() const { return cell_; }

  /// Draws `params` on a size x size canvas whose pixel (i, j) lies at ((j - centre_px) pixel_A,
  /// (i - centre_px) pixel_A) in window coordinates: out = background + sum_k I_k image_k.
  void render(const StackingParams& params, int size, double centre_px, double pixel_A, float* out) const;
  /// The per-layer images (resized as needed); derivatives only when `derivatives`.
  void render_layers(const StackingParams& params, int size, double centre_px, double pixel_A, bool derivatives,
                     std::vector<LayerImages>& layers) const;

  /// The registry offset of layer k (ideal frame, before R_b) and whether its basis is turned by 60 deg.
  void registry(int k, double& x, double& y, bool& turned) const;

 private:
  struct Site {
    double u = 0, v = 0;   // fractional position in the cell
    double weight = 0;     // summed cross-sections of the atoms on this projected site (Angstrom^2)
  };
  StackingModelSpec spec_;
  sim::LayerCell cell_;
  std::vector<Site> sites_;  // the cell's projected sites (an MX2 chalcogen pair is one site)
};

}  // namespace tmdflow::analysis
