#include "tmdflow/core/fft.hpp"

#include <fftw3.h>

#include <cstring>
#include <mutex>
#include <new>

#include "tmdflow/core/error.hpp"

namespace tmdflow::fft {
namespace {
std::mutex& planner_mutex() {  // FFTW's planner is not thread safe
  static std::mutex m;
  return m;
}
unsigned flags_for(Effort e) { return (e == Effort::measure ? FFTW_MEASURE : FFTW_ESTIMATE); }
}  // namespace

// ---- double --------------------------------------------------------------------------------
template <>
Buffer<double>::Buffer(std::size_t n) : ptr_(static_cast<std::complex<double>*>(fftw_malloc(sizeof(fftw_complex) * (n ? n : 1)))), n_(n) {
  if (!ptr_) throw std::bad_alloc();
  for (std::size_t i = 0; i < n; ++i) ptr_.get()[i] = 0;
}
template <>
void Buffer<double>::Free::operator()(std::complex<double>* p) const { fftw_free(p); }

template <>
struct Plan2D<double>::Impl {
  fftw_plan fwd = nullptr, inv = nullptr;
};

template <>
Plan2D<double>::Plan2D(int ny, int nx, int batch, Effort effort) : impl_(new Impl), ny_(ny), nx_(nx), batch_(batch) {
  Buffer<double> tmp(std::size_t(ny) * nx * batch);
  auto* p = reinterpret_cast<fftw_complex*>(tmp.data());
  int n[2] = {ny, nx};
  std::lock_guard<std::mutex> lock(planner_mutex());
  impl_->fwd = fftw_plan_many_dft(2, n, batch, p, nullptr, 1, ny * nx, p, nullptr, 1, ny * nx, FFTW_FORWARD, flags_for(effort));
  impl_->inv = fftw_plan_many_dft(2, n, batch, p, nullptr, 1, ny * nx, p, nullptr, 1, ny * nx, FFTW_BACKWARD, flags_for(effort));
  if (!impl_->fwd || !impl_->inv) throw Error("FFTW could not plan a " + std::to_string(ny) + "x" + std::to_string(nx) + " transform", ExitCode::failure);
}
template <>
Plan2D<double>::~Plan2D() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(planner_mutex());
  if (impl_->fwd) fftw_destroy_plan(impl_->fwd);
  if (impl_->inv) fftw_destroy_plan(impl_->inv);
}
template <>
void Plan2D<double>::forward(std::complex<double>* d) const {
  fftw_execute_dft(impl_->fwd, reinterpret_cast<fftw_complex*>(d), reinterpret_cast<fftw_complex*>(d));
}
template <>
void Plan2D<double>::inverse(std::complex<double>* d) const {
  fftw_execute_dft(impl_->inv, reinterpret_cast<fftw_complex*>(d), reinterpret_cast<fftw_complex*>(d));
}

// ---- float ---------------------------------------------------------------------------------
template <>
Buffer<float>::Buffer(std::size_t n) : ptr_(static_cast<std::complex<float>*>(fftwf_malloc(sizeof(fftwf_complex) * (n ? n : 1)))), n_(n) {
  if (!ptr_) throw std::bad_alloc();
  for (std::size_t i = 0; i < n; ++i) ptr_.get()[i] = 0;
}
template <>
void Buffer<float>::Free::operator()(std::complex<float>* p) const { fftwf_free(p); }

template <>
struct Plan2D<float>::Impl {
  fftwf_plan fwd = nullptr, inv = nullptr;
};

template <>
Plan2D<float>::Plan2D(int ny, int nx, int batch, Effort effort) : impl_(new Impl), ny_(ny), nx_(nx), batch_(batch) {
  Buffer<float> tmp(std::size_t(ny) * nx * batch);
  auto* p = reinterpret_cast<fftwf_complex*>(tmp.data());
  int n[2] = {ny, nx};
  std::lock_guard<std::mutex> lock(planner_mutex());
  impl_->fwd = fftwf_plan_many_dft(2, n, batch, p, nullptr, 1, ny * nx, p, nullptr, 1, ny * nx, FFTW_FORWARD, flags_for(effort));
  impl_->inv = fftwf_plan_many_dft(2, n, batch, p, nullptr, 1, ny * nx, p, nullptr, 1, ny * nx, FFTW_BACKWARD, flags_for(effort));
  if (!impl_->fwd || !impl_->inv) throw Error("FFTW could not plan a " + std::to_string(ny) + "x" + std::to_string(nx) + " transform", ExitCode::failure);
}
template <>
Plan2D<float>::~Plan2D() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(planner_mutex());
  if (impl_->fwd) fftwf_destroy_plan(impl_->fwd);
  if (impl_->inv) fftwf_destroy_plan(impl_->inv);
}
template <>
void Plan2D<float>::forward(std::complex<float>* d) const {
  fftwf_execute_dft(impl_->fwd, reinterpret_cast<fftwf_complex*>(d), reinterpret_cast<fftwf_complex*>(d));
}
template <>
void Plan2D<float>::inverse(std::complex<float>* d) const {
  fftwf_execute_dft(impl_->inv, reinterpret_cast<fftwf_complex*>(d), reinterpret_cast<fftwf_complex*>(d));
}


