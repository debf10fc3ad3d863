#pragma once
// The one FFT interface of tmdflow (FFTW on the host). Complex-to-complex 2-D transforms, in place
// or out of place, optionally batched; the inverse is unnormalised (as FFTW's): a forward then an
// inverse transform multiplies by ny*nx. Plans are made once and executed on any buffer allocated
// with fft::Buffer (aligned as FFTW wants).
#include <complex>
#include <cstddef>
#include <functional>
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

/// A 2-D complex transform done as row transforms, then column transforms over blocks of columns
/// copied to a small contiguous scratch. Its plans are FFTW_ESTIMATE plans of 1-D transforms, so
/// results are bit-reproducible from run to run (a measured plan may differ between processes) and
/// it stays fast at power-of-two sizes, where FFTW's estimated 2-D plans are 2-3x slower than
/// measured ones. `filter` runs a function on each column block in reciprocal space between the
/// forward and inverse column transforms, so a multiplication in reciprocal space (a propagator)
/// costs no extra pass over memory. Unnormalised, like Plan2D.
template <class Real>
class BlockedPlan2D {
 public:
  /// Block (column block, layout [ny][ncols] with row stride `block`): ncols <= block, starting at
  /// column c0 of the full array.
  using BlockFunction = std::function<void(std::complex<Real>* block, int c0, int ncols)>;
  BlockedPlan2D(int ny, int nx, int block = 16);
  ~BlockedPlan2D();
  BlockedPlan2D(const BlockedPlan2D&) = delete;
  BlockedPlan2D& operator=(const BlockedPlan2D&) = delete;

  void forward(std::complex<Real>* data);
  void inverse(std::complex<Real>* data);
  /// inverse(filter(forward(data))): forward rows; per column block: forward columns, `f`, inverse
  /// columns; inverse rows.
  void filter(std::complex<Real>* data, const BlockFunction& f);
  int ny() const { return ny_; }
  int nx() const { return nx_; }
  int block() const { return block_; }

 private:
  void columns(std::complex<Real>* data, int direction, const BlockFunction* f);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int ny_, nx_, block_;
};

/// Frequency of FFT bin i of n samples with spacing d: i/(n d) for i < (n+1)/2, else (i-n)/(n d).
inline double frequency(int i, int n, double d) {
  return (i < (n + 1) / 2 ? double(i) : double(i - n)) / (double(n) * d);
}

}  // namespace tmdflow::fft
