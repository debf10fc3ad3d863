#include "tmdflow/analysis/diffraction.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "tmdflow/analysis/virtual_detectors.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/par/partition.hpp"

namespace tmdflow::analysis {
namespace {

using units::pi;

KOKKOS_INLINE_FUNCTION double wrap_deg(double a, double period) {
  // Angles within one period of the range need no division (the results equal fmod's exactly).
  if (a >= 0 && a < period) return a;
  if (a < 0 && a >= -period) return a + period;
  if (a >= period && a < 2 * period) return a - period;
  a = std::fmod(a, period);
  return a < 0 ? a + period : a;
}

/// Phase of the six-fold harmonic: a profile peaked at t + 60 n has sum p e^{-6 i theta} ~ e^{-6 i t};
/// c6, s6 = cos, sin(6 theta_b) at the bin centres (six_fold_table).
KOKKOS_INLINE_FUNCTION double twist_of_table(const float* r0, const float* r1, int bins, const double* c6, const double* s6) {
  double re = 0, im = 0;
  for (int b = 0; b < bins; ++b) {
    // Second-order spots sit 30 degrees off the first-order ones: their harmonic has the opposite sign.
    const double v = double(r0[b]) - double(r1[b]);
    re += v * c6[b];
    im -= v * s6[b];
  }
  return wrap_deg(-std::atan2(im, re) * 180.0 / pi / 6.0, 60.0);
}

/// cos (first half) and sin (second half) of 6 theta_b at the centres of `bins` azimuthal bins.
std::vector<double> six_fold_table(int bins) {
  std::vector<double> t(std::size_t(2 * bins));
  for (int b = 0; b < bins; ++b) {
    const double th = 6.0 * 2.0 * pi * (b + 0.5) / bins;
    t[std::size_t(b)] = std::cos(th);
    t[std::size_t(bins + b)] = std::sin(th);
  }
  return t;
}

KOKKOS_INLINE_FUNCTION void spots_of(const float* r0, int bins, double twist, double halfwidth, double* s) {
  for (int n = 0; n < 6; ++n) s[n] = 0;
  for (int b = 0; b < bins; ++b) {
    const double rel = wrap_deg((b + 0.5) * 360.0 / bins - twist + 30.0, 360.0);  // spot n at 30 + 60 n
    const int n = int(rel / 60.0);
    const double off = rel - 60.0 * n - 30.0;
    if (n < 6 && std::fabs(off) <= halfwidth) s[n] += r0[b];
  }
}

template <class T>
KOKKOS_INLINE_FUNCTION double bilinear(const T* p, int rows, int cols, double x, double y) {
  const int j = int(std::floor(x)), i = int(std::floor(y));
  const double fx = x - j, fy = y - i;
  if (i >= 0 && j >= 0 && i + 1 < rows && j + 1 < cols) {  // the common case: no bounds per corner
    const T* q = p + i * cols + j;
    return (1 - fy) * ((1 - fx) * double(q[0]) + fx * double(q[1])) + fy * ((1 - fx) * double(q[cols]) + fx * double(q[cols + 1]));
  }
  double v = 0;
  auto at = [&](int ii, int jj) { return (ii >= 0 && ii < rows && jj >= 0 && jj < cols) ? double(p[ii * cols + jj]) : 0.0; };
  v += (1 - fy) * ((1 - fx) * at(i, j) + fx * at(i, j + 1));
  v += fy * ((1 - fx) * at(i + 1, j) + fx * at(i + 1, j + 1));
  return v;
}

std::vector<double> solve(std::vector<double> a, std::vector<double> b, int n) {
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int r = c + 1; r < n; ++r)
      if (std::fabs(a[std::size_t(r * n + c)]) > std::fabs(a[std::size_t(piv * n + c)])) piv = r;
    for (int k = 0; k < n; ++k) std::swap(a[std::size_t(c * n + k)], a[std::size_t(piv * n + k)]);
    std::swap(b[std::size_t(c)], b[std::size_t(piv)]);
    const double d = a[std::size_t(c * n + c)];
    if (std::fabs(d) < 1e-300) throw ConfigError("descan fit: too few sampled patterns for the polynomial order");
    for (int r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[std::size_t(r * n + c)] / d;
      for (int k = 0; k < n; ++k) a[std::size_t(r * n + k)] -= f * a[std::size_t(c * n + k)];
      b[std::size_t(r)] -= f * b[std::size_t(c)];
    }
  }
  for (int c = 0; c < n; ++c) b[std::size_t(c)] /= a[std::size_t(c * n + c)];
  return b;
}

