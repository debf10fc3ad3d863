#pragma once
// Labelled training patches for the stacking network: incoherent ADF images of stacks (MX2, or
// 1T'' ReS2/ReSe2) whose slip, twist, orientation, scale, defects, holes, dose or PSNR, probe and
// scan distortion are drawn per patch from ranges. Patch k depends only on (seed, k): any split
// over ranks gives the same set.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

struct Range {
  double min = 0, max = 0;
};

struct TrainsetSpec {
  std::int64_t count = 1000;
  int patch_px = 64;
  double pixel_A = 0.2;
  std::string material = "MoS2";      // one compound, or several "MoS2,WSe2" of one family: drawn per patch
  int layers = 2;
  std::string stacking;                // empty: 2H for MX2, AA for 1T'' (structures.md)
  Range slip{0, 1}, twist_deg{-1, 1}, phi_deg{0, 120}, vacancy{0, 0.02};
  /// Layer 2's slip range (trilayers), when it differs from `slip`.
  std::optional<Range> slip2;
  /// The canonical frame (data_schema/training.md): when not empty, the bottom layer's orientation
  /// is one of these (drawn uniformly) plus a uniform jitter in +-phi_jitter_deg, instead of phi_deg.
  std::vector<double> phi_set_deg;
  double phi_jitter_deg = 0;
  /// The patch's lattice is scaled by a factor uniform in [1 - scale_jitter, 1 + scale_jitter]
  /// about the field centre (a calibration or lattice-finder error); 0: unscaled.
  double scale_jitter = 0;
  /// The lattice moved relative to the patch by a uniform random point of the bottom layer's cell
  /// (u a1 + v a2, u, v uniform in [0, 1); labels shift_x_A, shift_y_A): windows cut anywhere in an
  /// image. false: the field centre (a lattice point of every patch's registry) at the patch centre.
  bool translate = false;
  /// Each patch re-centred on its lattice anchor (sim/lattice_anchor.hpp, found on the noise-free
  /// patch), as infer-stacking re-centres windows for a model trained on such patches; the labels
  /// shift_x_A, shift_y_A are the lattice's translation after it.
  bool anchor = false;
  Range dose{1e4, 1e6};                // e/A^2, log-uniform (0,0: noise-free)
  Range defocus_A{-20, 20}, source_size_A{0.3, 0.7}, jitter_A{0, 0.1}, contamination{0, 0.05};
  /// Sample drift over the patch's acquisition [Angstrom]: its length, in a direction drawn uniformly.
  Range drift_A{0, 0};
  /// Fraction of the patch's area in holes (vacuum through every layer); 0,0: none.
  Range holes{0, 0};
  /// When max > 0, the noise is set by a target PSNR (dB; PSNR = 20 log10(max of the clean patch /
  /// rms of the noise)) drawn uniformly in this range, and `dose` is not used: Poisson counts at the
  /// dose that gives it, or Gaussian noise on the noise-free values (psnr_gaussian).
  Range psnr_dB{0, 0};
  bool psnr_gaussian = false;
  /// Uniform background added to every pixel before the counting noise [fraction of the beam]
  /// (scattering the model leaves out: amorphous film, detector dark signal), and Gaussian read
  /// noise after it [detected electrons rms; with a dose only]; a style (style-fit) sets both.
  Range background{0, 0}, read_noise{0, 0};
  /// Gaussian point-spread applied after the noise (detector, display, resampling) [Angstrom, sigma].
  Range psf_A{0, 0};
  double inner_mrad = 60, outer_mrad = 200, voltage_kV = 80, convergence_mrad = 30, Cs_A = 0;
  std::uint64_t seed = 1;
  /// Column heat maps as targets (0: none): sigma of each column's Gaussian [Angstrom].
  double heatmap_sigma_A = 0;
};

/// Channels of the column heat maps: 0 metal columns, 1 chalcogen columns.
constexpr int kHeatmapChannels = 2;

