#include "tmdflow/analysis/virtual_detectors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "tmdflow/par/reduce.hpp"

namespace tmdflow::analysis {
namespace {
// Pixels of a detector tile: its running sums and maxima, coordinates and mask weights (about
// 24 KiB for 16-bit data) stay in L1 while the block's patterns go by.
constexpr int kTilePixels = 1024;
// Per-tile partial values of a pattern before the masks: total, x and y moments.
constexpr int kMoments = 3;
// Patterns swept together: the tile's sums and maxima are loaded and stored once per pair.
constexpr int kSweep = 2;
// Lanes of the vector loops: 16 floats (two AVX2 or one AVX-512 register), so that each
// `omp simd reduction` sum is two independent chains rather than one.
constexpr int kLanes = 16;

// Masks summed inside the sweep (at most this many non-zero in a tile; more take a second pass).
constexpr int kFusedMasks = 2;
// Values of a (pattern, tile) from one sweep: total, x and y moments, then the fused masks.
constexpr int kSweepValues = kMoments + kFusedMasks;

/// Adds P patterns (P = 1 or 2: `a`, and `b` when P = 2; the tile's n pixels each) into the
/// tile's per-pixel sums and maxima, and gives each pattern's total, x and y moments and sums
/// over the NM masks `w[0..NM)` over the tile. With kConvert, also writes the patterns' values as
/// float into `fa`, `fb` (for masks summed afterwards).
template <int P, int NM, bool kConvert, class T>
KOKKOS_INLINE_FUNCTION void sweep_tile(const T* a, const T* b, int n, const float* x, const float* y, const float* const (&w)[kFusedMasks],
                                       float* sum, T* mx, float* fa, float* fb, float (&values)[kSweep][kSweepValues]) {
  static_assert(P >= 1 && P <= kSweep && NM >= 0 && NM <= kFusedMasks, "sweep_tile: unsupported P or NM");
  float t0 = 0.0f, x0 = 0.0f, y0 = 0.0f, t1 = 0.0f, x1 = 0.0f, y1 = 0.0f;
  float m0a = 0.0f, m1a = 0.0f, m0b = 0.0f, m1b = 0.0f;
  const float* w0 = w[0];
  const float* w1 = w[1];
#pragma omp simd simdlen(kLanes) reduction(+ : t0, x0, y0, t1, x1, y1, m0a, m1a, m0b, m1b)
  for (int k = 0; k < n; ++k) {
    const T ra = a[k];
    const float va = float(ra);
    if constexpr (kConvert) fa[k] = va;
    t0 += va;
    x0 += va * x[k];
    y0 += va * y[k];
    if constexpr (NM >= 1) m0a += va * w0[k];
    if constexpr (NM >= 2) m1a += va * w1[k];
    float s = va;
    T m = ra;
    if constexpr (P == 2) {
      const T rb = b[k];
      const float vb = float(rb);
      if constexpr (kConvert) fb[k] = vb;
      t1 += vb;
      x1 += vb * x[k];
      y1 += vb * y[k];
      if constexpr (NM >= 1) m0b += vb * w0[k];
      if constexpr (NM >= 2) m1b += vb * w1[k];
      s += vb;
      m = rb > m ? rb : m;
    }
    sum[k] += s;
    mx[k] = m > mx[k] ? m : mx[k];
  }
  const float out[kSweep][kSweepValues] = {{t0, x0, y0, m0a, m1a}, {t1, x1, y1, m0b, m1b}};
  for (int i = 0; i < kSweep; ++i)
    for (int v = 0; v < kSweepValues; ++v) values[i][v] = out[i][v];
}

/// sweep_tile with the number of patterns P (1, 2) and of fused masks NM (0..kFusedMasks) given
/// at run time.
template <bool kConvert, class T>
KOKKOS_INLINE_FUNCTION void sweep_tile(int np, int nmasks, const T* a, const T* b, int n, const float* x, const float* y,
                                       const float* const (&w)[kFusedMasks], float* sum, T* mx, float* fa, float* fb,
                                       float (&values)[kSweep][kSweepValues]) {
  if (np == 2) {
    if (nmasks == 0) sweep_tile<2, 0, kConvert>(a, b, n, x, y, w, sum, mx, fa, fb, values);
    else if (nmasks == 1) sweep_tile<2, 1, kConvert>(a, b, n, x, y, w, sum, mx, fa, fb, values);
    else sweep_tile<2, 2, kConvert>(a, b, n, x, y, w, sum, mx, fa, fb, values);
  } else {
    if (nmasks == 0) sweep_tile<1, 0, kConvert>(a, b, n, x, y, w, sum, mx, fa, fb, values);
    else if (nmasks == 1) sweep_tile<1, 1, kConvert>(a, b, n, x, y, w, sum, mx, fa, fb, values);
    else sweep_tile<1, 2, kConvert>(a, b, n, x, y, w, sum, mx, fa, fb, values);
  }
}

/// Start of a running maximum: -inf for floating-point data, the smallest value otherwise.
template <class T>
KOKKOS_INLINE_FUNCTION T lowest() {
  if constexpr (std::is_floating_point_v<T>) return -Kokkos::Experimental::infinity<T>::value;
  else return Kokkos::Experimental::finite_min<T>::value;
}

/// Sum of f[k] * w[k] over [a, e), as four interleaved sums (independent chains of multiply-adds).
KOKKOS_INLINE_FUNCTION float masked_sum(const float* f, const float* w, int a, int e) {
  const int quarter = (e - a) / 4;
  const float *f0 = f + a, *f1 = f0 + quarter, *f2 = f1 + quarter, *f3 = f2 + quarter;
  const float *w0 = w + a, *w1 = w0 + quarter, *w2 = w1 + quarter, *w3 = w2 + quarter;
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd simdlen(kLanes) reduction(+ : s0, s1, s2, s3)
  for (int k = 0; k < quarter; ++k) {
    s0 += f0[k] * w0[k];
    s1 += f1[k] * w1[k];
    s2 += f2[k] * w2[k];
    s3 += f3[k] * w3[k];
  }
  for (int k = a + 4 * quarter; k < e; ++k) s0 += f[k] * w[k];
  return (s0 + s1) + (s2 + s3);
}
}  // namespace

std::int64_t IntervalMask::pixel_count() const {
  std::int64_t n = 0;
  for (const auto& [a, b] : intervals) n += b - a;
  return n;
}

std::vector<float> IntervalMask::dense() const {
  std::vector<float> d(std::size_t(rows * cols), 0.0f);
  for (std::int64_t i = 0; i < rows; ++i)
    for (int k = row_offset[i]; k < row_offset[i + 1]; ++k)
      for (int j = intervals[k].first; j < intervals[k].second; ++j) d[std::size_t(i * cols + j)] = 1.0f;
  return d;
}

IntervalMask mask_from_dense(std::int64_t rows, std::int64_t cols, const std::vector<float>& dense) {
  IntervalMask m;
  m.rows = rows;
  m.cols = cols;
  m.row_offset.push_back(0);
  for (std::int64_t i = 0; i < rows; ++i) {
    std::int64_t j = 0;
    while (j < cols) {
      while (j < cols && dense[std::size_t(i * cols + j)] == 0.0f) ++j;
      if (j >= cols) break;
      std::int64_t j0 = j;
      while (j < cols && dense[std::size_t(i * cols + j)] != 0.0f) ++j;
      m.intervals.emplace_back(int(j0), int(j));
    }
    m.row_offset.push_back(int(m.intervals.size()));
  }
  return m;
}

IntervalMask annulus_mask(std::int64_t rows, std::int64_t cols, double cx, double cy, double inner, double outer) {
  std::vector<float> d(std::size_t(rows * cols), 0.0f);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      const double r = std::hypot(double(j) - cx, double(i) - cy);
      if (r >= inner && r < outer) d[std::size_t(i * cols + j)] = 1.0f;
    }
  return mask_from_dense(rows, cols, d);
}

