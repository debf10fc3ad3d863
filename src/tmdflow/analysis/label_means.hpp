#pragma once
// Mean diffraction pattern of each label (domain) in one pass, each pattern moved by the whole
// pixels that bring its descan-corrected centre onto the reference centre.
#include <vector>

#include "tmdflow/io/pattern_pass.hpp"

namespace tmdflow::analysis {

class LabelMeans : public io::PatternAnalysis {
 public:
  /// labels: whole scan (negative: skipped); shift_x/y: whole scan, pixels to move each pattern by.
  LabelMeans(std::vector<std::int32_t> labels, int count, std::vector<int> shift_x, std::vector<int> shift_y)
      : labels_(std::move(labels)), count_(count), shift_x_(std::move(shift_x)), shift_y_(std::move(shift_y)) {}
  void prepare(const io::DatacubeMeta& meta, const io::Shard& shard) override;
  void process(const io::PatternBlock& block) override;
  void merge(const par::Comm& comm) override;
  /// count x rows x cols means (after merge).
  const std::vector<float>& means() const { return means_; }

 private:
  std::vector<std::int32_t> labels_;
  int count_;
  std::vector<int> shift_x_, shift_y_;
  std::int64_t rows_ = 0, cols_ = 0;
  std::vector<double> sums_, n_;
  std::vector<float> means_;
};

}  // namespace tmdflow::analysis
