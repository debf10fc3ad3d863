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
#include "tmdflow/sim/realism.hpp"

namespace tmdflow::sim {

class PatchScan {
 public:
  /// `adf`: the microscope, the native grid (ny = nx = native pixels of adf.pixel_A) and its origin
  /// (x0, y0) set; `patch_px` detector pixels of `detector_pixel_A` cover the same field.
  PatchScan(const AdfSpec& adf, const ScanDistortion& distortion, int patch_px, double detector_pixel_A, std::uint64_t scan_seed);

  /// The patch (patch_px^2 floats): the scan of `s`, Poisson-counted at `dose` e/A^2 (0: noise-free,
  /// a fraction of the beam), resampled to the detector's pixel.
  void render(const Structure& s, double dose, std::uint64_t noise_seed, float* image);

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