void VirtualDetectors::prepare(const io::DatacubeMeta& meta, const io::Shard& shard) {
  rows_ = meta.shape[2];
  cols_ = meta.shape[3];
  total_positions_ = meta.positions();
  images_.clear();
  for (const auto& [name, m] : config_.binary) {
    if (m.rows != rows_ || m.cols != cols_)
      throw InputError("detector '" + name + "': expected a " + std::to_string(rows_) + "x" + std::to_string(cols_) +
                       " mask, found " + std::to_string(m.rows) + "x" + std::to_string(m.cols));
    images_.emplace_back(name, io::NavMap(meta, shard, "tmdflow::analysis::vd_" + name));
  }
  for (const auto& [name, w] : config_.weighted) {
    if (std::int64_t(w.size()) != rows_ * cols_)
      throw InputError("mask '" + name + "': expected " + std::to_string(rows_ * cols_) + " weights (" + std::to_string(rows_) +
                       "x" + std::to_string(cols_) + "), found " + std::to_string(w.size()));
    images_.emplace_back(name, io::NavMap(meta, shard, "tmdflow::analysis::vd_" + name));
  }
  if (config_.com) {
    images_.emplace_back("com_x", io::NavMap(meta, shard, "tmdflow::analysis::vd_com_x"));
    images_.emplace_back("com_y", io::NavMap(meta, shard, "tmdflow::analysis::vd_com_y"));
  }
  if (config_.sum) images_.emplace_back("sum", io::NavMap(meta, shard, "tmdflow::analysis::vd_sum"));

  // Tiles: contiguous runs of pixels, whole rows (or a segment of one row on wide detectors).
  const std::int64_t npix = rows_ * cols_;
  tile_pixels_ = cols_ <= kTilePixels ? std::max<std::int64_t>(1, kTilePixels / std::max<std::int64_t>(cols_, 1)) * cols_ : kTilePixels;
  tiles_ = std::max<std::int64_t>(1, (npix + tile_pixels_ - 1) / tile_pixels_);
  nav_ = decltype(nav_)("tmdflow::analysis::vd_nav", std::max<std::size_t>(images_.size(), 1), std::size_t(shard.patterns()));
  partial_ = decltype(partial_)();

  // Every mask as dense weights (binary ones as 0/1, so their sums are the interval sums up to
  // the order of the additions), with the range of each tile where it is non-zero.
  const std::size_t nm = config_.binary.size() + config_.weighted.size();
  masks_ = Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace>("tmdflow::analysis::vd_masks", std::max<std::size_t>(nm, 1), std::size_t(npix));
  mask_range_ = Kokkos::View<int***, Kokkos::LayoutRight, io::MemSpace>("tmdflow::analysis::vd_mask_range", std::max<std::size_t>(nm, 1),
                                                                         std::size_t(tiles_), 2);
  auto mh = Kokkos::create_mirror_view(masks_);
  auto rh = Kokkos::create_mirror_view(mask_range_);
  for (std::size_t k = 0; k < nm; ++k) {
    const std::vector<float> w = k < config_.binary.size() ? config_.binary[k].second.dense()
                                                            : config_.weighted[k - config_.binary.size()].second;
    for (std::int64_t t = 0; t < tiles_; ++t) {
      const std::int64_t q0 = t * tile_pixels_, q1 = std::min(npix, q0 + tile_pixels_);
      std::int64_t first = q1, last = q0;
      for (std::int64_t q = q0; q < q1; ++q) {
        mh(k, q) = w[std::size_t(q)];
        if (w[std::size_t(q)] != 0.0f) {
          first = std::min(first, q);
          last = q + 1;
        }
      }
      rh(k, t, 0) = first < last ? int(first - q0) : 0;
      rh(k, t, 1) = first < last ? int(last - q0) : 0;
    }
  }
  Kokkos::deep_copy(masks_, mh);
  Kokkos::deep_copy(mask_range_, rh);

  // Detector coordinates of every pixel, for the centre of mass.
  coord_x_ = Kokkos::View<float*, io::MemSpace>("tmdflow::analysis::vd_coord_x", std::size_t(npix));
  coord_y_ = Kokkos::View<float*, io::MemSpace>("tmdflow::analysis::vd_coord_y", std::size_t(npix));
  auto xh = Kokkos::create_mirror_view(coord_x_);
  auto yh = Kokkos::create_mirror_view(coord_y_);
  for (std::int64_t q = 0; q < npix; ++q) {
    xh(q) = float(q % cols_);
    yh(q) = float(q / cols_);
  }
  Kokkos::deep_copy(coord_x_, xh);
  Kokkos::deep_copy(coord_y_, yh);

  sum_pattern_ = Kokkos::View<double*, io::MemSpace>("tmdflow::analysis::vd_sum_pattern", std::size_t(rows_ * cols_));
  max_pattern_view_ = Kokkos::View<float*, io::MemSpace>("tmdflow::analysis::vd_max_pattern", std::size_t(rows_ * cols_));
  Kokkos::deep_copy(max_pattern_view_, -std::numeric_limits<float>::infinity());
}

