#pragma once
// Incoherent ADF-STEM imaging (the incoSTEM model; Kirkland, Advanced Computing in Electron
// Microscopy, 2nd ed., sec. 6.5): the image is the object -- each atom a point of strength equal to
// its elastic cross-section collected by the annular detector (elements.hpp, computed from the
// scattering factor, not a power law of Z) -- convolved with the probe intensity. Intensities are
// the fraction of the incident beam that reaches the detector at each probe position.
//
// Implementation: atoms are deposited onto a padded grid with bilinear weights, transformed (FFTW
// r2c), multiplied by the probe intensity's transform divided by the bilinear window's transform
// (which undoes the deposit's blur exactly inside the probe's band limit), and transformed back.
// Cost per image: one r2c + one c2r FFT of the padded grid plus O(atoms).
#include <map>
#include <memory>
#include <vector>

#include "tmdflow/core/fft.hpp"
#include "tmdflow/sim/grid.hpp"
#include "tmdflow/sim/probe.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

struct AdfSpec {
  ProbeSpec probe;
  double inner_mrad = 60, outer_mrad = 200;  // detector angles
  int ny = 512, nx = 512;                    // image pixels
  double pixel_A = 0.1;                      // probe step (Angstrom)
  double x0 = 0, y0 = 0;                     // structure-frame position of pixel (0, 0)
  double margin_A = 8;                       // atoms this far outside the image still contribute
};

/// Where an image lies in the structure it shows: the first probe position (x0, y0) and the extent
/// of the structure needed, which holds the scan, the simulator's margin and room for drift and
/// jitter so that every probe position sees atoms all around.
struct AdfField {
  double x0 = 0, y0 = 0, extent_x = 0, extent_y = 0;
};
AdfField adf_field(const AdfSpec& spec, const ScanDistortion& distortion);

class AdfSimulator {
 public:
  /// Plans the FFTs and computes the probe's transform once; reuse for many images of the
  /// same geometry (make-trainset). Throws ConfigError for inconsistent parameters.
  explicit AdfSimulator(const AdfSpec& spec);
  ~AdfSimulator();
  AdfSimulator(const AdfSimulator&) = delete;
  AdfSimulator& operator=(const AdfSimulator&) = delete;

  const AdfSpec& spec() const { return spec_; }
  /// Detector cross-section (Angstrom^2) of element Z (cached).
  double cross_section(int Z);

  /// The noise-free image on the padded grid (padded_grid()), for resampling at distorted
  /// probe positions (realism.hpp). Structure positions in Angstrom, same frame as spec.x0/y0.
  const float* padded_image(const Structure& s);
  const Grid& padded_grid() const { return padded_; }

  /// The noise-free image (spec.ny x spec.nx), the padded image cut at the scan grid.
  void image(const Structure& s, float* out);
  /// Cuts the scan grid out of a padded image (from padded_image).
  void crop(const float* padded, float* out) const;

 private:
  AdfSpec spec_;
  Grid padded_;
  int margin_px_ = 0;
  std::map<int, double> sigma_;
  std::unique_ptr<fft::RealPlan2D<float>> plan_;
  fft::RealBuffer<float> object_;
  fft::Buffer<float> spectrum_;
  std::vector<cfloat> filter_;      // probe transform / bilinear window / N (r2c layout)
  fft::RealBuffer<float> result_;
};

}  // namespace tmdflow::sim