std::vector<double> monomials(int order, double u, double v) {
  std::vector<double> m;
  for (int deg = 0; deg <= order; ++deg)
    for (int p = deg; p >= 0; --p) m.push_back(std::pow(u, p) * std::pow(v, deg - p));
  return m;
}

double scaled(std::int64_t k, std::int64_t n) { return n > 1 ? 2.0 * double(k) / double(n - 1) - 1.0 : 0.0; }

}  // namespace

double DiffractionGeometry::sample_area(int ring) const {
  return radial_step * ring_radius[ring] * 2.0 * pi / azimuth_bins;
}
int DiffractionGeometry::radial_samples() const { return int(std::floor(2.0 * ring_halfwidth / radial_step)) + 1; }
double DiffractionGeometry::spot_halfwidth(int ring) const {
  return spot_halfwidth_at(spot_halfwidth_deg, ring_radius[0], ring_radius[ring]);
}
double DiffractionGeometry::reach(int ring) const {
  return ring_radius[ring] - ring_halfwidth + (radial_samples() - 1) * radial_step + 1.0;
}
void DiffractionGeometry::add_second_order_ring(std::int64_t rows, std::int64_t cols) {
  // {200} = 2 x {100} exactly: no search needed, and none that noise could mislead.
  const double edge = std::min({centre_x, centre_y, double(cols - 1) - centre_x, double(rows - 1) - centre_y});
  ring_radius[2] = 2.0 * ring_radius[0];
  rings = ring_radius[2] + ring_halfwidth <= edge ? 3 : 2;
  if (rings == 2) ring_radius[2] = 0;
}

DiffractionGeometry find_geometry(const std::vector<float>& mean, std::int64_t rows, std::int64_t cols, const std::string& where) {
  DiffractionGeometry g;
  const DiscFit disc = find_central_disc(mean, rows, cols);
  g.centre_x = disc.centre_x;
  g.centre_y = disc.centre_y;
  g.disc_radius = std::max(1.0, disc.radius);
  const double edge = std::min({disc.centre_x, disc.centre_y, double(cols - 1) - disc.centre_x, double(rows - 1) - disc.centre_y});
  const int nr = int(edge) + 1;
  std::vector<double> sum(std::size_t(nr), 0.0), cnt(std::size_t(nr), 0.0);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      const int r = int(std::lround(std::hypot(double(j) - g.centre_x, double(i) - g.centre_y)));
      if (r < nr) {
        sum[std::size_t(r)] += mean[std::size_t(i * cols + j)];
        cnt[std::size_t(r)] += 1;
      }
    }
  std::vector<double> p(std::size_t(nr), 0.0);
  for (int r = 0; r < nr; ++r) p[std::size_t(r)] = cnt[std::size_t(r)] > 0 ? sum[std::size_t(r)] / cnt[std::size_t(r)] : 0.0;
  auto peak = [&](int lo, int hi) {
    int best = -1;
    double bv = 0;
    for (int r = std::max(lo, 1); r <= std::min(hi, nr - 2); ++r) {
      double base = p[std::size_t(r)];
      for (int k = std::max(0, r - 6); k <= std::min(nr - 1, r + 6); ++k) base = std::min(base, p[std::size_t(k)]);
      const double v = p[std::size_t(r)] - base;
      if (v > bv) { bv = v; best = r; }
    }
    if (best < 0) return -1.0;
    const double a = p[std::size_t(best - 1)], b = p[std::size_t(best)], c = p[std::size_t(best + 1)];
    const double den = a - 2 * b + c;
    return double(best) + (den < 0 ? 0.5 * (a - c) / den : 0.0);
  };
  const double r1 = peak(int(std::ceil(2.0 * g.disc_radius)) + 2, nr);
  if (r1 <= 0)
    throw InputError(where + ": found no diffraction ring beyond the central disc (radius " + str::number(g.disc_radius) +
                     " px) in the mean pattern: expected the first-order {100} spots of a hexagonal lattice");
  const double r2 = peak(int(std::floor(std::sqrt(3.0) * r1 * 0.92)), int(std::ceil(std::sqrt(3.0) * r1 * 1.08)));
  g.ring_halfwidth = g.disc_radius + 1.5;
  if (r2 <= 0 || r2 + g.ring_halfwidth > edge)
    throw InputError(where + ": the second-order {110} ring (expected near " + str::number(std::sqrt(3.0) * r1) +
                     " px from the centre) does not fit on the detector (edge at " + str::number(edge) +
                     " px): expected a camera length showing both rings");
  g.ring_radius[0] = r1;
  g.ring_radius[1] = r2;
  g.add_second_order_ring(rows, cols);
  g.spot_halfwidth_deg = std::clamp((g.disc_radius + 1.5) / r1 * 180.0 / pi, 3.0, 25.0);
  return g;
}

