#pragma once
// A sampling grid of the simulation engine, and the execution space its kernels run in. FFTs go
// through core/fft (FFTW on the host), so sim kernels run in the host execution space: with an
// OpenMP Kokkos they use every core of a rank, with Serial one.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <complex>

namespace tmdflow::sim {

using HostExec = Kokkos::DefaultHostExecutionSpace;
using cfloat = std::complex<float>;

/// Complex product without the C99 Annex G inf/NaN recovery that std::complex's operator* must do
/// (which keeps GCC from vectorising it): the wave and potentials here are always finite.
inline cfloat cmul(cfloat a, cfloat b) {
  return cfloat(a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real());
}

/// ny x nx pixels of size dy x dx (Angstrom); pixel (i, j) has its centre at
/// (x0 + j*dx, y0 + i*dy). x is the last array axis.
struct Grid {
  int ny = 0, nx = 0;
  double dy = 0, dx = 0;
  double y0 = 0, x0 = 0;
  std::size_t size() const { return std::size_t(ny) * std::size_t(nx); }
  double extent_y() const { return ny * dy; }
  double extent_x() const { return nx * dx; }
};

/// Spatial frequency (1/Angstrom) of FFT bin i of n samples with spacing d.
inline double fft_frequency(int i, int n, double d) { return (i < (n + 1) / 2 ? double(i) : double(i - n)) / (n * d); }

/// The smallest n' >= n whose prime factors are 2, 3 and 5 and, above 64, a multiple of 16 (fast
/// FFT sizes for FFTW's estimated plans).
int fft_friendly_size(int n);

}  // namespace tmdflow::sim