template <class T>
void VirtualDetectors::process_typed(const io::PatternBlock& block) {
  auto data = block.view<T>();
  const std::int64_t npix = rows_ * cols_, count = block.count, tile_pixels = tile_pixels_, tiles = tiles_;
  if (count == 0) return;
  const int nm = int(config_.binary.size() + config_.weighted.size()), nvals = kMoments + nm;
  const bool com = config_.com, want_sum = config_.sum, want_max = config_.max_pattern;
  const float cx = float(config_.centre_x), cy = float(config_.centre_y), qps = float(config_.q_pixel_size);
  const std::int64_t first_local = block.first_local;
  if (std::int64_t(partial_.extent(0)) < count)
    partial_ = decltype(partial_)(Kokkos::view_alloc(Kokkos::WithoutInitializing, "tmdflow::analysis::vd_partial"), std::size_t(count),
                                  std::size_t(tiles), std::size_t(nvals));
  auto partial = partial_;
  auto masks = masks_;
  auto mask_range = mask_range_;
  auto coord_x = coord_x_;
  auto coord_y = coord_y_;
  auto sum_pattern = sum_pattern_;
  auto max_pattern = max_pattern_view_;

  // Kernel A: one detector tile per iteration, walking the block's patterns (which the pass keeps
  // in cache) two at a time. One sweep of the tile updates the per-pixel sums and maxima and each
  // pattern's total, moments and sums over the masks that are non-zero in the tile (up to
  // kFusedMasks; with more, the masks read the converted tile again from L1 over the range where
  // they are non-zero). Each (pattern, tile) leaves its partial values for kernel B. Maxima are
  // kept in the data's own type: exact, and converting the maximum to float gives the maximum of
  // the converted values.
  Kokkos::parallel_for(
      "tmdflow::analysis::virtual_detectors_tiles", Kokkos::RangePolicy<io::ExecSpace>(0, tiles), KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t q0 = t * tile_pixels;
        const int n = int((q0 + tile_pixels < npix ? q0 + tile_pixels : npix) - q0);
        float sum[kTilePixels];
        T mx[kTilePixels];
        const float* x = &coord_x(q0);
        const float* y = &coord_y(q0);
        for (int k = 0; k < n; ++k) {
          sum[k] = 0.0f;
          mx[k] = lowest<T>();
        }
        int active[kFusedMasks] = {}, nactive = 0;
        for (int m = 0; m < nm; ++m)
          if (mask_range(m, t, 0) < mask_range(m, t, 1)) {
            if (nactive < kFusedMasks) active[nactive] = m;
            ++nactive;
          }
        const bool fused = nactive <= kFusedMasks;
        const float* w[kFusedMasks] = {};
        for (int i = 0; i < kFusedMasks && i < nactive; ++i) w[i] = &masks(active[i], q0);

        for (std::int64_t p = 0; p < count; p += kSweep) {
          const int np = p + 1 < count ? 2 : 1;
          const T* a = &data(p, q0);
          const T* b = np == 2 ? &data(p + 1, q0) : a;
          float values[kSweep][kSweepValues];
          if (fused) {
            sweep_tile<false>(np, nactive, a, b, n, x, y, w, sum, mx, nullptr, nullptr, values);
            for (int i = 0; i < np; ++i) {
              for (int v = 0; v < kMoments; ++v) partial(p + i, t, v) = values[i][v];
              for (int m = 0; m < nm; ++m) partial(p + i, t, kMoments + m) = 0.0f;
              for (int k = 0; k < nactive; ++k) partial(p + i, t, kMoments + active[k]) = values[i][kMoments + k];
            }
          } else {
            constexpr bool convert = !std::is_same_v<T, float>;
            float converted[kSweep][kTilePixels];
            sweep_tile<convert>(np, 0, a, b, n, x, y, w, sum, mx, converted[0], converted[1], values);
            for (int i = 0; i < np; ++i) {
              const float* f = converted[i];
              if constexpr (!convert) f = i == 0 ? a : b;
              for (int v = 0; v < kMoments; ++v) partial(p + i, t, v) = values[i][v];
              for (int m = 0; m < nm; ++m)
                partial(p + i, t, kMoments + m) = masked_sum(f, &masks(m, q0), mask_range(m, t, 0), mask_range(m, t, 1));
            }
          }
        }
        // Through raw pointers: indexing the Views, GCC vectorises these loops with gathers and scatters.
        double* sum_out = &sum_pattern(q0);
        float* max_out = &max_pattern(q0);
#pragma omp simd
        for (int k = 0; k < n; ++k) sum_out[k] += double(sum[k]);
        if (want_max)
#pragma omp simd
          for (int k = 0; k < n; ++k) {
            const float m = float(mx[k]);
            max_out[k] = m > max_out[k] ? m : max_out[k];
          }
      });

  // Kernel B: one pattern per iteration; its tiles' partial values (added in double) make its
  // images.
  auto nav = nav_;
  Kokkos::parallel_for(
      "tmdflow::analysis::virtual_detectors_nav", Kokkos::RangePolicy<io::ExecSpace>(0, count), KOKKOS_LAMBDA(const std::int64_t p) {
        const std::int64_t out = first_local + p;
        int slot = 0;
        for (int v = kMoments; v < nvals; ++v) {
          double acc = 0.0;
          for (std::int64_t t = 0; t < tiles; ++t) acc += double(partial(p, t, v));
          nav(slot++, out) = float(acc);
        }
        if (com || want_sum) {
          double total = 0.0, mom_x = 0.0, mom_y = 0.0;
          for (std::int64_t t = 0; t < tiles; ++t) {
            total += double(partial(p, t, 0));
            mom_x += double(partial(p, t, 1));
            mom_y += double(partial(p, t, 2));
          }
          if (com) {
            const bool ok = total > 0.0;
            nav(slot++, out) = ok ? (float(mom_x / total) - cx) * qps : 0.0f;
            nav(slot++, out) = ok ? (float(mom_y / total) - cy) * qps : 0.0f;
          }
          if (want_sum) nav(slot++, out) = float(total);
        }
      });
}

