#pragma once
// Simulated 4D-STEM of a monolayer polycrystal with its ground truth: the structure spans the
// scan plus a margin (half a probe window and the potential cutoff), domain seeds lie inside the
// scanned area, and patterns come row by row from the multislice engine, then pass through the
// detector (descan shift, point-spread, counting noise). Scan pixel (i, j) is probed at
// x = origin + j * step, y = origin + i * step (x along scan columns Ry, y along rows Rx), so the
// scan frame and the structure frame share axes and orientation_deg needs no rotation.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tmdflow/sim/holes.hpp"
#include "tmdflow/sim/multislice.hpp"
#include "tmdflow/sim/realism.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

struct ScanSimulationSpec {
  PolycrystalSpec crystal;         // extent and seeds are set from the scan (see header comment)
  MultisliceSpec multislice;
  int scan_rows = 32, scan_cols = 32;
  double step_A = 10;
  ScanDistortion distortion;
  double electrons_per_pattern = 0;  // 0: noise-free intensities (fractions of the beam)
  double read_noise = 0;             // electrons rms per detector pixel
  double psf_sigma_px = 0;           // detector point-spread (Gaussian sigma, pixels)
  double descan[4] = {0, 0, 0, 0};   // pattern shift (px) per nm of scan position: dx/dx, dx/dy, dy/dx, dy/dy
  // Lattice rotation field (degrees per nm of scan position along x = columns and y = rows, zero at
  // the scan centre): each pattern is that of its domain's lattice turned by the local angle about
  // the probe (the ground truth's orientation includes it). A bend that a nanobeam sees as a rotation.
  double rotation_gradient[2] = {0, 0};
  // Vacuum holes in the film, centres drawn inside the scanned area (keyed by the seed).
  HoleSpec holes;
  std::uint64_t seed = 1;
};

/// Ground-truth maps on the scan grid (row-major scan_rows x scan_cols), at the nominal probe
/// positions; orientation includes the rotation field (and twist and polarity follow from it).
/// In a hole: vacuum 1, domain -1, orientation and twist NaN, polarity 0.
struct ScanGroundTruth {
  std::vector<std::int32_t> domain;
  std::vector<float> orientation_deg, twist_deg;
  std::vector<std::int8_t> polarity;
  std::vector<std::uint8_t> vacuum;
};

class ScanSimulation {
 public:
  explicit ScanSimulation(const ScanSimulationSpec& spec);
  ~ScanSimulation();
  const ScanSimulationSpec& spec() const { return spec_; }
  const Structure& structure() const { return structure_; }
  const std::vector<Hole>& holes() const { return holes_; }
  double origin_A() const { return origin_; }
  ScanGroundTruth ground_truth() const;
  int slices() const;
  /// Patterns of scan row `row` (scan_cols patterns of detector.size^2 floats).
  void row(int row, float* out);
  /// Rotation (degrees) of the lattice at scan pixel (i, j) from the rotation field.
  double rotation_deg(int i, int j) const;

 private:
  ScanSimulationSpec spec_;
  Structure structure_;
  std::vector<Hole> holes_;
  double origin_ = 0;
  std::vector<double> xs_, ys_;   // probe positions (with distortion)
  std::unique_ptr<Multislice> engine_;
};

/// One noise-free nanobeam pattern (detector.size^2, fraction of the beam per pixel) of a static
/// monolayer of `material` with orientation phi_deg, the probe on a metal site at the field's centre.
/// Used to calibrate which Friedel triplet is brighter for a polarity at a given voltage and convergence.
std::vector<float> monolayer_pattern(const std::string& material, double phi_deg, const ProbeSpec& probe, const DetectorSpec& detector);

}  // namespace tmdflow::sim
