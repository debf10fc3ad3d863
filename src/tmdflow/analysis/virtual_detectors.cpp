#include "tmdflow/analysis/virtual_detectors.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/par/reduce.hpp"

namespace tmdflow::analysis {

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

  // Interval tables of all binary masks, concatenated.
  std::vector<int> offs, starts, ends, first;
  for (const auto& [name, m] : config_.binary) {
    first.push_back(int(offs.size()));
    const int base = int(starts.size());
    for (std::int64_t i = 0; i <= rows_; ++i) offs.push_back(base + m.row_offset[std::size_t(i)]);
    for (const auto& [a, b] : m.intervals) {
      starts.push_back(a);
      ends.push_back(b);
    }
  }
  auto to_view = [](const std::vector<int>& v, const char* label) {
    Kokkos::View<int*, io::MemSpace> out(std::string(label), std::max<std::size_t>(v.size(), 1));
    auto h = Kokkos::create_mirror_view(out);
    for (std::size_t i = 0; i < v.size(); ++i) h(i) = v[i];
    Kokkos::deep_copy(out, h);
    return out;
  };
  row_offset_ = to_view(offs, "tmdflow::analysis::vd_row_offset");
  interval_start_ = to_view(starts, "tmdflow::analysis::vd_interval_start");
  interval_end_ = to_view(ends, "tmdflow::analysis::vd_interval_end");
  mask_first_row_offset_ = to_view(first, "tmdflow::analysis::vd_mask_first");

  const std::size_t nw = config_.weighted.size();
  weights_ = Kokkos::View<float**, io::MemSpace>("tmdflow::analysis::vd_weights", std::max<std::size_t>(nw, 1), std::size_t(rows_ * cols_));
  auto wh = Kokkos::create_mirror_view(weights_);
  for (std::size_t k = 0; k < nw; ++k)
    for (std::int64_t q = 0; q < rows_ * cols_; ++q) wh(k, q) = config_.weighted[k].second[std::size_t(q)];
  Kokkos::deep_copy(weights_, wh);

  sum_pattern_ = Kokkos::View<double*, io::MemSpace>("tmdflow::analysis::vd_sum_pattern", std::size_t(rows_ * cols_));
  max_pattern_view_ = Kokkos::View<float*, io::MemSpace>("tmdflow::analysis::vd_max_pattern", std::size_t(rows_ * cols_));
  Kokkos::deep_copy(max_pattern_view_, -std::numeric_limits<float>::infinity());
}