/// The compounds of spec.material ("MoS2" or "MoS2,WSe2").
std::vector<std::string> materials_of(const TrainsetSpec& spec);

/// The registry of the set: spec.stacking, or the family's default (2H for MX2, AA for 1T'').
std::string stacking_of(const TrainsetSpec& spec);

/// Throws ConfigError naming the first bad parameter.
void validate(const TrainsetSpec& spec);

/// What was drawn for one patch (the labels written with it).
struct PatchLabels {
  double slip_a = 0, slip_b = 0;           // layer 1 relative to layer 0 (fractions of a1, a2)
  double slip_a2 = 0, slip_b2 = 0;         // layer 2 (trilayers; 0 otherwise)
  double twist_deg = 0, twist2_deg = 0;
  double material_index = 0;               // into the spec's material list (0 for one material)
  double phi_deg = 0, vacancy = 0, dose = 0, defocus_A = 0, source_size_A = 0, jitter_A = 0, contamination = 0;
  // Cartesian forms in the patch frame (x = column, y = row; Angstrom = pixels x pixel_A, so they
  // include `scale`): interface k = layer k+1 relative to layer k, minus the registry.
  double slip_x_A = 0, slip_y_A = 0;       // interface 0
  double slip_x_A_1 = 0, slip_y_A_1 = 0;   // interface 1 (trilayers; 0 otherwise)
  double a1_x_A = 0, a1_y_A = 0, a2_x_A = 0, a2_y_A = 0;  // the bottom layer's a1, a2
  double scale = 1;                        // lattice scale factor of the patch (scale_jitter)
  double rotation_deg = 0;                 // 1T'': the bottom layer's rotation (cell A from +x); 0 for MX2
  double psnr_dB = 0;                      // measured on the patch (+inf when noise-free)
  double holes = 0;                        // fraction of the patch's pixels in holes
  double drift_x_A = 0, drift_y_A = 0;     // sample drift over the patch's acquisition
  double background = 0;                   // fraction of the beam added to every pixel before the noise
  double read_noise = 0;                   // detected electrons rms (with a dose)
  double psf_A = 0;                        // Gaussian point-spread after the noise, sigma
  double shift_x_A = 0, shift_y_A = 0;     // the lattice's translation relative to the patch (translate)
  struct Field {
    const char* name;
    double PatchLabels::*member;
    const char* units;
    const char* description;
  };
  static const std::vector<Field>& fields();
};

class TrainsetGenerator {
 public:
  explicit TrainsetGenerator(const TrainsetSpec& spec);
  ~TrainsetGenerator();
  /// Patch `index` (patch_px^2 floats) and its labels. With spec.heatmap_sigma_A > 0 and
  /// `heatmaps` given, also its column heat maps (kHeatmapChannels x patch_px^2 floats): at each
  /// pixel, the sum over the columns of the layers' atoms of occupancy/capacity x
  /// exp(-r^2 / 2 sigma^2), r the distance from the column to where the probe actually was for that
  /// pixel (after scan distortion), so a peak sits exactly on the column as the image shows it.
  PatchLabels patch(std::int64_t index, float* out, float* heatmaps = nullptr);

  /// The labels of patch `index`, the values patch() returns (rendered only when the noise needs
  /// the image: the PSNR and, with a PSNR range, the dose).
  PatchLabels labels(std::int64_t index);

  /// The structure patch `index` shows (before contamination), in its field frame, and where the
  /// patch's pixel (0, 0) lies in it: pixel (i, j) is the probe at (x0 + j pixel_A, y0 + i pixel_A)
  /// before scan distortion. For tests and ground truth.
  struct PatchStructure {
    Structure structure;
    double x0 = 0, y0 = 0;
  };
  PatchStructure structure(std::int64_t index) const;

 private:
  struct Plan;
  Plan plan(std::int64_t index) const;
  TrainsetSpec spec_;
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace tmdflow::sim
