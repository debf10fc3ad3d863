#pragma once
// The one FFT interface of tmdflow (FFTW on the host). Complex-to-complex 2-D transforms, in place
// or out of place, optionally batched; the inverse is unnormalised (as FFTW's): a forward then an
// inverse transform multiplies by ny*nx. Plans are made once and executed on any buffer allocated
// with fft::Buffer (aligned as FFTW wants).
#include <complex>
#include <cstddef>
#include <memory>

namespace tmdflow::fft {

enum class Effort { estimate, measure };

/// Aligned complex buffer.
template <class Real>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t n);
  std::complex<Real>* data() { return ptr_.get(); }
  const std::complex<Real>* data() const { return ptr_.get(); }
  std::size_t size() const { return n_; }
  std::complex<Real>& operator[](std::size_t i) { return ptr_.get()[i]; }
  const std::complex<Real>& operator[](std::size_t i) const { return ptr_.get()[i]; }

 private:
  struct Free { void operator()(std::complex<Real>* p) const; };
  std::unique_ptr<std::complex<Real>, Free> ptr_;
  std::size_t n_ = 0;
};

/// 2-D complex transform of `batch` contiguous ny*nx arrays (row-major, x fastest).
template <class Real>
class Plan2D {
 public:
  Plan2D(int ny, int nx, int batch = 1, Effort effort = Effort::estimate);
  ~Plan2D();
  Plan2D(const Plan2D&) = delete;
  Plan2D& operator=(const Plan2D&) = delete;
  Plan2D(Plan2D&&) noexcept;
  Plan2D& operator=(Plan2D&&) noexcept;

  /// In place; `data` must come from Buffer (or be equally aligned).
  void forward(std::complex<Real>* data) const;
  void inverse(std::complex<Real>* data) const;
  int ny() const { return ny_; }
  int nx() const { return nx_; }
  int batch() const { return batch_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int ny_, nx_, batch_;
};

/// Aligned real buffer (for real-to-complex transforms).
template <class Real>
class RealBuffer {
 public:
  RealBuffer() = default;
  explicit RealBuffer(std::size_t n);
  Real* data() { return ptr_.get(); }
  const Real* data() const { return ptr_.get(); }
  std::size_t size() const { return n_; }
  Real& operator[](std::size_t i) { return ptr_.get()[i]; }
  const Real& operator[](std::size_t i) const { return ptr_.get()[i]; }

 private:
  struct Free { void operator()(Real* p) const; };
  std::unique_ptr<Real, Free> ptr_;
  std::size_t n_ = 0;
};

/// 2-D real-to-complex transform of an ny*nx real array (x fastest) into ny*(nx/2+1) complex
/// values (the non-negative x frequencies), and its unnormalised inverse. Out of place; buffers
/// from RealBuffer / Buffer. The inverse overwrites its complex input.
template <class Real>
class RealPlan2D {
 public:
  RealPlan2D(int ny, int nx, Effort effort = Effort::estimate);
  ~RealPlan2D();
  RealPlan2D(const RealPlan2D&) = delete;
  RealPlan2D& operator=(const RealPlan2D&) = delete;

  void forward(const Real* in, std::complex<Real>* out) const;
  void inverse(std::complex<Real>* in, Real* out) const;
  int ny() const { return ny_; }
  int nx() const { return nx_; }
  int nx_complex() const { return nx_ / 2 + 1; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int ny_, nx_;
};

/// Frequency of FFT bin i of n samples with spacing d: i/(n d) for i < (n+1)/2, else (i-n)/(n d).
inline double frequency(int i, int n, double d) {
  return (i < (n + 1) / 2 ? double(i) : double(i - n)) / (double(n) * d);
}

}  // namespace tmdflow::fft
