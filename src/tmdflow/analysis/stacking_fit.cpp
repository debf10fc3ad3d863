#include "tmdflow/analysis/stacking_fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/analysis/stacking_search.hpp"

namespace tmdflow::analysis {
namespace {

using LayerImages = StackingRenderer::LayerImages;

/// A window "shows the model" when the fit lowers chi^2 (in units of the noise variance) by more than
/// this per fitted parameter; fitting pure noise lowers it by about 1 per parameter (a few more for
/// the origin search's choice among shifts).
constexpr double kSignificantChi2PerParameter = 20.0;

/// One fitted parameter: what it is and which layer or interface it belongs to.
struct Slot {
  enum Kind { origin_x, origin_y, affine, blur, twist, slip_x, slip_y, intensity, background } kind;
  int index = 0;  // affine entry, interface or layer
};

/// Moves parameter `s` of `p` by `delta` (a tied intensity, index -1, moves every layer's).
void move(StackingParams& p, const Slot& s, double delta) {
  switch (s.kind) {
    case Slot::origin_x: p.origin_x_A += delta; break;
    case Slot::origin_y: p.origin_y_A += delta; break;
    case Slot::affine: p.affine[s.index] += delta; break;
    case Slot::blur: p.blur_A += delta; break;
    case Slot::twist: p.twist_deg += delta; break;
    case Slot::slip_x: p.slip_x_A[std::size_t(s.index)] += delta; break;
    case Slot::slip_y: p.slip_y_A[std::size_t(s.index)] += delta; break;
    case Slot::intensity:
      if (s.index >= 0) p.layer_intensity[std::size_t(s.index)] += delta;
      else
        for (double& v : p.layer_intensity) v += delta;
      break;
    case Slot::background: p.background += delta; break;
  }
}

std::vector<Slot> fitted_slots(const StackingModelSpec& spec, const FitOptions& o) {
  std::vector<Slot> slots{{Slot::origin_x, 0}, {Slot::origin_y, 0}};
  if (o.fit_affine)
    for (int i = 0; i < 4; ++i) slots.push_back({Slot::affine, i});
  if (o.fit_blur) slots.push_back({Slot::blur, 0});
  if (spec.twist) slots.push_back({Slot::twist, 0});
  if (o.fit_slip)
    for (int k = 0; k + 1 < spec.layers; ++k) slots.push_back({Slot::slip_x, k}), slots.push_back({Slot::slip_y, k});
  if (o.free_layer_intensity)
    for (int k = 0; k < spec.layers; ++k) slots.push_back({Slot::intensity, k});
  else
    slots.push_back({Slot::intensity, -1});
  slots.push_back({Slot::background, 0});
  return slots;
}

struct M2 {
  double a, b, c, d;  // [[a, b], [c, d]]
};
M2 twist_matrix(const StackingModelSpec& spec, const StackingParams& p, int layer) {
  if (!(spec.twist && layer == 1)) return {1, 0, 0, 1};
  const double t = units::deg_to_rad(p.twist_deg);
  return {std::cos(t), -std::sin(t), std::sin(t), std::cos(t)};
}

/// out += s * in over n values.
void axpy(float s, const std::vector<float>& in, float* out, std::size_t n) {
  if (s == 0) return;
  const float* x = in.data();
  for (std::size_t p = 0; p < n; ++p) out[p] += s * x[p];
}

/// d model / d (slot) as an image (n values), from the per-layer derivative images. An atom of
/// layer k sits at X = T_k (o + A p): dX/do = T_k, dX/dA_ij = T_k e_i p_j, dX/dS = T_k A,
/// dX/dtheta = T'_k (o + A p); d image / d X_a is the layer's grad images, p-weighted in its moments.
void jacobian_column(const StackingModelSpec& spec, const StackingParams& p, const std::vector<LayerImages>& layers, const Slot& s,
                     std::size_t n, float* out) {
  std::fill(out, out + n, 0.0f);
  const int L = spec.layers;
  auto I = [&](int k) { return float(p.layer_intensity[std::size_t(k)]); };
  // u . grad + V : moment for layer k, with u and V (2x2, V[l][j] multiplies moment[2l + j]).
  auto add_motion = [&](int k, double ux, double uy, const double V[4]) {
    const LayerImages& im = layers[std::size_t(k)];
    const float w = I(k);
    axpy(float(w * ux), im.grad_x, out, n), axpy(float(w * uy), im.grad_y, out, n);
    if (V)
      for (int m = 0; m < 4; ++m) axpy(float(w * V[m]), im.moment[m], out, n);
  };
  switch (s.kind) {
    case Slot::origin_x:
    case Slot::origin_y:
      for (int k = 0; k < L; ++k) {
        const M2 T = twist_matrix(spec, p, k);
        if (s.kind == Slot::origin_x) add_motion(k, T.a, T.c, nullptr);
        else add_motion(k, T.b, T.d, nullptr);
      }
      break;
    case Slot::affine: {
      const int i = s.index / 2, j = s.index % 2;  // A_ij
      for (int k = 0; k < L; ++k) {
        const M2 T = twist_matrix(spec, p, k);
        const double Ti[2] = {i == 0 ? T.a : T.b, i == 0 ? T.c : T.d};  // T e_i
        double V[4] = {0, 0, 0, 0};
        V[0 * 2 + j] = Ti[0], V[1 * 2 + j] = Ti[1];
        add_motion(k, 0, 0, V);
      }
      break;
    }
    case Slot::twist: {
      const double t = units::deg_to_rad(p.twist_deg), per_deg = units::pi / 180;
      const M2 D{-std::sin(t) * per_deg, -std::cos(t) * per_deg, std::cos(t) * per_deg, -std::sin(t) * per_deg};  // dR/dtheta
      const double* A = p.affine;
      const double V[4] = {D.a * A[0] + D.b * A[2], D.a * A[1] + D.b * A[3], D.c * A[0] + D.d * A[2], D.c * A[1] + D.d * A[3]};
      add_motion(1, D.a * p.origin_x_A + D.b * p.origin_y_A, D.c * p.origin_x_A + D.d * p.origin_y_A, V);
      break;
    }
    case Slot::slip_x:
    case Slot::slip_y: {
      const int c = s.kind == Slot::slip_x ? 0 : 1;
      const double Ac[2] = {p.affine[c], p.affine[2 + c]};  // A e_c
      for (int k = s.index + 1; k < L; ++k) {
        const M2 T = twist_matrix(spec, p, k);
        add_motion(k, T.a * Ac[0] + T.b * Ac[1], T.c * Ac[0] + T.d * Ac[1], nullptr);
      }
      break;
    }
    case Slot::blur:
      // The layer's blur image holds sum G r^2 / sigma^3; dG/dsigma = G (r^2 / sigma^3 - 2 / sigma).
      for (int k = 0; k < L; ++k) {
        axpy(I(k), layers[std::size_t(k)].blur, out, n);
        axpy(float(-2.0 / p.blur_A) * I(k), layers[std::size_t(k)].image, out, n);
      }
      break;
    case Slot::intensity:
      for (int k = 0; k < L; ++k)
        if (s.index < 0 || s.index == k) axpy(1.0f, layers[std::size_t(k)].image, out, n);
      break;
    case Slot::background: std::fill(out, out + n, 1.0f); break;
  }
}

/// Sum of a[p] * b[p] in double, over float lanes per block (vectorisable without -ffast-math).
double dot(const float* a, const float* b, std::size_t n) {
  double total = 0;
  constexpr std::size_t block = 256, lanes = 8;
  for (std::size_t p0 = 0; p0 < n; p0 += block) {
    const std::size_t m = std::min(block, n - p0);
    float acc[lanes] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t p = 0;
    for (; p + lanes <= m; p += lanes)
      for (std::size_t l = 0; l < lanes; ++l) acc[l] += a[p0 + p + l] * b[p0 + p + l];
    for (; p < m; ++p) acc[0] += a[p0 + p] * b[p0 + p];
    for (float v : acc) total += v;
  }
  return total;
}

/// Solves the symmetric positive definite system M x = b (n x n, row-major) by Cholesky; false when
/// M is not positive definite.
bool cholesky_solve(std::vector<double> M, std::vector<double> b, int n, std::vector<double>& x) {
  for (int j = 0; j < n; ++j) {
    double d = M[std::size_t(j) * n + j];
    for (int k = 0; k < j; ++k) d -= M[std::size_t(j) * n + k] * M[std::size_t(j) * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    M[std::size_t(j) * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = M[std::size_t(i) * n + j];
      for (int k = 0; k < j; ++k) s -= M[std::size_t(i) * n + k] * M[std::size_t(j) * n + k];
      M[std::size_t(i) * n + j] = s / d;
    }
  }
  for (int i = 0; i < n; ++i) {
    double s = b[std::size_t(i)];
    for (int k = 0; k < i; ++k) s -= M[std::size_t(i) * n + k] * b[std::size_t(k)];
    b[std::size_t(i)] = s / M[std::size_t(i) * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double s = b[std::size_t(i)];
    for (int k = i + 1; k < n; ++k) s -= M[std::size_t(k) * n + i] * b[std::size_t(k)];
    b[std::size_t(i)] = s / M[std::size_t(i) * n + i];
  }
  x = std::move(b);
  return true;
}

/// model = background + sum_k I_k image_k; returns sum (window - model)^2 and leaves the residual.
double residual(const float* window, const StackingParams& p, const std::vector<LayerImages>& layers, std::size_t n,
                std::vector<float>& r) {
  r.resize(n);
  const float bg = float(p.background);
  for (std::size_t q = 0; q < n; ++q) r[q] = window[q] - bg;
  for (std::size_t k = 0; k < layers.size(); ++k) axpy(-float(p.layer_intensity[k]), layers[k].image, r.data(), n);
  return dot(r.data(), r.data(), n);
}

/// The layer intensities (one for all layers unless `free`) and the background that fit the window
/// best for the current geometry (linear least squares); kept as they are when the system is singular.
void solve_linear(const float* window, const std::vector<LayerImages>& layers, std::size_t n, bool free, StackingParams& p) {
  std::vector<std::vector<float>> cols;
  if (free) {
    for (const auto& l : layers) cols.push_back(l.image);
  } else {
    cols.emplace_back(n, 0.0f);
    for (const auto& l : layers) axpy(1.0f, l.image, cols.back().data(), n);
  }
  cols.emplace_back(n, 1.0f);
  const int m = int(cols.size());
  std::vector<double> M(std::size_t(m) * m, 0.0), b(std::size_t(m), 0.0), x;
  for (int i = 0; i < m; ++i) {
    b[std::size_t(i)] = dot(cols[std::size_t(i)].data(), window, n);
    for (int j = 0; j <= i; ++j)
      M[std::size_t(i) * m + j] = M[std::size_t(j) * m + i] = dot(cols[std::size_t(i)].data(), cols[std::size_t(j)].data(), n);
  }
  for (int i = 0; i < m; ++i) M[std::size_t(i) * m + i] *= 1 + 1e-9;
  if (!cholesky_solve(M, b, m, x)) return;
  for (std::size_t k = 0; k < p.layer_intensity.size(); ++k) p.layer_intensity[k] = x[free ? k : 0];
  p.background = x[std::size_t(m - 1)];
}

/// How far a step moves atoms (Angstrom), for the convergence test: position parameters directly,
/// the affine and the twist at the window's edge.
double step_size_A(const std::vector<Slot>& slots, const std::vector<double>& delta, double half_width_A) {
  double largest = 0;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    double d = std::abs(delta[i]);
    switch (slots[i].kind) {
      case Slot::affine: d *= half_width_A; break;
      case Slot::twist: d *= units::pi / 180 * half_width_A; break;
      case Slot::intensity:
      case Slot::background: d = 0; break;
      default: break;
    }
    largest = std::max(largest, d);
  }
  return largest;
}

bool plausible(const StackingParams& p, double pixel_A) {
  const double det = p.affine[0] * p.affine[3] - p.affine[1] * p.affine[2];
  return p.blur_A >= 0.5 * pixel_A && p.blur_A <= 5.0 && det > 0.5 && det < 2.0 && std::isfinite(p.origin_x_A) &&
         std::isfinite(p.origin_y_A);
}


/// The window as the least squares sees it: averaged over bin x bin pixels (the model's spots span
/// several pixels, so nothing the fit uses is lost and it runs bin^2 times faster).
struct BinnedGrid {
  int bin = 1, n = 0;
  double pixel_A = 0, centre_px = 0;  // binned pixel (i, j) at ((j - centre_px) pixel_A, ...)
  std::unique_ptr<StackingSearch> search;
  std::vector<float> window;

  BinnedGrid(const StackingRenderer& renderer, int full_n, double full_pixel_A, int b)
      : bin(b), n(full_n / b), pixel_A(full_pixel_A * b), centre_px((0.5 * (full_n - 1) - 0.5 * (b - 1)) / b) {
    search = std::make_unique<StackingSearch>(renderer, n, pixel_A, centre_px);
    window.resize(std::size_t(n) * n);
  }
  const float* take(const float* full, int full_n) {
    if (bin == 1) return full;
    const float scale = 1.0f / float(bin * bin);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        float sum = 0;
        for (int a = 0; a < bin; ++a)
          for (int b = 0; b < bin; ++b) sum += full[std::size_t(i * bin + a) * full_n + std::size_t(j * bin + b)];
        window[std::size_t(i) * n + j] = sum * scale;
      }
    return window.data();
  }
};

struct LeastSquares {
  int iterations = 0;
  bool converged = false;
  int parameters = 0;
};

}  // namespace

struct StackingWindowFitter::Impl {
  StackingModelSpec spec;
  int n;
  double pixel_A;
  FitOptions options;
  StackingRenderer renderer;
  WindowNoise noise;
  std::vector<std::unique_ptr<BinnedGrid>> grids;  // by bin - 1, made when first needed
  std::vector<LayerImages> layers, trial_layers;
  std::vector<float> r, trial_r, jac, model;