void DescanField::centre(std::int64_t i, std::int64_t j, double& x, double& y) const {
  const auto m = monomials(order, scaled(j, cols), scaled(i, rows));
  x = y = 0;
  for (std::size_t k = 0; k < m.size(); ++k) {
    x += coef_x[k] * m[k];
    y += coef_y[k] * m[k];
  }
}

DescanField fit_descan(const std::vector<std::int64_t>& index, const std::vector<double>& cx, const std::vector<double>& cy,
                       std::int64_t rows, std::int64_t cols, int order) {
  if (order < 0 || order > 3) throw ConfigError("descan-order: expected 0..3, found " + std::to_string(order));
  // A polynomial needs a few samples per term: the order drops when the scan is sampled sparsely.
  while (order > 0 && index.size() < std::size_t(4 * DescanField::terms(order))) --order;
  DescanField f;
  f.order = order;
  f.rows = rows;
  f.cols = cols;
  const int t = DescanField::terms(order);
  std::vector<char> keep(index.size(), 1);
  for (int round = 0; round < 2; ++round) {
    std::vector<double> a(std::size_t(t * t), 0.0), bx(std::size_t(t), 0.0), by(std::size_t(t), 0.0);
    for (std::size_t s = 0; s < index.size(); ++s) {
      if (!keep[s]) continue;
      const auto m = monomials(order, scaled(index[s] % cols, cols), scaled(index[s] / cols, rows));
      for (int p = 0; p < t; ++p) {
        for (int q = 0; q < t; ++q) a[std::size_t(p * t + q)] += m[std::size_t(p)] * m[std::size_t(q)];
        bx[std::size_t(p)] += m[std::size_t(p)] * cx[s];
        by[std::size_t(p)] += m[std::size_t(p)] * cy[s];
      }
    }
    // A tiny ridge keeps the solve defined when the scan has one row or one column.
    for (int p = 1; p < t; ++p) a[std::size_t(p * t + p)] += 1e-9;
    f.coef_x = solve(a, bx, t);
    f.coef_y = solve(a, by, t);
    if (round == 1) break;
    std::vector<double> res(index.size());
    for (std::size_t s = 0; s < index.size(); ++s) {
      double x, y;
      f.centre(index[s] / cols, index[s] % cols, x, y);
      res[s] = std::hypot(x - cx[s], y - cy[s]);
    }
    std::vector<double> sorted = res;
    std::nth_element(sorted.begin(), sorted.begin() + std::ptrdiff_t(sorted.size() / 2), sorted.end());
    const double mad = sorted.empty() ? 0 : sorted[sorted.size() / 2];
    for (std::size_t s = 0; s < index.size(); ++s) keep[s] = res[s] <= 4.0 * mad + 1e-6;
  }
  return f;
}