void VirtualDetectors::process(const io::PatternBlock& block) {
  if (block.qx != rows_ || block.qy != cols_) throw Error("VirtualDetectors: block shape differs from prepare()", ExitCode::failure);
  io::visit_dtype(block.dtype, [&](auto tag) { process_typed<decltype(tag)>(block); });
}

void VirtualDetectors::merge(const par::Comm& comm) {
  for (std::size_t k = 0; k < images_.size(); ++k)
    Kokkos::deep_copy(images_[k].second.values(), Kokkos::subview(nav_, k, Kokkos::ALL));
  par::allreduce_view(comm, sum_pattern_, par::Op::sum);
  par::allreduce_view(comm, max_pattern_view_, par::Op::max);
  auto s = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sum_pattern_);
  auto m = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), max_pattern_view_);
  mean_.assign(std::size_t(rows_ * cols_), 0.0f);
  max_.assign(std::size_t(rows_ * cols_), 0.0f);
  const double n = double(std::max<std::int64_t>(total_positions_, 1));
  for (std::size_t q = 0; q < mean_.size(); ++q) {
    mean_[q] = float(s(q) / n);
    max_[q] = total_positions_ > 0 ? m(q) : 0.0f;
  }
}

DiscFit find_central_disc(const std::vector<float>& pattern, std::int64_t rows, std::int64_t cols) {
  DiscFit fit;
  fit.centre_x = 0.5 * double(cols - 1);
  fit.centre_y = 0.5 * double(rows - 1);
  if (pattern.empty()) return fit;
  const float mx = *std::max_element(pattern.begin(), pattern.end());
  const float mn = *std::min_element(pattern.begin(), pattern.end());
  if (!(mx > mn)) return fit;
  const float thr = mn + 0.5f * (mx - mn);
  // The disc is the connected region above threshold around the brightest pixel: flood fill, so
  // that bright Bragg spots elsewhere do not pull the centre.
  const std::int64_t start = std::int64_t(std::max_element(pattern.begin(), pattern.end()) - pattern.begin());
  std::vector<char> seen(pattern.size(), 0);
  std::vector<std::int64_t> stack{start};
  seen[std::size_t(start)] = 1;
  double sw = 0, sx = 0, sy = 0;
  std::int64_t count = 0;
  while (!stack.empty()) {
    const std::int64_t q = stack.back();
    stack.pop_back();
    const std::int64_t i = q / cols, j = q % cols;
    const double w = double(pattern[std::size_t(q)] - thr);
    sw += w;
    sx += w * double(j);
    sy += w * double(i);
    ++count;
    const std::int64_t nb[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
    for (const auto& n : nb) {
      if (n[0] < 0 || n[0] >= rows || n[1] < 0 || n[1] >= cols) continue;
      const std::int64_t k = n[0] * cols + n[1];
      if (!seen[std::size_t(k)] && pattern[std::size_t(k)] >= thr) {
        seen[std::size_t(k)] = 1;
        stack.push_back(k);
      }
    }
  }
  if (sw > 0) {
    fit.centre_x = sx / sw;
    fit.centre_y = sy / sw;
  }
  fit.radius = std::sqrt(double(count) / 3.14159265358979323846);
  return fit;
}

std::vector<float> sampled_mean_pattern(const par::Comm& comm, const io::DatacubeReader& reader, std::int64_t max_patterns) {
  const auto& meta = reader.meta();
  const std::int64_t n = meta.positions(), npix = meta.pattern_pixels();
  const std::int64_t want = std::max<std::int64_t>(1, std::min(n, max_patterns));
  // Evenly spaced pattern indices, split over ranks; independent reads.
  const par::Range mine = par::block_partition(want, comm.size(), comm.rank());
  std::vector<double> acc(std::size_t(npix), 0.0);
  std::vector<float> buf(static_cast<std::size_t>(npix));
  for (std::int64_t k = mine.begin; k < mine.end; ++k) {
    const std::int64_t idx = want == 1 ? n / 2 : (k * (n - 1)) / (want - 1);
    reader.read_positions(idx / meta.shape[1], idx % meta.shape[1], 1, buf.data());
    for (std::int64_t q = 0; q < npix; ++q) acc[std::size_t(q)] += buf[std::size_t(q)];
  }
  comm.allreduce_inplace(acc.data(), acc.size(), par::Op::sum);
  std::vector<float> out(static_cast<std::size_t>(npix));
  for (std::int64_t q = 0; q < npix; ++q) out[std::size_t(q)] = float(acc[std::size_t(q)] / double(want));
  return out;
}

}  // namespace tmdflow::analysis
