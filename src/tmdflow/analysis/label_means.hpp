#pragma once
// Mean diffraction pattern of each label (domain) in one pass, each pattern moved by the whole
// pixels that bring its (descan-fitted) centre nearest to the reference centre.
#include <vector>

#include "tmdflow/io/pattern_pass.hpp"

namespace tmdflow::analysis {

class LabelMeans : public io::PatternAnalysis {
 public:
  /// labels: whole scan (negative: skipped); centre_x/y: this rank's patterns (local order), pixels.
  LabelMeans(std::vector<std::int32_t> labels, int count, std::vector<float> centre_x, std::vector<float> centre_y, double reference_x,
             double reference_y)
      : labels_(std::move(labels)), count_(count), centre_x_(std::move(centre_x)), centre_y_(std::move(centre_y)),
        reference_x_(reference_x), reference_y_(reference_y) {}
  void prepare(const io::DatacubeMeta& meta, const io::Shard& shard) override;
  void process(const io::PatternBlock& block) override;
  void merge(const par::Comm& comm) override;
  /// count x rows x cols means (after merge).
  const std::vector<float>& means() const { return means_; }

 private:
  std::vector<std::int32_t> labels_;
  int count_;
  std::vector<float> centre_x_, centre_y_;
  double reference_x_ = 0, reference_y_ = 0;
  std::int64_t rows_ = 0, cols_ = 0;
  std::vector<double> sums_, n_;
  std::vector<float> means_;
};

}  // namespace tmdflow::analysis
