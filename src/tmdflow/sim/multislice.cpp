#include "tmdflow/sim/multislice.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/fft.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"

namespace tmdflow::sim {

struct Multislice::Fft {
  explicit Fft(int n) : plan(n, n), wave(std::size_t(n) * n) {}
  fft::BlockedPlan2D<float> plan;  // deterministic (estimated 1-D plans), fast at 2^k sizes
  fft::Buffer<float> wave;
};

struct Multislice::Strip {
  Grid grid;                                  // strip pixels (global pixel indices grid.x0/dx ...)
  long col0 = 0, row0 = 0;                    // global pixel index of strip pixel (0, 0)
  std::vector<std::vector<cfloat>> transmission;  // per slice, grid.ny x grid.nx
};

Multislice::Multislice(const MultisliceSpec& spec, const Structure& structure) : spec_(spec) {
  validate(spec.probe);
  const int n = spec.window_px;
  if (n < 32 || n > 4096) throw ConfigError("window-px: expected 32..4096, found " + std::to_string(n));
  if (spec.detector.size < 4 || spec.detector.size > 4096)
    throw ConfigError("detector size: expected 4..4096 pixels, found " + std::to_string(spec.detector.size));
  if (!(spec.detector.max_mrad > 0)) throw ConfigError("detector-max-mrad: expected a positive angle, found " + str::number(spec.detector.max_mrad));
  if (spec.frozen_phonons < 0 || spec.frozen_phonons > 1000)
    throw ConfigError("frozen-phonons: expected 0..1000, found " + std::to_string(spec.frozen_phonons));
  lambda_ = units::electron_wavelength_A(spec.probe.voltage_kV);
  sigma_ = units::interaction_parameter(spec.probe.voltage_kV);
  dx_ = pixel_size_A(spec);
  const int n_needed = int(std::ceil(1.5 * spec.detector.size - 1e-9));
  if (n < n_needed)
    throw ConfigError("window-px: a " + std::to_string(spec.detector.size) + "-pixel detector needs a simulation window of at least " +
                      std::to_string(n_needed) + " pixels (finer reciprocal sampling than the detector), found " + std::to_string(n));
  if (spec.probe.convergence_mrad > spec.detector.max_mrad)
    throw ConfigError("convergence-mrad (" + str::number(spec.probe.convergence_mrad) + ") must not exceed detector-max-mrad (" +
                      str::number(spec.detector.max_mrad) + ")");
  const double airy = 0.61 * lambda_ / (spec.probe.convergence_mrad * 1e-3);
  if (4.0 * airy > n * dx_)
    throw ConfigError("window-px: the probe (first Airy zero at " + str::number(airy) + " A) does not fit a " + str::number(n * dx_) +
                      " A window: use window-px >= " + std::to_string(int(std::ceil(4.0 * airy / dx_))) +
                      " or a larger convergence angle");

  const int configs = std::max(1, spec.frozen_phonons);
  for (int c = 0; c < configs; ++c)
    configs_.push_back(slice_structure(structure, spec.slice_thickness_A, spec.frozen_phonons > 0 ? spec.phonon_scale : 0.0, spec.seed, c));
  std::set<int> elements;
  for (const auto& a : structure.atoms) elements.insert(a.Z);
  table_ = std::make_unique<PotentialTable>(std::vector<int>(elements.begin(), elements.end()), dx_, spec.potential_cutoff_A);
  fft_ = std::make_unique<Fft>(n);

  const std::size_t N = std::size_t(n) * n;
  Grid g{n, n, dx_, dx_, 0, 0};
  if (spec.probe.source_size_A > 0)
    throw ConfigError("source-size-A: multislice 4D-STEM simulates a coherent probe per position; a source size blurs over scan "
                      "positions and is not modelled (use 0)");
  std::vector<double> nodes{0.0};
  focus_weights_ = {1.0};
  if (spec.probe.defocus_spread_A > 0) gauss_hermite_normal(spec.probe.defocus_spread_points, nodes, focus_weights_);
  for (double z : nodes) {
    probe_k_.emplace_back(N);
    probe_wave_fourier(spec.probe, g, 0.0, 0.0, probe_k_.back().data(), z * spec.probe.defocus_spread_A);
  }
  const double k_band = 1.0 / (3.0 * dx_);
  mask_.assign(N, 0.0f);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double kx = fft_frequency(j, n, dx_), ky = fft_frequency(i, n, dx_);
      if (kx * kx + ky * ky <= k_band * k_band) {
        mask_[std::size_t(i) * n + j] = 1.0f;
        bins_.push_back(i * n + j);
        bin_u_.push_back(float(kx * lambda_ * 1e3 / spec.detector.pixel_mrad() + spec.detector.size / 2));
        bin_v_.push_back(float(ky * lambda_ * 1e3 / spec.detector.pixel_mrad() + spec.detector.size / 2));
      }
    }
  const auto& sl = configs_.front().slices;
  for (std::size_t s = 0; s + 1 < sl.size(); ++s) {
    const double dz = sl[s + 1].z - sl[s].z;
    std::vector<cfloat> p(N);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const double kx = fft_frequency(j, n, dx_), ky = fft_frequency(i, n, dx_);
        const std::size_t q = std::size_t(i) * n + j;
        p[q] = cfloat(std::polar(double(mask_[q]) / double(N), -units::pi * lambda_ * dz * (kx * kx + ky * ky)));
      }
    propagators_.push_back(std::move(p));
  }
}