template <class T>
void VirtualDetectors::process_typed(const io::PatternBlock& block) {
  auto data = block.view<T>();
  const std::int64_t rows = rows_, cols = cols_, npix = rows_ * cols_;
  const int nb = int(config_.binary.size()), nw = int(config_.weighted.size());
  const bool com = config_.com, want_sum = config_.sum;
  const float cx = float(config_.centre_x), cy = float(config_.centre_y), qps = float(config_.q_pixel_size);
  const std::int64_t first_local = block.first_local;

  Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace> nav_out("tmdflow::analysis::vd_block_out", std::size_t(block.count),
                                                                   std::size_t(std::max<std::size_t>(images_.size(), 1)));
  auto row_offset = row_offset_;
  auto istart = interval_start_;
  auto iend = interval_end_;
  auto mfirst = mask_first_row_offset_;
  auto weights = weights_;

  // Kernel A: one scan position per iteration; per-pattern quantities.
  Kokkos::parallel_for(
      "tmdflow::analysis::virtual_detectors_nav", Kokkos::RangePolicy<io::ExecSpace>(0, block.count), KOKKOS_LAMBDA(const std::int64_t p) {
        const T* v = &data(p, 0);
        float total = 0.0f, mom_y = 0.0f, mom_x = 0.0f;
        int slot = 0;
        for (int m = 0; m < nb; ++m) {
          float acc = 0.0f;
          const int base = mfirst(m);
          for (std::int64_t i = 0; i < rows; ++i) {
            const T* row = v + i * cols;
            for (int k = row_offset(base + i); k < row_offset(base + i + 1); ++k) {
              float s = 0.0f;
              const int j1 = iend(k);
#pragma omp simd reduction(+ : s)
              for (int j = istart(k); j < j1; ++j) s += float(row[j]);
              acc += s;
            }
          }
          nav_out(p, slot++) = acc;
        }
        for (int m = 0; m < nw; ++m) {
          float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
          for (std::int64_t q = 0; q < npix; ++q) acc += float(v[q]) * weights(m, q);
          nav_out(p, slot++) = acc;
        }
        if (com || want_sum) {
          for (std::int64_t i = 0; i < rows; ++i) {
            const T* row = v + i * cols;
            float rs = 0.0f, rx = 0.0f;
            // int (not int64) index: int32 -> float converts in SIMD registers, int64 does not on AVX2.
            const int ncols = int(cols);
#pragma omp simd reduction(+ : rs, rx)
            for (int j = 0; j < ncols; ++j) {
              const float val = float(row[j]);
              rs += val;
              rx += val * float(j);
            }
            total += rs;
            mom_y += rs * float(i);
            mom_x += rx;
          }
          if (com) {
            const bool ok = total > 0.0f;
            nav_out(p, slot++) = ok ? (mom_x / total - cx) * qps : 0.0f;
            nav_out(p, slot++) = ok ? (mom_y / total - cy) * qps : 0.0f;
          }
          if (want_sum) nav_out(p, slot++) = total;
        }
      });

  // Kernel B: sums and maxima over the block's patterns, per detector pixel. One iteration owns a
  // tile of kTile contiguous pixels and walks the patterns, so every read is a contiguous,
  // vectorisable run of a pattern row (a pixel-per-iteration loop would stride by a whole
  // pattern and miss the cache on every element).
  constexpr std::int64_t kTile = 256;
  auto sum_pattern = sum_pattern_;
  auto max_pattern = max_pattern_view_;
  const std::int64_t count = block.count;
  const bool want_max = config_.max_pattern;
  const std::int64_t tiles = (npix + kTile - 1) / kTile;
  Kokkos::parallel_for(
      "tmdflow::analysis::virtual_detectors_sig", Kokkos::RangePolicy<io::ExecSpace>(0, tiles), KOKKOS_LAMBDA(const std::int64_t t) {
        const std::int64_t q0 = t * kTile;
        const std::int64_t n = (q0 + kTile <= npix) ? kTile : npix - q0;
        float s[kTile], mx[kTile];
        for (std::int64_t k = 0; k < n; ++k) {
          s[k] = 0.0f;
          mx[k] = max_pattern(q0 + k);
        }
        for (std::int64_t p = 0; p < count; ++p) {
          const T* v = &data(p, q0);
#pragma omp simd
          for (std::int64_t k = 0; k < n; ++k) {
            const float val = float(v[k]);
            s[k] += val;
            mx[k] = val > mx[k] ? val : mx[k];
          }
        }
        for (std::int64_t k = 0; k < n; ++k) {
          sum_pattern(q0 + k) += double(s[k]);
          if (want_max) max_pattern(q0 + k) = mx[k];
        }
      });

  // Scatter this block's per-position values into the maps.
  const int nimg = int(images_.size());
  for (int k = 0; k < nimg; ++k) {
    auto dst = images_[std::size_t(k)].second.values();
    Kokkos::parallel_for(
        "tmdflow::analysis::virtual_detectors_scatter", Kokkos::RangePolicy<io::ExecSpace>(0, block.count),
        KOKKOS_LAMBDA(const std::int64_t p) { dst(first_local + p) = nav_out(p, k); });
  }
}

void VirtualDetectors::process(const io::PatternBlock& block) {
  if (block.qx != rows_ || block.qy != cols_) throw Error("VirtualDetectors: block shape differs from prepare()", ExitCode::failure);
  io::visit_dtype(block.dtype, [&](auto tag) { process_typed<decltype(tag)>(block); });
}

void VirtualDetectors::merge(const par::Comm& comm) {
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
