#include "tmdflow/core/fft.hpp"

#include <fftw3.h>

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

template <class Real>
Plan2D<Real>::Plan2D(Plan2D&&) noexcept = default;
template <class Real>
Plan2D<Real>& Plan2D<Real>::operator=(Plan2D&&) noexcept = default;
template class Plan2D<float>;
template class Plan2D<double>;

}  // namespace tmdflow::fft