Multislice::~Multislice() = default;

double Multislice::pixel_size_A(const MultisliceSpec& spec) {
  // Band limit 1/(3 dx) (2/3 of Nyquist) reaches the detector's edge.
  return units::electron_wavelength_A(spec.probe.voltage_kV) / (3.0 * spec.detector.max_mrad * 1e-3);
}

int Multislice::slices() const { return int(configs_.front().slices.size()); }

void Multislice::build_strip(int config, double y, double xmin, double xmax, Strip& strip) const {
  const int n = spec_.window_px;
  const long row0 = std::lround(y / dx_) - n / 2;
  const long col0 = std::lround(xmin / dx_) - n / 2;
  const long col1 = std::lround(xmax / dx_) - n / 2 + n;  // exclusive
  strip.row0 = row0;
  strip.col0 = col0;
  strip.grid = Grid{n, int(col1 - col0), dx_, dx_, double(row0) * dx_, double(col0) * dx_};
  const auto& slices = configs_[std::size_t(config)].slices;
  strip.transmission.resize(slices.size());
  std::vector<float> v(strip.grid.size());
  const float sigma = float(sigma_);
  const bool weak = spec_.weak_phase;
  for (std::size_t s = 0; s < slices.size(); ++s) {
    std::fill(v.begin(), v.end(), 0.0f);
    add_projected_potential(*table_, slices[s], strip.grid, v.data());
    auto& t = strip.transmission[s];
    t.resize(v.size());
    cfloat* tp = t.data();
    const float* vp = v.data();
    Kokkos::parallel_for("tmdflow::sim::transmission", Kokkos::RangePolicy<HostExec>(0, v.size()), [=](const std::size_t p) {
      const float phase = sigma * vp[p];
      tp[p] = weak ? cfloat(1.0f, phase) : cfloat(std::cos(phase), std::sin(phase));
    });
  }
}

void Multislice::propagate_one(const Strip& strip, double x, double y, std::size_t focus, float* intensity) {
  const int n = spec_.window_px;
  const std::size_t N = std::size_t(n) * n;
  const long oj = std::lround(x / dx_) - n / 2;
  const long oi = std::lround(y / dx_) - n / 2;
  if (oi != strip.row0 || oj < strip.col0 || oj + n > strip.col0 + strip.grid.nx)
    throw Error("multislice: probe window outside its strip (internal error)", ExitCode::failure);
  const double cx = x - double(oj) * dx_, cy = y - double(oi) * dx_;
  std::vector<cfloat> ex(static_cast<std::size_t>(n)), ey(static_cast<std::size_t>(n));
  for (int j = 0; j < n; ++j) ex[std::size_t(j)] = cfloat(std::polar(1.0, -2.0 * units::pi * fft_frequency(j, n, dx_) * cx));
  for (int i = 0; i < n; ++i) ey[std::size_t(i)] = cfloat(std::polar(1.0, -2.0 * units::pi * fft_frequency(i, n, dx_) * cy));
  cfloat* w = fft_->wave.data();
  const cfloat* pk = probe_k_[focus].data();
  const cfloat* exp_ = ex.data();
  const cfloat* eyp = ey.data();
  Kokkos::parallel_for("tmdflow::sim::probe_shift", Kokkos::RangePolicy<HostExec>(0, n), [=](const int i) {
    for (int j = 0; j < n; ++j) w[std::size_t(i) * n + j] = cmul(cmul(pk[std::size_t(i) * n + j], exp_[j]), eyp[i]);
  });
  fft_->plan.inverse(w);
  const std::size_t nslices = strip.transmission.size();
  const long off = oj - strip.col0;
  const int sx = strip.grid.nx;
  for (std::size_t s = 0; s < nslices; ++s) {
    const cfloat* t = strip.transmission[s].data() + off;
    Kokkos::parallel_for("tmdflow::sim::transmit", Kokkos::RangePolicy<HostExec>(0, n), [=](const int i) {
      cfloat* row = w + std::size_t(i) * n;
      const cfloat* trow = t + std::size_t(i) * sx;
      for (int j = 0; j < n; ++j) row[j] = cmul(row[j], trow[j]);
    });
    if (s + 1 == nslices) break;
    // Propagate to the next slice: multiply in reciprocal space, block by block of columns.
    const cfloat* p = propagators_[s].data();
    const int stride = fft_->plan.block();
    fft_->plan.filter(w, [p, n, stride](cfloat* block, int c0, int nc) {
      for (int i = 0; i < n; ++i) {
        const cfloat* prow = p + std::size_t(i) * n + c0;
        cfloat* brow = block + std::size_t(i) * stride;
        for (int j = 0; j < nc; ++j) brow[j] = cmul(brow[j], prow[j]);
      }
    });
  }
  fft_->plan.forward(w);
  const float* m = mask_.data();
  const float inv_n = 1.0f / float(N);
  Kokkos::parallel_for("tmdflow::sim::exit_intensity", Kokkos::RangePolicy<HostExec>(0, N),
                       [=](const std::size_t q) { intensity[q] = m[q] * (w[q].real() * w[q].real() + w[q].imag() * w[q].imag()) * inv_n; });
}