void sampled_centres(const par::Comm& comm, const io::DatacubeReader& reader, const DiffractionGeometry& g, std::int64_t max_patterns,
                     std::vector<std::int64_t>& index, std::vector<double>& cx, std::vector<double>& cy) {
  const auto& meta = reader.meta();
  const std::int64_t n = meta.positions();
  const std::int64_t want = std::max<std::int64_t>(1, std::min(n, max_patterns));
  index.resize(std::size_t(want));
  for (std::int64_t k = 0; k < want; ++k) index[std::size_t(k)] = want == 1 ? n / 2 : (k * (n - 1)) / (want - 1);
  std::vector<double> xy(std::size_t(2 * want), 0.0);
  const par::Range mine = par::block_partition(want, comm.size(), comm.rank());
  std::vector<float> buf(std::size_t(meta.pattern_pixels()));
  const int rows = int(meta.shape[2]), cols = int(meta.shape[3]);
  for (std::int64_t k = mine.begin; k < mine.end; ++k) {
    const std::int64_t idx = index[std::size_t(k)];
    reader.read_positions(idx / meta.shape[1], idx % meta.shape[1], 1, buf.data());
    measure_centre(buf.data(), rows, cols, g.centre_x, g.centre_y, 0.5 * g.ring_radius[0], 2.5 * g.disc_radius, xy[std::size_t(2 * k)],
                   xy[std::size_t(2 * k + 1)]);
  }
  comm.allreduce_inplace(xy.data(), xy.size(), par::Op::sum);
  cx.resize(std::size_t(want));
  cy.resize(std::size_t(want));
  for (std::int64_t k = 0; k < want; ++k) {
    cx[std::size_t(k)] = xy[std::size_t(2 * k)];
    cy[std::size_t(k)] = xy[std::size_t(2 * k + 1)];
  }
}

void DiffractionFeatures::prepare(const io::DatacubeMeta& meta, const io::Shard& shard) {
  const std::int64_t n = shard.patterns();
  const int bins = geometry_.azimuth_bins;
  ry_ = meta.shape[1];
  const int rings = geometry_.rings;
  features_.count = n;
  features_.bins = bins;
  features_.rings = rings;
  features_.profiles = decltype(features_.profiles)("tmdflow::analysis::profiles", std::size_t(n), std::size_t(rings), std::size_t(bins));
  features_.spots = decltype(features_.spots)("tmdflow::analysis::spots", std::size_t(n), 6);
  features_.background = decltype(features_.background)("tmdflow::analysis::background", std::size_t(n), std::size_t(rings));
  auto mk = [&](const char* l) { return Kokkos::View<float*, io::MemSpace>(std::string(l), std::size_t(n)); };
  features_.twist_deg = mk("tmdflow::analysis::twist");
  features_.asymmetry = mk("tmdflow::analysis::asymmetry");
  features_.centre_x = mk("tmdflow::analysis::centre_x");
  features_.centre_y = mk("tmdflow::analysis::centre_y");
  features_.measured_x = mk("tmdflow::analysis::measured_x");
  features_.measured_y = mk("tmdflow::analysis::measured_y");
  features_.total = mk("tmdflow::analysis::ring_signal");
  // The descan field is evaluated once per position on the host.
  auto hx = Kokkos::create_mirror_view(features_.centre_x);
  auto hy = Kokkos::create_mirror_view(features_.centre_y);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t g = shard.first_pattern() + k;
    double x, y;
    descan_.centre(g / ry_, g % ry_, x, y);
    hx(k) = float(x);
    hy(k) = float(y);
  }
  Kokkos::deep_copy(features_.centre_x, hx);
  Kokkos::deep_copy(features_.centre_y, hy);
  // Tables of the polar transform: sample offsets from the centre (ring r, bin b, radial
  // sample q at r0 + q * step), the area each sample stands for, and the six-fold harmonic.
  const int nsamp = geometry_.radial_samples();
  offset_x_ = Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace>("tmdflow::analysis::offset_x", std::size_t(rings * bins), std::size_t(nsamp));
  offset_y_ = Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace>("tmdflow::analysis::offset_y", std::size_t(rings * bins), std::size_t(nsamp));
  weight_ = Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace>("tmdflow::analysis::weight", std::size_t(rings), std::size_t(nsamp));
  harmonic_ = Kokkos::View<double**, Kokkos::LayoutRight, io::MemSpace>("tmdflow::analysis::harmonic", 2, std::size_t(bins));
  auto ox = Kokkos::create_mirror_view(offset_x_);
  auto oy = Kokkos::create_mirror_view(offset_y_);
  auto w = Kokkos::create_mirror_view(weight_);
  auto h = Kokkos::create_mirror_view(harmonic_);
  for (int r = 0; r < rings; ++r) {
    const double r0 = geometry_.ring_radius[r] - geometry_.ring_halfwidth;
    for (int q = 0; q < nsamp; ++q) {
      const double rad = r0 + q * geometry_.radial_step;
      // Each sample stands for the area step * rad * dtheta: profiles are in electrons.
      w(r, q) = float(rad * geometry_.radial_step * 2.0 * pi / bins);
      for (int b = 0; b < bins; ++b) {
        const double th = 2.0 * pi * (b + 0.5) / bins;
        ox(r * bins + b, q) = float(rad * std::cos(th));
        oy(r * bins + b, q) = float(rad * std::sin(th));
      }
    }
  }
  const std::vector<double> six = six_fold_table(bins);
  for (int b = 0; b < bins; ++b) {
    h(0, b) = six[std::size_t(b)];
    h(1, b) = six[std::size_t(bins + b)];
  }
  Kokkos::deep_copy(offset_x_, ox);
  Kokkos::deep_copy(offset_y_, oy);
  Kokkos::deep_copy(weight_, w);
  Kokkos::deep_copy(harmonic_, h);
}