// ---- real <-> complex (fftw) ----------------------------------------------------------------
template <>
RealBuffer<double>::RealBuffer(std::size_t n) : ptr_(static_cast<double*>(fftw_malloc(sizeof(double) * (n ? n : 1)))), n_(n) {
  if (!ptr_) throw std::bad_alloc();
  for (std::size_t i = 0; i < n; ++i) ptr_.get()[i] = 0;
}
template <>
void RealBuffer<double>::Free::operator()(double* p) const { fftw_free(p); }

template <>
struct RealPlan2D<double>::Impl {
  fftw_plan fwd = nullptr, inv = nullptr;
};

template <>
RealPlan2D<double>::RealPlan2D(int ny, int nx, Effort effort) : impl_(new Impl), ny_(ny), nx_(nx) {
  RealBuffer<double> r(std::size_t(ny) * nx);
  Buffer<double> c(std::size_t(ny) * (nx / 2 + 1));
  auto* cp = reinterpret_cast<fftw_complex*>(c.data());
  std::lock_guard<std::mutex> lock(planner_mutex());
  // FFTW_DESTROY_INPUT is the default for c2r; plans are reused on any aligned buffer.
  impl_->fwd = fftw_plan_dft_r2c_2d(ny, nx, r.data(), cp, flags_for(effort));
  impl_->inv = fftw_plan_dft_c2r_2d(ny, nx, cp, r.data(), flags_for(effort));
  if (!impl_->fwd || !impl_->inv) throw Error("FFTW could not plan a real " + std::to_string(ny) + "x" + std::to_string(nx) + " transform", ExitCode::failure);
}
template <>
RealPlan2D<double>::~RealPlan2D() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(planner_mutex());
  if (impl_->fwd) fftw_destroy_plan(impl_->fwd);
  if (impl_->inv) fftw_destroy_plan(impl_->inv);
}
template <>
void RealPlan2D<double>::forward(const double* in, std::complex<double>* out) const {
  fftw_execute_dft_r2c(impl_->fwd, const_cast<double*>(in), reinterpret_cast<fftw_complex*>(out));
}
template <>
void RealPlan2D<double>::inverse(std::complex<double>* in, double* out) const {
  fftw_execute_dft_c2r(impl_->inv, reinterpret_cast<fftw_complex*>(in), out);
}

// ---- real <-> complex (fftwf) ----------------------------------------------------------------
template <>
RealBuffer<float>::RealBuffer(std::size_t n) : ptr_(static_cast<float*>(fftwf_malloc(sizeof(float) * (n ? n : 1)))), n_(n) {
  if (!ptr_) throw std::bad_alloc();
  for (std::size_t i = 0; i < n; ++i) ptr_.get()[i] = 0;
}
template <>
void RealBuffer<float>::Free::operator()(float* p) const { fftwf_free(p); }

template <>
struct RealPlan2D<float>::Impl {
  fftwf_plan fwd = nullptr, inv = nullptr;
};

template <>
RealPlan2D<float>::RealPlan2D(int ny, int nx, Effort effort) : impl_(new Impl), ny_(ny), nx_(nx) {
  RealBuffer<float> r(std::size_t(ny) * nx);
  Buffer<float> c(std::size_t(ny) * (nx / 2 + 1));
  auto* cp = reinterpret_cast<fftwf_complex*>(c.data());
  std::lock_guard<std::mutex> lock(planner_mutex());
  // FFTW_DESTROY_INPUT is the default for c2r; plans are reused on any aligned buffer.
  impl_->fwd = fftwf_plan_dft_r2c_2d(ny, nx, r.data(), cp, flags_for(effort));
  impl_->inv = fftwf_plan_dft_c2r_2d(ny, nx, cp, r.data(), flags_for(effort));
  if (!impl_->fwd || !impl_->inv) throw Error("FFTW could not plan a real " + std::to_string(ny) + "x" + std::to_string(nx) + " transform", ExitCode::failure);
}
template <>
RealPlan2D<float>::~RealPlan2D() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(planner_mutex());
  if (impl_->fwd) fftwf_destroy_plan(impl_->fwd);
  if (impl_->inv) fftwf_destroy_plan(impl_->inv);
}
template <>
void RealPlan2D<float>::forward(const float* in, std::complex<float>* out) const {
  fftwf_execute_dft_r2c(impl_->fwd, const_cast<float*>(in), reinterpret_cast<fftwf_complex*>(out));
}
template <>
void RealPlan2D<float>::inverse(std::complex<float>* in, float* out) const {
  fftwf_execute_dft_c2r(impl_->inv, reinterpret_cast<fftwf_complex*>(in), out);
}

// ---- blocked 2-D (float only: the multislice engine's transform) ---------------------------------
template <>
struct BlockedPlan2D<float>::Impl {
  fftwf_plan rows_fwd = nullptr, rows_inv = nullptr, cols_fwd = nullptr, cols_inv = nullptr, tail_fwd = nullptr, tail_inv = nullptr;
  Buffer<float> scratch;
};