  Impl(const StackingModelSpec& s, int size, double px, const FitOptions& o)
      : spec(s), n(size), pixel_A(px), options(o), renderer(s), noise(size, px), grids(4) {}

  /// Pixels per side averaged: options.bin, or enough for the start's blur to span ~2.5 binned
  /// pixels (at most 4, and at least 16 binned pixels per side).
  int bin_for(const StackingParams& start) const {
    int b = options.bin > 0 ? options.bin : int(std::floor(start.blur_A / (2.5 * pixel_A)));
    return std::clamp(b, 1, std::max(1, std::min(4, n / 16)));
  }
  BinnedGrid& grid(int b) {
    auto& g = grids[std::size_t(b - 1)];
    if (!g) g = std::make_unique<BinnedGrid>(renderer, n, pixel_A, b);
    return *g;
  }

  StackingFit fit(const float* window, const StackingParams& start);
  StackingFit fit_from(const float* window, const StackingParams& start);
  LeastSquares levenberg_marquardt(const float* window, const BinnedGrid& g, StackingParams& p);
  void assess(const float* window, int parameters, StackingFit& result);
};

StackingWindowFitter::StackingWindowFitter(const StackingModelSpec& spec, int n, double pixel_A, const FitOptions& options) {
  if (n < 8) throw ConfigError("stacking fit: window size: expected at least 8 pixels, found " + std::to_string(n));
  if (!(pixel_A > 0)) throw ConfigError("stacking fit: pixel_A: expected a positive size, found " + str::number(pixel_A));
  if (options.max_iterations < 0 || options.slip_grid < 1 || !(options.misfit_scale > 0) || !(options.tolerance_A > 0) || options.bin < 0 ||
      options.bin > 4)
    throw ConfigError("stacking fit: options: expected max_iterations >= 0, slip_grid >= 1, misfit_scale > 0, tolerance_A > 0, bin 0..4");
  impl_ = std::make_unique<Impl>(spec, n, pixel_A, options);
}

StackingWindowFitter::~StackingWindowFitter() = default;

StackingFit StackingWindowFitter::fit(const float* window, const StackingParams& start) { return impl_->fit(window, start); }

StackingFit StackingWindowFitter::Impl::fit(const float* window, const StackingParams& start) {
  const std::size_t npx = std::size_t(n) * std::size_t(n);
  for (std::size_t q = 0; q < npx; ++q)
    if (!std::isfinite(window[q]))
      throw InputError("stacking fit: window: expected finite values, found " + str::number(window[q]) + " at pixel " + std::to_string(q));
  validate(spec, start);
  StackingFit best = fit_from(window, start);
  if (spec.twist && options.twist_branches)
    for (const double twist : {-start.twist_deg, 60 - start.twist_deg, start.twist_deg - 60}) {
      StackingParams other = start;
      other.twist_deg = twist;
      StackingFit f = fit_from(window, other);
      if (f.misfit < best.misfit) best = std::move(f);
    }
  return best;
}

StackingFit StackingWindowFitter::Impl::fit_from(const float* window, const StackingParams& start) {
  StackingFit result;
  StackingParams p = start;
  if (p.layer_intensity.empty()) p.layer_intensity.assign(std::size_t(spec.layers), 1.0);

  BinnedGrid& g = grid(bin_for(start));
  const float* binned = g.take(window, n);
  if (options.find_origin) {
    const auto found = g.search->best_start(binned, p, options);
    p = found.params;
    result.search_score = found.score;
  }
  const LeastSquares ls = levenberg_marquardt(binned, g, p);
  result.params = p;
  result.iterations = ls.iterations;
  result.converged = ls.converged;
  assess(window, ls.parameters, result);
  return result;
}

LeastSquares StackingWindowFitter::Impl::levenberg_marquardt(const float* window, const BinnedGrid& g, StackingParams& p) {
  const std::size_t npx = std::size_t(g.n) * std::size_t(g.n);
  const double half_width = 0.5 * g.n * g.pixel_A;
  renderer.render_layers(p, g.n, g.centre_px, g.pixel_A, true, layers);
  solve_linear(window, layers, npx, options.free_layer_intensity, p);
  double cost = residual(window, p, layers, npx, r);

  const std::vector<Slot> slots = fitted_slots(spec, options);
  const int m = int(slots.size());
  LeastSquares out;
  out.parameters = m;
  jac.resize(npx * std::size_t(m));
  std::vector<double> JtJ(std::size_t(m) * m, 0.0), Jtr(std::size_t(m), 0.0), delta;
  double lambda = 1e-3;
  for (int it = 0; it < options.max_iterations; ++it) {
    for (int i = 0; i < m; ++i) jacobian_column(spec, p, layers, slots[std::size_t(i)], npx, jac.data() + std::size_t(i) * npx);
    for (int i = 0; i < m; ++i) {
      const float* ci = jac.data() + std::size_t(i) * npx;
      Jtr[std::size_t(i)] = dot(ci, r.data(), npx);
      for (int j = 0; j <= i; ++j)
        JtJ[std::size_t(i) * m + j] = JtJ[std::size_t(j) * m + i] = dot(ci, jac.data() + std::size_t(j) * npx, npx);
    }
    bool accepted = false;
    while (lambda < 1e10) {
      std::vector<double> damped = JtJ;
      for (int i = 0; i < m; ++i) damped[std::size_t(i) * m + i] += lambda * std::max(JtJ[std::size_t(i) * m + i], 1e-30);
      if (!cholesky_solve(damped, Jtr, m, delta)) {
        lambda *= 10;
        continue;
      }
      StackingParams trial = p;
      for (int i = 0; i < m; ++i) move(trial, slots[std::size_t(i)], delta[std::size_t(i)]);
      if (!plausible(trial, g.pixel_A)) {
        lambda *= 10;
        continue;
      }
      renderer.render_layers(trial, g.n, g.centre_px, g.pixel_A, true, trial_layers);
      const double trial_cost = residual(window, trial, trial_layers, npx, trial_r);
      if (trial_cost < cost) {
        p = trial, cost = trial_cost;
        std::swap(layers, trial_layers), std::swap(r, trial_r);
        lambda = std::max(lambda / 5, 1e-9);
        accepted = true;
        break;
      }
      lambda *= 5;
    }
    out.iterations = it + 1;
    if (!accepted || step_size_A(slots, delta, half_width) < options.tolerance_A) {
      out.converged = true;  // converged, or no step lowers the cost (a minimum to the images' float precision)
      break;
    }
  }
  return out;
}

void StackingWindowFitter::Impl::assess(const float* window, int parameters, StackingFit& result) {
  // At the window's own resolution, whatever the fit's binning.
  const std::size_t npx = std::size_t(n) * std::size_t(n);
  model.resize(npx);
  renderer.render(result.params, n, 0.5 * (n - 1), pixel_A, model.data());
  double mean = 0, cost = 0, total = 0;
  for (std::size_t q = 0; q < npx; ++q) mean += window[q];
  mean /= double(npx);
  for (std::size_t q = 0; q < npx; ++q) {
    const double d = window[q] - model[q], v = window[q] - mean;
    cost += d * d, total += v * v;
  }
  result.residual_rms = std::sqrt(cost / double(npx));
  result.r2 = total > 0 ? 1 - cost / total : 0;
  const double* A = result.params.affine;
  // Singular values of the affine: sqrt of the eigenvalues of A^T A.
  const double p = A[0] * A[0] + A[2] * A[2], q = A[1] * A[1] + A[3] * A[3], c = A[0] * A[1] + A[2] * A[3];
  const double mid = 0.5 * (p + q), half = std::sqrt(0.25 * (p - q) * (p - q) + c * c);
  result.distortion = std::max(std::abs(std::sqrt(mid + half) - 1), std::abs(std::sqrt(std::max(0.0, mid - half)) - 1));

  long bins = 0;
  result.noise_rms = noise.rms(window, result.params.blur_A, &bins);
  // What the model explains (the variance it removes) and what it leaves beyond the noise, less
  // twice the standard error of that excess (the noise level is itself an estimate), so that a
  // window explained down to its noise gets misfit 0 at any dose. A window whose explained part is
  // no larger than fitting the noise itself would give (chi^2 of the parameters, which any lattice
  // exceeds by far) shows nothing the model knows: misfit 1.
  const double noise2 = result.noise_rms * result.noise_rms, variance = total / double(npx), mse = cost / double(npx);
  const double excess_error = noise2 * std::sqrt(2.0 / double(std::max(bins, 1L)) + 2.0 / double(npx));
  const double explained = std::max(0.0, variance - mse), unexplained = std::max(0.0, mse - noise2 - 2 * excess_error);
  const bool significant = explained * double(npx) > kSignificantChi2PerParameter * parameters * std::max(noise2, 1e-30 * variance);
  result.misfit = significant ? std::sqrt(unexplained / (explained + unexplained)) : 1.0;
  result.confidence = std::exp(-std::pow(result.misfit / options.misfit_scale, 2));
}

StackingFit fit_stacking_window(const float* window, int n, double pixel_A, const StackingModelSpec& spec, const StackingParams& start,
                                const FitOptions& options) {
  return StackingWindowFitter(spec, n, pixel_A, options).fit(window, start);
}

}  // namespace tmdflow::analysis