void DiffractionFeatures::process(const io::PatternBlock& block) {
  io::visit_dtype(block.dtype, [&](auto tag) { process_typed<decltype(tag)>(block); });
}

template <class T>
void DiffractionFeatures::process_typed(const io::PatternBlock& block) {
  const auto data = block.view<T>();
  const int rows = int(block.qx), cols = int(block.qy), bins = geometry_.azimuth_bins;
  const DiffractionGeometry g = geometry_;
  const int nsamp = g.radial_samples();
  const std::int64_t first = block.first_local;
  auto f = features_;
  const auto offx = offset_x_;
  const auto offy = offset_y_;
  const auto wt = weight_;
  const auto harm = harmonic_;
  // Samples reach at most this far from the centre: patterns whose rings lie inside the detector
  // (all but those pushed to an edge by descan) take the path without per-sample bounds.
  const int rings = g.rings;
  const double reach = g.reach(1), reach200 = rings > 2 ? g.reach(2) : 0.0;
  // The sampling reads floats: other element types are converted once per block, to the same
  // float(v) the sampling used to form at every corner, so the features are bit for bit the same.
  constexpr bool integer = !std::is_same_v<T, float>;  // (every other type the datacube may hold is an integer)
  const std::int64_t pixels = std::int64_t(rows) * cols;
  if (integer && (converted_.extent(0) < std::size_t(block.count) || converted_.extent(1) != std::size_t(pixels)))
    converted_ = Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, "tmdflow::analysis::converted_patterns"), std::size_t(block.count), std::size_t(pixels));
  const auto conv = converted_;
  if (integer)
    Kokkos::parallel_for(
        "tmdflow::analysis::diffraction_convert", Kokkos::RangePolicy<io::ExecSpace>(0, block.count), KOKKOS_LAMBDA(const std::int64_t k) {
          const T* src = &data(k, 0);
          float* dst = &conv(k, 0);
#pragma omp simd
          for (std::int64_t e = 0; e < pixels; ++e) dst[e] = float(src[e]);
        });
  Kokkos::parallel_for(
      "tmdflow::analysis::diffraction_features", Kokkos::RangePolicy<io::ExecSpace>(0, block.count), KOKKOS_LAMBDA(const std::int64_t k) {
        const T* p = &data(k, 0);
        const float* pf = integer ? &conv(k, 0) : reinterpret_cast<const float*>(p);
        const std::int64_t li = first + k;
        const double fx = f.centre_x(li), fy = f.centre_y(li);
        double mx, my;
        measure_centre(p, rows, cols, fx, fy, 0.5 * g.ring_radius[0], 2.5 * g.disc_radius, mx, my);
        f.measured_x(li) = float(mx);
        f.measured_y(li) = float(my);
        const bool inside = fx - reach >= 0 && fy - reach >= 0 && fx + reach < cols - 1 && fy + reach < rows - 1;
        const bool inside200 = fx - reach200 >= 0 && fy - reach200 >= 0 && fx + reach200 < cols - 1 && fy + reach200 < rows - 1;
        const float cx = float(fx), cy = float(fy);
        double signal = 0;
        for (int r = 0; r < rings; ++r) {
          const float* w = &wt(r, 0);
          if (r == 2 && !inside200) {
            // A {200} ring cut by the detector edge would bias the triplet: no ring-2 evidence here.
            for (int b = 0; b < bins; ++b) f.profiles(li, r, b) = 0.0f;
            f.background(li, r) = 0.0f;
            continue;
          }
          const bool fast = r == 2 || inside;
          double mean = 0;
          for (int b = 0; b < bins; ++b) {
            const float* dx = &offx(r * bins + b, 0);
            const float* dy = &offy(r * bins + b, 0);
            float s = 0;
            if (fast) {
              for (int q = 0; q < nsamp; ++q) {
                const float x = cx + dx[q], y = cy + dy[q];
                const int j = int(x), i = int(y);  // x, y > 0 here: truncation is floor
                const float ux = x - float(j), uy = y - float(i);
                const float* a = pf + i * cols + j;
                const float top = a[0] + ux * (a[1] - a[0]);
                const float bottom = a[cols] + ux * (a[cols + 1] - a[cols]);
                s += w[q] * (top + uy * (bottom - top));
              }
            } else {
              for (int q = 0; q < nsamp; ++q) s += w[q] * float(bilinear(p, rows, cols, fx + dx[q], fy + dy[q]));
            }
            f.profiles(li, r, b) = s;
            mean += s;
          }
          mean /= bins;
          double bsum = 0;
          int bn = 0;
          for (int b = 0; b < bins; ++b)
            if (f.profiles(li, r, b) <= mean) {
              bsum += f.profiles(li, r, b);
              ++bn;
            }
          const double bg = bn > 0 ? bsum / bn : 0.0;
          f.background(li, r) = float(bg);
          for (int b = 0; b < bins; ++b) {
            const float v = f.profiles(li, r, b) - float(bg);
            f.profiles(li, r, b) = v > 0 ? v : 0.0f;
            if (r < 2) signal += f.profiles(li, r, b);
          }
        }
        f.total(li) = float(signal);
        const float* r0p = &f.profiles(li, 0, 0);
        const float* r1p = &f.profiles(li, 1, 0);
        const double tw = twist_of_table(r0p, r1p, bins, &harm(0, 0), &harm(1, 0));
        double s[6];
        spots_of(r0p, bins, tw, g.spot_halfwidth_deg, s);
        double sum = 0;
        for (int n = 0; n < 6; ++n) {
          f.spots(li, n) = float(s[n]);
          sum += s[n];
        }
        f.twist_deg(li) = float(tw);
        f.asymmetry(li) = sum > 0 ? float((s[0] + s[2] + s[4] - s[1] - s[3] - s[5]) / sum) : 0.0f;
      });
}

