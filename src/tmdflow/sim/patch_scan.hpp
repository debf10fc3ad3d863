#pragma once
// One training patch as the detector trainsets render it (make-defect-trainset, make-atoms-trainset):
// the incoherent ADF image scanned at the patch's own pixel with line jitter and drift, counted at a
// dose, and resampled bilinearly to the detector's pixel exactly as map inference resamples an image
// (learn/map_inference.hpp); and heat maps whose Gaussians sit where the scan saw each site. A
// detector pixel (i, j) is a bilinear mix of the scan's probe positions, so the structure point it
// looks at is the same mix of those positions: a site's Gaussian follows the jitter and drift that
// moved its image.
#include <cstdint>
#include <vector>

#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/trainset.hpp"

namespace tmdflow::sim {

/// The ranges a detector trainset draws each patch's microscope and scan from.
struct ScanRanges {
  Range native_pixel_A, dose, voltage_kV, convergence_mrad, inner_mrad, outer_mrad, defocus_A, source_size_A, jitter_A, drift_A, contamination;
};

/// ConfigError naming the option (make-defect-trainset's and make-atoms-trainset's names) of the
/// first bad range: pixels of 0.02 to 1 A, 20 to 400 kV, positive angles with every inner angle below
/// every outer one, non-negative blur, jitter, drift and contamination, MIN <= MAX, finite.
void validate(const ScanRanges& ranges);

/// One patch's microscope and scan, and the simulation set up from them.
struct ScanDraw {
  int native = 0;               // scan pixels per side (the patch's field exactly)
  double native_pixel_A = 0, dose = 0, voltage_kV = 0, convergence_mrad = 0, inner_mrad = 0, outer_mrad = 0;
  double defocus_A = 0, source_size_A = 0, jitter_A = 0, drift_A = 0, drift_x_A = 0, drift_y_A = 0, contamination = 0;
  AdfSpec adf;                  // native grid and origin set (adf_field), margin 6 A
  ScanDistortion distortion;
  AdfField field;
  /// Copies the draws into a patch's labels (members of the same names).
  template <class Labels>
  void record(Labels& L) const {
    L.native_pixel_A = native_pixel_A, L.dose = dose, L.voltage_kV = voltage_kV, L.convergence_mrad = convergence_mrad;
    L.inner_mrad = inner_mrad, L.outer_mrad = outer_mrad, L.defocus_A = defocus_A, L.source_size_A = source_size_A;
    L.jitter_A = jitter_A, L.drift_x_A = drift_x_A, L.drift_y_A = drift_y_A, L.contamination = contamination;
  }
};

/// The labels/ entries of the draws ScanDraw::record copies (name, member, units, description), for a
/// Labels type with a `Field` table (stages/label_table.hpp); `dose_description` is the dose's.
template <class Labels>
std::vector<typename Labels::Field> scan_label_fields(const char* dose_description) {
  using L = Labels;
  return {
      {"native_pixel_A", &L::native_pixel_A, "A", "pixel of the simulated scan (resampled to the patch's pixel_A)"},
      {"dose", &L::dose, "e/A^2", dose_description},
      {"voltage_kV", &L::voltage_kV, "kV", "accelerating voltage"},
      {"convergence_mrad", &L::convergence_mrad, "mrad", "probe convergence semi-angle"},
      {"inner_mrad", &L::inner_mrad, "mrad", "ADF detector inner angle"},
      {"outer_mrad", &L::outer_mrad, "mrad", "ADF detector outer angle"},
      {"defocus_A", &L::defocus_A, "A", "C1"},
      {"source_size_A", &L::source_size_A, "A", "Gaussian source size (sigma)"},
      {"jitter_A", &L::jitter_A, "A", "scan-line jitter along x (rms)"},
      {"drift_x_A", &L::drift_x_A, "A", "sample drift over the patch's scan, x component"},
      {"drift_y_A", &L::drift_y_A, "A", "sample drift over the patch's scan, y component"},
      {"contamination", &L::contamination, "atoms/A^2", "amorphous carbon density"},
  };
}

/// Draws, in this order (a trainset's patches depend on it): the scan's pixel (adjusted so that
/// its grid covers the patch's field of patch_px x pixel_A exactly), the dose (log-uniform; 0 when
/// the range is 0,0), voltage, convergence, detector angles, defocus, source size, jitter, drift and
/// its direction, contamination; then sets up the ADF simulation (Cs given).
ScanDraw draw_scan(const ScanRanges& ranges, int patch_px, double pixel_A, double Cs_A, rng::Stream& g);

/// Realism beyond the dose (simulate-adf's, and what style-fit fits): a uniform background added
/// before the noise (fraction of the beam), read noise (detected electrons rms), a Gaussian
/// point-spread after the noise (sigma, Angstrom). All 0: none.
struct PatchRealism {
  double background = 0, read_noise = 0, psf_A = 0;
};

class PatchScan {
 public:
  /// `adf`: the microscope, the native grid (ny = nx = native pixels of adf.pixel_A) and its origin
  /// (x0, y0) set; `patch_px` detector pixels of `detector_pixel_A` cover the same field.
  PatchScan(const AdfSpec& adf, const ScanDistortion& distortion, int patch_px, double detector_pixel_A, std::uint64_t scan_seed);

  /// The patch (patch_px^2 floats): the scan of `s`, Poisson-counted at `dose` e/A^2 (0: noise-free,
  /// a fraction of the beam), resampled to the detector's pixel.
  void render(const Structure& s, double dose, std::uint64_t noise_seed, float* image, const PatchRealism& realism = {});

  /// The nominal detector pixel (column, row) of structure point (x, y) (no jitter or drift).
  double column_of(double x) const;
  double row_of(double y) const;

  /// Adds exp(-|r - r_site|^2 / (2 sigma^2)) at the detector pixels within `reach` pixels of the
  /// site's nominal pixel, r being the structure point each pixel looks at.
  void splat(float* map, double x, double y, double sigma_A, int reach) const;

  int patch_px() const { return P_; }

 private:
  AdfSpec adf_;
  int P_, native_;
  double pixel_A_;
  std::vector<double> xs_, ys_;  // the scan's probe positions (native grid)
  std::vector<double> px_, py_;  // the structure point each detector pixel looks at
};

}  // namespace tmdflow::sim
