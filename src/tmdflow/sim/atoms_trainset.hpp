#pragma once
// Training patches for atom-column segmentation and site classification in Mo/W/S/Se alloy
// monolayers (stage make-atoms-trainset; issue #17; data_schema/atoms.md): ADF images of an alloy
// M(1-x)M'(x) X2(1-y) Y2y monolayer with metal vacancies and single and double chalcogen vacancies,
// with one heat map per site class (sim/site_classes.hpp: a Gaussian of peak 1 on every site of
// that class, empty sites included, where the scan saw it) and the list of every site (class and
// nominal pixel position).
//
// Every condition is drawn per patch so that the network holds on images made otherwise: the
// composition x, y (uniform in their ranges, or an end of the range with probability
// `end_member` each, as binary compounds are common), the lattice constant from the composition
// (Vegard's law over the four end members) times a calibration error, orientation, defect
// densities, dose (log-uniform), voltage, convergence, detector angles, defocus, source size, line
// jitter, drift, contamination, and the scan's pixel size (the patch is scanned at it and resampled
// bilinearly to the network's pixel, as map inference resamples an image: sim/patch_scan.hpp).
// Patch k depends only on (seed, k): any split over ranks gives the same set.
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/sim/patch_scan.hpp"
#include "tmdflow/sim/site_classes.hpp"
#include "tmdflow/sim/trainset.hpp"

namespace tmdflow::sim {

struct AtomsTrainsetSpec {
  std::int64_t count = 4000;
  int patch_px = 64;                  // the network's pixels per side
  double pixel_A = 0.2;               // the network's pixel
  AlloyElements elements;             // Mo, W, S, Se
  Range metal_alloy{0, 1};            // x: fraction of metal sites holding the alloying metal
  Range chalcogen_alloy{0, 1};        // y: fraction of chalcogen atoms of the alloying chalcogen
  double end_member = 0.15;           // probability that x (and, independently, y) is its range's min, and again its max
  Range metal_vacancy{0, 0.04};       // of the metal sites
  Range single_vacancy{0, 0.1};       // of the chalcogen columns: one atom missing
  Range double_vacancy{0, 0.03};      // both missing
  // The microscope and scan, drawn per patch: scan pixel, dose [e/A^2] (log-uniform; 0,0: noise-free),
  // voltage, convergence, detector inner and outer angles, defocus, source size, jitter, drift,
  // contamination (sim/patch_scan.hpp).
  ScanRanges scan{{0.08, 0.2}, {1e4, 1e6}, {60, 100}, {25, 35}, {50, 90}, {160, 250}, {-20, 20}, {0, 0.4}, {0, 0.05}, {0, 0.3}, {0, 0.03}};
  Range background{0, 0}, read_noise{0, 0}, psf_A{0, 0};  // PatchRealism, drawn per patch (a style's ranges)
  double scale_jitter = 0.03;         // lattice scaled by 1 +- this (calibration error)
  double Cs_A = 0;
  double heatmap_sigma_A = 0.4;
  std::uint64_t seed = 1;
};
/// Throws ConfigError naming the first bad parameter.
void validate(const AtomsTrainsetSpec& spec);
/// The lattice constant of the alloy by Vegard's law over the four end members (those missing
/// from the material table take the host's).
double alloy_lattice_constant(const AlloyElements& e, double x, double y);

/// What was drawn for one patch (written with it as labels/).
struct AtomsPatchLabels {
  double native_pixel_A = 0, dose = 0, voltage_kV = 0, convergence_mrad = 0, inner_mrad = 0, outer_mrad = 0;
  double defocus_A = 0, source_size_A = 0, jitter_A = 0, drift_x_A = 0, drift_y_A = 0, contamination = 0;
  double lattice_A = 0, phi_deg = 0, metal_alloy = 0, chalcogen_alloy = 0, metal_vacancy = 0, single_vacancy = 0, double_vacancy = 0;
  double sites = 0;  // sites whose nominal pixel lies in the patch
  double background = 0, read_noise = 0, psf_A = 0;
  struct Field {
    const char* name;
    double AtomsPatchLabels::*member;
    const char* units;
    const char* description;
  };
  static const std::vector<Field>& fields();
};

/// One site of a patch: its class and nominal (jitter- and drift-free) position in the patch's
/// pixels, x = column, y = row.
struct PatchSite {
  int site_class = 0;
  double x_px = 0, y_px = 0;
};

class AtomsTrainsetGenerator {
 public:
  explicit AtomsTrainsetGenerator(const AtomsTrainsetSpec& spec);
  /// Patch `index` (patch_px^2 floats), its heat maps (kSiteClasses x patch_px^2 floats, may be
  /// null) and its labels; `sites` (may be null) receives the sites whose nominal pixel lies in the
  /// patch.
  AtomsPatchLabels patch(std::int64_t index, float* image, float* heatmaps, std::vector<PatchSite>* sites = nullptr);

 private:
  AtomsTrainsetSpec spec_;
};

}  // namespace tmdflow::sim
