#pragma once
// Virtual detectors of 4D-STEM in one pass: bright field, annular dark field, any binary or
// weighted mask, centre of mass, total intensity, and the mean and maximum patterns.
//
// Conventions (data_schema/conventions.md): a pattern is data[..., Qx, Qy]; its x is the last
// axis (Qy, column j) and its y the one before (Qx, row i). Centres and radii are in detector
// pixels; the centre of mass is relative to the centre, in Q units (A^-1 when calibrated).
#include <string>
#include <utility>
#include <vector>

#include "tmdflow/io/pattern_pass.hpp"

namespace tmdflow::analysis {

/// A binary detector stored as intervals [j0, j1) of columns for each detector row.
struct IntervalMask {
  std::int64_t rows = 0, cols = 0;
  std::vector<int> row_offset;                  // rows + 1 offsets into `intervals`
  std::vector<std::pair<int, int>> intervals;   // [j0, j1)
  std::int64_t pixel_count() const;
  /// Dense 0/1 copy (rows*cols), for figures and tests.
  std::vector<float> dense() const;
};

/// Pixels whose centre lies at a distance r from (cx, cy) with inner <= r < outer (pixels).
IntervalMask annulus_mask(std::int64_t rows, std::int64_t cols, double cx, double cy, double inner, double outer);
/// Pixels where a dense mask is non-zero (weights taken as 1).
IntervalMask mask_from_dense(std::int64_t rows, std::int64_t cols, const std::vector<float>& dense);

struct VirtualDetectorConfig {
  double centre_x = 0.0;  // detector column (Qy index) of the optical axis
  double centre_y = 0.0;  // detector row (Qx index)
  double q_pixel_size = 1.0;  // for the centre of mass units
  std::vector<std::pair<std::string, IntervalMask>> binary;          // e.g. {"bf", ...}, {"adf", ...}
  std::vector<std::pair<std::string, std::vector<float>>> weighted;  // dense weights, rows*cols
  bool com = true;
  bool sum = false;
  bool max_pattern = true;
};

class VirtualDetectors : public io::PatternAnalysis {
 public:
  explicit VirtualDetectors(VirtualDetectorConfig config) : config_(std::move(config)) {}
  void prepare(const io::DatacubeMeta& meta, const io::Shard& shard) override;
  void process(const io::PatternBlock& block) override;
  void merge(const par::Comm& comm) override;

  /// Per-position images of this rank's rows, in the order: binary, weighted, com_x, com_y, sum.
  const std::vector<std::pair<std::string, io::NavMap>>& images() const { return images_; }
  /// Mean and maximum pattern over the whole scan (after merge), rows*cols, on the host.
  const std::vector<float>& mean_pattern() const { return mean_; }
  const std::vector<float>& max_pattern() const { return max_; }
  const VirtualDetectorConfig& config() const { return config_; }

 private:
  template <class T>
  void process_typed(const io::PatternBlock& block);

  VirtualDetectorConfig config_;
  std::int64_t rows_ = 0, cols_ = 0, total_positions_ = 0;
  // The detector is cut into tiles of whole rows (or row segments on wide detectors), contiguous
  // and small enough for a tile's sums and maxima to stay in L1 while a block's patterns go by.
  std::int64_t tile_pixels_ = 1, tiles_ = 1;
  std::vector<std::pair<std::string, io::NavMap>> images_;
  Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace> nav_;       // (images, local patterns)
  Kokkos::View<float***, Kokkos::LayoutRight, io::MemSpace> partial_;  // (block pattern, tile, value)
  Kokkos::View<float**, Kokkos::LayoutRight, io::MemSpace> masks_;     // (binary then weighted, rows*cols)
  Kokkos::View<int***, Kokkos::LayoutRight, io::MemSpace> mask_range_; // (mask, tile, [begin, end)) non-zero
  Kokkos::View<float*, io::MemSpace> coord_x_, coord_y_;               // column j and row i of each pixel
  Kokkos::View<double*, io::MemSpace> sum_pattern_;  // accumulated in double across blocks
  Kokkos::View<float*, io::MemSpace> max_pattern_view_;
  std::vector<float> mean_, max_;
};

/// Centre and radius of the central (bright-field) disc of a pattern (rows*cols, row-major):
/// centre of mass of the pixels above half of the maximum; radius from their count (area = pi r^2).
struct DiscFit {
  double centre_x = 0, centre_y = 0, radius = 0;
};
DiscFit find_central_disc(const std::vector<float>& pattern, std::int64_t rows, std::int64_t cols);

/// Mean of up to `max_patterns` patterns spread evenly over the scan (collective; every rank
/// gets the result). Used to find the centre before the single pass.
std::vector<float> sampled_mean_pattern(const par::Comm& comm, const io::DatacubeReader& reader, std::int64_t max_patterns);

}  // namespace tmdflow::analysis
