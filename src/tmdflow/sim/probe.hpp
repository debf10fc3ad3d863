#pragma once
// The STEM probe: aperture, aberrations and partial coherence. Aberrations follow Krivanek's
// notation (Krivanek, Dellby & Lupini, Ultramicroscopy 78, 1 (1999); as abTEM's C10, C12, ...):
//   chi(k) = 2 pi / lambda * [ 1/2 t^2 (C1 + A1 cos 2(a - a_A1)) + 1/3 t^3 (B2 cos(a - a_B2)
//            + A2 cos 3(a - a_A2)) + 1/4 t^4 Cs ],   t = lambda |k|, a = atan2(ky, kx)
// and the probe wave in reciprocal space is A(k) exp(-i chi(k)). C1 < 0 is underfocus
// (defocus = -C1); B2 is the coma coefficient C21 (= 3 B2 in some codes; here the coefficient in
// chi as written). Lengths in Angstrom, angles in degrees, convergence in mrad.
#include <cstdint>
#include <vector>

#include "tmdflow/sim/grid.hpp"

namespace tmdflow::sim {

struct Aberrations {
  double C1 = 0;                     // defocus coefficient C10 (Angstrom)
  double A1 = 0, A1_angle_deg = 0;   // two-fold astigmatism C12
  double B2 = 0, B2_angle_deg = 0;   // axial coma C21
  double A2 = 0, A2_angle_deg = 0;   // three-fold astigmatism C23
  double Cs = 0;                     // spherical aberration C30 (Angstrom)
};

struct ProbeSpec {
  double voltage_kV = 80;
  double convergence_mrad = 25;      // aperture semi-angle
  Aberrations aberrations;
  double source_size_A = 0;          // Gaussian source size (standard deviation, Angstrom)
  double defocus_spread_A = 0;       // focal spread (standard deviation of C1, Angstrom)
  int defocus_spread_points = 7;     // Gauss-Hermite points for the focal spread
};

/// Checks ranges; throws ConfigError naming the parameter.
void validate(const ProbeSpec& spec);

/// Aberration phase chi (radians) at spatial frequency (kx, ky) in 1/Angstrom, with an extra
/// defocus added to C1.
double aberration_phase(const ProbeSpec& spec, double kx, double ky, double extra_C1 = 0);

/// Probe wave in reciprocal space on the FFT grid of `grid` (index (i, j) = frequency
/// (fft_frequency(j, nx, dx), fft_frequency(i, ny, dy))), for a probe centred at real-space
/// position (cx, cy) relative to the grid's pixel (0, 0): A(k) exp(-i chi(k) - 2 pi i k.c). The
/// aperture edge is antialiased over one reciprocal pixel. Normalised so that the unnormalised
/// inverse FFT (FFTW's backward transform) gives the real-space wave with sum |psi|^2 = 1.
void probe_wave_fourier(const ProbeSpec& spec, const Grid& grid, double cx, double cy, cfloat* out,
                        double extra_C1 = 0);

/// Probe wave in real space on `grid`, centred at (cx, cy) (relative to pixel (0, 0); periodic),
/// normalised so that sum over pixels |psi|^2 = 1 (the fraction of the beam in each pixel).
std::vector<cfloat> probe_wave_real(const ProbeSpec& spec, const Grid& grid, double cx, double cy, double extra_C1 = 0);

/// Probe intensity on `grid` centred at pixel (0, 0) (periodic, wrapped), including the focal
/// spread (incoherent sum over Gauss-Hermite defocus points) and the source size (convolution with
/// a Gaussian), in units of 1/Angstrom^2, so that its integral (sum * dx * dy) is 1.
std::vector<double> probe_intensity(const ProbeSpec& spec, const Grid& grid);

/// Nodes and weights of Gauss-Hermite quadrature for a standard normal (weights sum to 1).
void gauss_hermite_normal(int n, std::vector<double>& nodes, std::vector<double>& weights);

}  // namespace tmdflow::sim
