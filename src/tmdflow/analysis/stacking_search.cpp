#include "tmdflow/analysis/stacking_search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/grid.hpp"

namespace tmdflow::analysis {
namespace {

/// Shifts within a cell's half-diagonal (with 40 % room) reach every lattice translation class.
int reach_px(const StackingRenderer& renderer, double pixel_A) {
  const auto& c = renderer.cell();
  auto len = [](double x, double y) { return std::hypot(x, y); };
  const double diagonal = std::min(len(c.a1[0] + c.a2[0], c.a1[1] + c.a2[1]), len(c.a1[0] - c.a2[0], c.a1[1] - c.a2[1]));
  const double longest = std::max({len(c.a1[0], c.a1[1]), len(c.a2[0], c.a2[1]), diagonal});
  return int(std::ceil(0.7 * longest / pixel_A));
}

/// Sub-pixel offset of a peak from three samples (parabola through them), in [-0.5, 0.5].
double parabola_offset(double left, double centre, double right) {
  const double curvature = left - 2 * centre + right;
  if (!(curvature < 0)) return 0;
  return std::clamp(0.5 * (left - right) / curvature, -0.5, 0.5);
}

}  // namespace

StackingSearch::StackingSearch(const StackingRenderer& renderer, int n, double pixel_A, double centre_px)
    : renderer_(renderer),
      n_(n),
      pixel_A_(pixel_A),
      centre_px_(centre_px),
      reach_px_(reach_px(renderer, pixel_A)),
      canvas_(sim::fft_friendly_size(n + 2 * reach_px_ + 2)),
      offset_((canvas_ - n) / 2),
      canvas_plan_(canvas_, canvas_),
      real_(std::size_t(canvas_) * canvas_),
      window_spectrum_(std::size_t(canvas_) * (canvas_ / 2 + 1)),
      model_spectrum_(std::size_t(canvas_) * (canvas_ / 2 + 1)),
      model_(std::size_t(canvas_) * canvas_) {}

void StackingSearch::correlate(const StackingParams& params, double& shift_x, double& shift_y, double& score) {
  const int N = canvas_;
  const std::size_t size = std::size_t(N) * N;
  renderer_.render(params, N, offset_ + centre_px_, pixel_A_, model_.data());
  double mean = 0;
  for (float v : model_) mean += v;
  mean /= double(size);
  double energy = 0;
  for (std::size_t p = 0; p < size; ++p) {
    const double v = model_[p] - mean;
    real_[p] = float(v), energy += v * v;
  }
  canvas_plan_.forward(real_.data(), model_spectrum_.data());
  // C(s) = sum_y W(y) M(y - s) = IFFT(W^ conj(M^))(s): the model moved by s matches the window.
  for (std::size_t p = 0; p < model_spectrum_.size(); ++p) model_spectrum_[p] = window_spectrum_[p] * std::conj(model_spectrum_[p]);
  canvas_plan_.inverse(model_spectrum_.data(), real_.data());
  auto at = [&](int sy, int sx) { return double(real_[std::size_t((sy + N) % N) * N + std::size_t((sx + N) % N)]); };
  int best_x = 0, best_y = 0;
  double best = -std::numeric_limits<double>::infinity();
  for (int sy = -reach_px_; sy <= reach_px_; ++sy)
    for (int sx = -reach_px_; sx <= reach_px_; ++sx)
      if (at(sy, sx) > best) best = at(sy, sx), best_x = sx, best_y = sy;
  shift_x = best_x + parabola_offset(at(best_y, best_x - 1), best, at(best_y, best_x + 1));
  shift_y = best_y + parabola_offset(at(best_y - 1, best_x), best, at(best_y + 1, best_x));
  // The model's energy under the window, taken as the canvas's per pixel (the model is periodic).
  const double model_norm = std::sqrt(energy * double(n_) * n_ / double(size));
  score = window_norm_ > 0 && model_norm > 0 ? best / double(size) / (window_norm_ * model_norm) : 0;
}

StackingSearch::Found StackingSearch::best_start(const float* window, const StackingParams& start, const FitOptions& options) {
  const int N = canvas_;
  const std::size_t wpx = std::size_t(n_) * n_;
  double mean = 0;
  for (std::size_t p = 0; p < wpx; ++p) mean += window[p];
  mean /= double(wpx);
  std::fill(real_.data(), real_.data() + std::size_t(N) * N, 0.0f);
  window_norm_ = 0;
  for (int i = 0; i < n_; ++i)
    for (int j = 0; j < n_; ++j) {
      const double v = window[std::size_t(i) * n_ + j] - mean;
      real_[std::size_t(i + offset_) * N + std::size_t(j + offset_)] = float(v);
      window_norm_ += v * v;
    }
  window_norm_ = std::sqrt(window_norm_);
  canvas_plan_.forward(real_.data(), window_spectrum_.data());

  std::vector<double> orientations{start.bottom_rotation_deg};
  if (options.find_orientation && !renderer_.cell().triclinic) orientations.push_back(start.bottom_rotation_deg + 60);
  // Slip candidates: start's, and with search_slip a grid of fractions of a1c, a2c per interface.
  const int interfaces = renderer_.layers() - 1;
  std::vector<std::vector<double>> slips{};  // each: x0, y0, x1, y1, ...
  {
    std::vector<double> s;
    for (int k = 0; k < interfaces; ++k) s.push_back(start.slip_x_A[std::size_t(k)]), s.push_back(start.slip_y_A[std::size_t(k)]);
    slips.push_back(s);
  }
  if (options.search_slip && interfaces > 0) {
    const auto& c = renderer_.cell();
    const int g = options.slip_grid;
    long combos = 1;
    for (int k = 0; k < interfaces; ++k) combos *= long(g) * g;
    for (long id = 0; id < combos; ++id) {
      std::vector<double> s;
      long rest = id;
      for (int k = 0; k < interfaces; ++k) {
        const double f1 = double(rest % g) / g, f2 = double((rest / g) % g) / g;
        rest /= long(g) * g;
        s.push_back(f1 * c.a1[0] + f2 * c.a2[0]), s.push_back(f1 * c.a1[1] + f2 * c.a2[1]);
      }
      slips.push_back(s);
    }
  }
  Found found;
  found.score = -2;
  for (double orientation : orientations)
    for (const auto& s : slips) {
      StackingParams candidate = start;
      candidate.bottom_rotation_deg = orientation;
      for (int k = 0; k < interfaces; ++k)
        candidate.slip_x_A[std::size_t(k)] = s[std::size_t(2 * k)], candidate.slip_y_A[std::size_t(k)] = s[std::size_t(2 * k + 1)];
      double sx, sy, score;
      correlate(candidate, sx, sy, score);
      if (score > found.score) {
        found.score = score;
        found.params = candidate;
        found.params.origin_x_A += sx * pixel_A_;
        found.params.origin_y_A += sy * pixel_A_;
      }
    }
  return found;
}

WindowNoise::WindowNoise(int n, double pixel_A)
    : n_(n),
      size_(sim::fft_friendly_size(n)),
      pixel_A_(pixel_A),
      plan_(size_, size_),
      real_(std::size_t(size_) * size_),
      spectrum_(std::size_t(size_) * (size_ / 2 + 1)) {}

double WindowNoise::rms(const float* window, double blur_A, long* bins) {
  const int N = size_;
  const std::size_t wpx = std::size_t(n_) * n_;
  double mean = 0;
  for (std::size_t p = 0; p < wpx; ++p) mean += window[p];
  mean /= double(wpx);
  std::vector<double> taper(static_cast<std::size_t>(n_), 0.0);
  double taper2 = 0;
  for (int i = 0; i < n_; ++i) {
    const double s = std::sin(units::pi * (i + 0.5) / n_);
    taper[std::size_t(i)] = s * s;
    taper2 += s * s * s * s;
  }
  taper2 *= taper2;  // sum over the 2-D taper of its square
  std::fill(real_.data(), real_.data() + std::size_t(N) * N, 0.0f);
  for (int i = 0; i < n_; ++i)
    for (int j = 0; j < n_; ++j)
      real_[std::size_t(i) * N + j] = float((window[std::size_t(i) * n_ + j] - mean) * taper[std::size_t(i)] * taper[std::size_t(j)]);
  plan_.forward(real_.data(), spectrum_.data());
  const double nyquist = 0.5 / pixel_A_, k_cut = std::min(0.6 / blur_A, 0.8 * nyquist);
  const int nxc = N / 2 + 1;
  double power = 0;
  long count = 0;
  for (int i = 0; i < N; ++i) {
    const double ky = sim::fft_frequency(i, N, pixel_A_);
    for (int j = 0; j < nxc; ++j) {
      const double kx = double(j) / (N * pixel_A_);
      if (kx * kx + ky * ky <= k_cut * k_cut) continue;
      power += std::norm(spectrum_[std::size_t(i) * nxc + j]);
      ++count;
    }
  }
  if (bins) *bins = count;
  return count > 0 ? std::sqrt(power / double(count) / taper2) : 0.0;
}

}  // namespace tmdflow::analysis
