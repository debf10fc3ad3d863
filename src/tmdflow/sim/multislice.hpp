#pragma once
// Multislice 4D-STEM (Kirkland, Advanced Computing in Electron Microscopy, 2nd ed., ch. 6; Cowley
// & Moodie 1957): for each probe position the probe wave is multiplied by each slice's
// transmission function t = exp(i sigma v_z) and propagated to the next slice with the Fresnel
// propagator exp(-i pi lambda dz k^2); the wave is band-limited to 2/3 of the Nyquist frequency
// (antialiasing) at every step; the far-field intensity |FFT(psi_exit)|^2 is integrated onto the
// detector grid.
//
// Potentials are rasterised once per scan row into a strip that holds every probe window of the
// row (windows are integer-pixel crops of the strip; the probe's sub-pixel position goes into its
// phase ramp), so a field of any size never needs one huge potential. A focal spread is an
// incoherent sum over Gauss-Hermite defocus nodes (each a full multislice run); a source size would
// blur over scan positions and is refused here (it belongs to the scan, not the pattern).
#include <cstdint>
#include <memory>
#include <vector>

#include "tmdflow/sim/grid.hpp"
#include "tmdflow/sim/potential.hpp"
#include "tmdflow/sim/probe.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

/// Detector of a 4D-STEM simulation: size x size pixels spanning scattering angles
/// [-max_mrad, max_mrad) along each axis; the undiffracted beam falls on pixel (size/2, size/2)
/// (row = ky, column = kx: x is the last axis, as in real space).
struct DetectorSpec {
  int size = 128;
  double max_mrad = 40;
  double pixel_mrad() const { return 2.0 * max_mrad / size; }
};

struct MultisliceSpec {
  ProbeSpec probe;
  DetectorSpec detector;
  int window_px = 256;            // simulation window (pixels per side)
  double slice_thickness_A = 1.0;
  double potential_cutoff_A = 3.0;
  int frozen_phonons = 0;         // 0: static lattice; n > 0: average of n configurations
  double phonon_scale = 1.0;      // scales the elements' default rms displacements
  bool weak_phase = false;        // t = 1 + i sigma v_z (first-order; for tests)
  std::uint64_t seed = 1;
};

class Multislice {
 public:
  /// Checks the sampling (throws ConfigError saying what to change) and plans the FFTs.
  Multislice(const MultisliceSpec& spec, const Structure& structure);
  ~Multislice();
  Multislice(const Multislice&) = delete;
  Multislice& operator=(const Multislice&) = delete;

  /// Real-space pixel size (Angstrom): the band limit (2/3 Nyquist) reaches the detector edge.
  double pixel_A() const { return dx_; }
  static double pixel_size_A(const MultisliceSpec& spec);
  double window_A() const { return dx_ * spec_.window_px; }
  int slices() const;

  /// Patterns (detector.size^2 floats each, fraction of the beam per detector pixel) for probes at
  /// (xs[k], y) in the structure frame. `shift_x_px`, `shift_y_px` (optional, one per probe) move each
  /// pattern on the detector by a sub-pixel amount (descan); `rotation_deg` (optional, one per probe)
  /// turns each pattern about the optical axis (detector pixel (size/2, size/2)) by that angle,
  /// counter-clockwise in atan2(row, column): the pattern of the lattice rotated by it about the
  /// probe. out has xs.size() patterns.
  void row(double y, const std::vector<double>& xs, float* out, const double* shift_x_px = nullptr,
           const double* shift_y_px = nullptr, const double* rotation_deg = nullptr);

  /// The exit-wave intensity on the simulation's own reciprocal grid (window_px^2, FFT order,
  /// frequency fft_frequency(j, n, pixel_A())), for one probe position: used by tests of spot
  /// positions and Friedel pairs.
  std::vector<float> raw_pattern(double x, double y);

 private:
  struct Strip;
  void build_strip(int config, double y, double xmin, double xmax, Strip& strip) const;
  void propagate_one(const Strip& strip, double x, double y, std::size_t focus, float* intensity);
  void integrate(const float* intensity, float* pattern, double sx, double sy, double rotation_deg) const;

  MultisliceSpec spec_;
  double lambda_ = 0, sigma_ = 0, dx_ = 0;
  std::vector<SlicedAtoms> configs_;          // one per frozen-phonon configuration
  std::unique_ptr<PotentialTable> table_;
  struct Fft;
  std::unique_ptr<Fft> fft_;
  std::vector<std::vector<cfloat>> probe_k_;   // aperture * exp(-i chi) (unshifted), per focal-spread node
  std::vector<double> focus_weights_;          // Gauss-Hermite weights of the focal spread (one node: 1)
  std::vector<std::vector<cfloat>> propagators_;  // per gap between slices (with mask and 1/N)
  std::vector<float> mask_;                    // antialias aperture (band limit), 0 or 1
  std::vector<int> bins_;                      // sim reciprocal pixels inside the band limit
  std::vector<float> bin_u_, bin_v_;           // their detector coordinates (pixels)
};

}  // namespace tmdflow::sim