SinglePatternFeatures features_of_pattern(const std::vector<float>& pattern, std::int64_t rows, std::int64_t cols,
                                          const DiffractionGeometry& g, double cx, double cy) {
  DiffractionFeatures f(g, DescanField{0, 1, 1, {cx}, {cy}});
  io::DatacubeMeta meta;
  meta.shape = {1, 1, rows, cols};
  io::Shard shard;
  shard.rows = {0, 1};
  shard.ry = 1;
  f.prepare(meta, shard);
  Kokkos::View<float*, io::MemSpace> device("tmdflow::analysis::single_pattern", pattern.size());
  Kokkos::deep_copy(device, Kokkos::View<const float*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>(pattern.data(), pattern.size()));
  io::PatternBlock block;
  block.dtype = io::Dtype::f32;
  block.data = device.data();
  block.count = 1;
  block.qx = rows;
  block.qy = cols;
  f.process(block);
  const auto& out = f.features();
  auto first = [](const auto& v) { return double(Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v)(0)); };
  SinglePatternFeatures s{first(out.twist_deg), first(out.asymmetry), first(out.measured_x), first(out.measured_y)};
  if (g.rings > 2) {
    const auto prof = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), out.profiles);
    s.asymmetry_200 = triplet_asymmetry(spot_sums(&prof(0, 2, 0), out.bins, s.twist_deg, g.spot_halfwidth(2)));
  }
  return s;
}

double twist_from_profiles(const float* ring0, const float* ring1, int bins) {
  const std::vector<double> six = six_fold_table(bins);
  return twist_of_table(ring0, ring1, bins, six.data(), six.data() + bins);
}

std::array<double, 6> spot_sums(const float* ring0, int bins, double twist_deg, double halfwidth_deg) {
  std::array<double, 6> s{};
  spots_of(ring0, bins, twist_deg, halfwidth_deg, s.data());
  return s;
}

double triplet_asymmetry(const std::array<double, 6>& s) {
  const double sum = s[0] + s[1] + s[2] + s[3] + s[4] + s[5];
  return sum > 0 ? (s[0] + s[2] + s[4] - s[1] - s[3] - s[5]) / sum : 0.0;
}

}  // namespace tmdflow::analysis
