#include "tmdflow/analysis/label_means.hpp"

#include <cmath>

namespace tmdflow::analysis {

void LabelMeans::prepare(const io::DatacubeMeta& meta, const io::Shard&) {
  rows_ = meta.shape[2];
  cols_ = meta.shape[3];
  sums_.assign(std::size_t(count_ * rows_ * cols_), 0.0);
  n_.assign(std::size_t(count_), 0.0);
}

void LabelMeans::process(const io::PatternBlock& block) {
  // Host accumulation: the sums are small (domains x pattern) and this pass is read-bound.
  block.visit([&](auto view) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), view);
    for (std::int64_t k = 0; k < block.count; ++k) {
      const std::int64_t g = block.first + k;
      const int l = labels_[std::size_t(g)];
      if (l < 0 || l >= count_) continue;
      n_[std::size_t(l)] += 1;
      const std::size_t local = std::size_t(block.first_local + k);
      const long sx = std::lround(reference_x_ - centre_x_[local]), sy = std::lround(reference_y_ - centre_y_[local]);
      double* s = &sums_[std::size_t(l * rows_ * cols_)];
      for (std::int64_t i = 0; i < rows_; ++i) {
        const std::int64_t si = i - sy;
        if (si < 0 || si >= rows_) continue;
        for (std::int64_t j = 0; j < cols_; ++j) {
          const std::int64_t sj = j - sx;
          if (sj >= 0 && sj < cols_) s[i * cols_ + j] += double(host(k, si * cols_ + sj));
        }
      }
    }
  });
}

void LabelMeans::merge(const par::Comm& comm) {
  comm.allreduce_inplace(sums_.data(), sums_.size(), par::Op::sum);
  comm.allreduce_inplace(n_.data(), n_.size(), par::Op::sum);
  means_.assign(sums_.size(), 0.0f);
  for (int l = 0; l < count_; ++l)
    for (std::int64_t q = 0; q < rows_ * cols_; ++q)
      means_[std::size_t(l * rows_ * cols_ + q)] = n_[std::size_t(l)] > 0 ? float(sums_[std::size_t(l * rows_ * cols_ + q)] / n_[std::size_t(l)]) : 0.0f;
}

}  // namespace tmdflow::analysis