template <>
BlockedPlan2D<float>::BlockedPlan2D(int ny, int nx, int block) : impl_(new Impl), ny_(ny), nx_(nx), block_(std::min(block, nx)) {
  Buffer<float> tmp(std::size_t(ny) * nx);
  impl_->scratch = Buffer<float>(std::size_t(ny) * block_);
  auto* p = reinterpret_cast<fftwf_complex*>(tmp.data());
  auto* s = reinterpret_cast<fftwf_complex*>(impl_->scratch.data());
  int nrow[1] = {nx}, ncol[1] = {ny};
  const int tail = nx % block_;
  std::lock_guard<std::mutex> lock(planner_mutex());
  impl_->rows_fwd = fftwf_plan_many_dft(1, nrow, ny, p, nullptr, 1, nx, p, nullptr, 1, nx, FFTW_FORWARD, FFTW_ESTIMATE);
  impl_->rows_inv = fftwf_plan_many_dft(1, nrow, ny, p, nullptr, 1, nx, p, nullptr, 1, nx, FFTW_BACKWARD, FFTW_ESTIMATE);
  impl_->cols_fwd = fftwf_plan_many_dft(1, ncol, block_, s, nullptr, block_, 1, s, nullptr, block_, 1, FFTW_FORWARD, FFTW_ESTIMATE);
  impl_->cols_inv = fftwf_plan_many_dft(1, ncol, block_, s, nullptr, block_, 1, s, nullptr, block_, 1, FFTW_BACKWARD, FFTW_ESTIMATE);
  if (tail) {
    impl_->tail_fwd = fftwf_plan_many_dft(1, ncol, tail, s, nullptr, block_, 1, s, nullptr, block_, 1, FFTW_FORWARD, FFTW_ESTIMATE);
    impl_->tail_inv = fftwf_plan_many_dft(1, ncol, tail, s, nullptr, block_, 1, s, nullptr, block_, 1, FFTW_BACKWARD, FFTW_ESTIMATE);
  }
  if (!impl_->rows_fwd || !impl_->rows_inv || !impl_->cols_fwd || !impl_->cols_inv || (tail && (!impl_->tail_fwd || !impl_->tail_inv)))
    throw Error("FFTW could not plan a blocked " + std::to_string(ny) + "x" + std::to_string(nx) + " transform", ExitCode::failure);
}

template <>
BlockedPlan2D<float>::~BlockedPlan2D() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lock(planner_mutex());
  for (fftwf_plan p : {impl_->rows_fwd, impl_->rows_inv, impl_->cols_fwd, impl_->cols_inv, impl_->tail_fwd, impl_->tail_inv})
    if (p) fftwf_destroy_plan(p);
}

template <>
void BlockedPlan2D<float>::columns(std::complex<float>* data, int direction, const BlockFunction* f) {
  std::complex<float>* s = impl_->scratch.data();
  auto* fs = reinterpret_cast<fftwf_complex*>(s);
  for (int c0 = 0; c0 < nx_; c0 += block_) {
    const int nc = std::min(block_, nx_ - c0);
    for (int i = 0; i < ny_; ++i) std::memcpy(s + std::size_t(i) * block_, data + std::size_t(i) * nx_ + c0, sizeof(std::complex<float>) * nc);
    const bool full = nc == block_;
    if (direction <= 0) fftwf_execute_dft(full ? impl_->cols_fwd : impl_->tail_fwd, fs, fs);
    if (f) (*f)(s, c0, nc);
    if (direction >= 0) fftwf_execute_dft(full ? impl_->cols_inv : impl_->tail_inv, fs, fs);
    for (int i = 0; i < ny_; ++i) std::memcpy(data + std::size_t(i) * nx_ + c0, s + std::size_t(i) * block_, sizeof(std::complex<float>) * nc);
  }
}

template <>
void BlockedPlan2D<float>::forward(std::complex<float>* d) {
  auto* p = reinterpret_cast<fftwf_complex*>(d);
  fftwf_execute_dft(impl_->rows_fwd, p, p);
  columns(d, -1, nullptr);
}
template <>
void BlockedPlan2D<float>::inverse(std::complex<float>* d) {
  auto* p = reinterpret_cast<fftwf_complex*>(d);
  columns(d, +1, nullptr);
  fftwf_execute_dft(impl_->rows_inv, p, p);
}
template <>
void BlockedPlan2D<float>::filter(std::complex<float>* d, const BlockFunction& f) {
  auto* p = reinterpret_cast<fftwf_complex*>(d);
  fftwf_execute_dft(impl_->rows_fwd, p, p);
  columns(d, 0, &f);
  fftwf_execute_dft(impl_->rows_inv, p, p);
}

template <class Real>
Plan2D<Real>::Plan2D(Plan2D&&) noexcept = default;
template <class Real>
Plan2D<Real>& Plan2D<Real>::operator=(Plan2D&&) noexcept = default;
template class Plan2D<float>;
template class Plan2D<double>;

}  // namespace tmdflow::fft
