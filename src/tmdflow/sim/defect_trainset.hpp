#pragma once
// Training patches for the defect detector of STEM movies (stage make-defect-trainset; issue #18;
// data_schema/dynamics.md): ADF frames of a doped MX2 monolayer as simulate-movie renders them --
// dopants on metal sites, single and double chalcogen vacancies (some placed next to a dopant or
// another vacancy, as the movies' vacancies gather), scanned with jitter and drift and counted at a
// dose -- with one heat map per defect class (V_S, V_S2, dopant: sim/movie_truth.hpp's classes): a
// Gaussian of peak 1 on every defect, centred where the scan saw it.
//
// Every condition is drawn per patch, so that the detector holds on movies made by other means:
// dose (log-uniform), voltage, convergence, detector angles, defocus, source size, line jitter,
// drift, lattice scale (calibration), orientation, contamination, defect densities, and the pixel
// size of the scan. A patch is scanned at its own pixel (`native_pixel_A`) and resampled to the
// detector's pixel (`pixel_A`) by bilinear interpolation with pixel centres aligned, exactly as the
// detector's inference resamples a frame (learn/map_inference.hpp), so the detector sees the noise
// and blur it will see. Patch k depends only on (seed, k): any split over ranks gives the same set.
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/sim/patch_scan.hpp"
#include "tmdflow/sim/trainset.hpp"

namespace tmdflow::sim {

/// Heat-map channels: V_S, V_S2, dopant (DefectClass order).
constexpr int kDefectClasses = 3;

struct DefectTrainsetSpec {
  std::int64_t count = 4000;
  int patch_px = 48;                   // the detector's pixels per side
  double pixel_A = 0.2;                // the detector's pixel
  std::string material = "WS2";        // an MX2 compound
  int dopant_Z = 42;
  Range dopant_fraction{0.01, 0.1};    // of the metal sites
  Range single_vacancy{0.02, 0.15};   // of the chalcogen columns
  Range double_vacancy{0.0, 0.04};
  double clustered = 0.5;              // probability that a vacancy is placed next to a dopant or a vacancy
  // The microscope and scan, drawn per patch: scan pixel, dose per frame [e/A^2] (log-uniform; 0,0:
  // noise-free), voltage, convergence, detector inner and outer angles, defocus, source size,
  // jitter, drift, contamination (sim/patch_scan.hpp).
  ScanRanges scan{{0.1, 0.2}, {1.5e4, 1e6}, {80, 100}, {25, 35}, {55, 90}, {160, 250}, {-20, 20}, {0, 0.4}, {0, 0.06}, {0, 0.3}, {0, 0.03}};
  double scale_jitter = 0.03;          // lattice scaled by 1 +- this (calibration error)
  double Cs_A = 0;
  double heatmap_sigma_A = 0.5;
  std::uint64_t seed = 1;
};
/// Throws ConfigError naming the first bad parameter.
void validate(const DefectTrainsetSpec& spec);

/// What was drawn for one patch (written with it as labels/).
struct DefectPatchLabels {
  double native_pixel_A = 0, dose = 0, voltage_kV = 0, convergence_mrad = 0, inner_mrad = 0, outer_mrad = 0;
  double defocus_A = 0, source_size_A = 0, jitter_A = 0, drift_x_A = 0, drift_y_A = 0, contamination = 0;
  double scale = 1, phi_deg = 0, dopant_fraction = 0, single_vacancy = 0, double_vacancy = 0;
  double single_vacancies = 0, double_vacancies = 0, dopants = 0;  // defects whose centre lies in the patch
  struct Field {
    const char* name;
    double DefectPatchLabels::*member;
    const char* units;
    const char* description;
  };
  static const std::vector<Field>& fields();
};

/// One defect of a patch: class (0 V_S, 1 V_S2, 2 dopant) and where the scan saw it, in the
/// patch's (detector) pixels, x = column, y = row.
struct PatchDefect {
  int defect_class = 0;
  double x_px = 0, y_px = 0;
};

class DefectTrainsetGenerator {
 public:
  explicit DefectTrainsetGenerator(const DefectTrainsetSpec& spec);
  /// Patch `index` (patch_px^2 floats), its heat maps (kDefectClasses x patch_px^2 floats, may be
  /// null) and its labels. `defects` (may be null) receives the defects near the patch.
  DefectPatchLabels patch(std::int64_t index, float* image, float* heatmaps, std::vector<PatchDefect>* defects = nullptr);

 private:
  DefectTrainsetSpec spec_;
};

/// Bilinear resampling of an ny x nx image to oy x ox with pixel centres aligned (torch's
/// interpolate, bilinear, align_corners = false): output pixel (i, j) samples input position
/// ((j + 0.5) nx / ox - 0.5, (i + 0.5) ny / oy - 0.5), clamped to the image.
void resample_bilinear(const float* in, int ny, int nx, float* out, int oy, int ox);
/// The input position that output index i samples along an axis of n -> o pixels.
inline double bilinear_source(int i, int n, int o) { return (i + 0.5) * double(n) / double(o) - 0.5; }

}  // namespace tmdflow::sim