void Multislice::integrate(const float* intensity, float* pattern, double sx, double sy, double rotation_deg) const {
  const int d = spec_.detector.size;
  const float fsx = float(sx), fsy = float(sy);
  const float axis = float(d / 2);  // the optical axis (k = 0), as bin_u_ and bin_v_ place it
  const double th = rotation_deg * 3.14159265358979323846 / 180.0;
  const float cs = float(std::cos(th)), sn = float(std::sin(th));
  const bool rotate = rotation_deg != 0.0;
  for (std::size_t b = 0; b < bins_.size(); ++b) {
    float u = bin_u_[b], v = bin_v_[b];
    if (rotate) {
      const float du = u - axis, dv = v - axis;
      u = axis + cs * du - sn * dv;
      v = axis + sn * du + cs * dv;
    }
    u += fsx;
    v += fsy;
    const float fu = std::floor(u), fv = std::floor(v);
    const int j = int(fu), i = int(fv);
    const float a = u - fu, c = v - fv;
    const float val = intensity[bins_[b]];
    if (i >= 0 && i < d) {
      if (j >= 0 && j < d) pattern[i * d + j] += val * (1 - a) * (1 - c);
      if (j + 1 >= 0 && j + 1 < d) pattern[i * d + j + 1] += val * a * (1 - c);
    }
    if (i + 1 >= 0 && i + 1 < d) {
      if (j >= 0 && j < d) pattern[(i + 1) * d + j] += val * (1 - a) * c;
      if (j + 1 >= 0 && j + 1 < d) pattern[(i + 1) * d + j + 1] += val * a * c;
    }
  }
}

void Multislice::row(double y, const std::vector<double>& xs, float* out, const double* shift_x, const double* shift_y,
                     const double* rotation_deg) {
  if (xs.empty()) return;
  const int d = spec_.detector.size;
  const std::size_t npix = std::size_t(d) * d;
  std::fill(out, out + npix * xs.size(), 0.0f);
  const double xmin = *std::min_element(xs.begin(), xs.end()), xmax = *std::max_element(xs.begin(), xs.end());
  const std::size_t N = std::size_t(spec_.window_px) * spec_.window_px;
  std::vector<float> intensity(N);
  Strip strip;
  const float scale = 1.0f / float(configs_.size());
  std::vector<float> pattern(npix);
  for (std::size_t c = 0; c < configs_.size(); ++c) {
    build_strip(int(c), y, xmin, xmax, strip);
    for (std::size_t k = 0; k < xs.size(); ++k) {
      for (std::size_t f = 0; f < probe_k_.size(); ++f) {
        propagate_one(strip, xs[k], y, f, intensity.data());
        std::fill(pattern.begin(), pattern.end(), 0.0f);
        integrate(intensity.data(), pattern.data(), shift_x ? shift_x[k] : 0.0, shift_y ? shift_y[k] : 0.0,
                  rotation_deg ? rotation_deg[k] : 0.0);
        float* o = out + k * npix;
        const float w = scale * float(focus_weights_[f]);
        for (std::size_t p = 0; p < npix; ++p) o[p] += pattern[p] * w;
      }
    }
  }
}

std::vector<float> Multislice::raw_pattern(double x, double y) {
  const std::size_t N = std::size_t(spec_.window_px) * spec_.window_px;
  std::vector<float> acc(N, 0.0f), intensity(N);
  Strip strip;
  for (std::size_t c = 0; c < configs_.size(); ++c) {
    build_strip(int(c), y, x, x, strip);
    for (std::size_t f = 0; f < probe_k_.size(); ++f) {
      propagate_one(strip, x, y, f, intensity.data());
      for (std::size_t q = 0; q < N; ++q) acc[q] += intensity[q] * float(focus_weights_[f]) / float(configs_.size());
    }
  }
  return acc;
}

}  // namespace tmdflow::sim
