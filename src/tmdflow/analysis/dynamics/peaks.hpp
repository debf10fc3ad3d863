#pragma once
// Peaks of detector heat maps (stage detect-defects): local maxima above a threshold, at least a
// minimum distance apart (the higher one wins), refined to sub-pixel precision by a parabola
// through the maximum and its two neighbours along each axis; then one class per site: of peaks of
// different classes closer than a distance, the highest-scoring one is kept (a column is either a
// single or a double vacancy; a metal site and a chalcogen site are a/sqrt(3) apart, further than
// that distance).
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::dynamics {

struct Peak {
  double x = 0, y = 0;          // sub-pixel position in the map's pixels (x = column, y = row)
  std::int64_t row = 0, col = 0;  // the maximum's pixel
  float score = 0;              // the map's value there
  int cls = 0;
};

struct PeakSpec {
  float threshold = 0.5f;
  double min_distance_px = 3;   // two peaks of one class are at least this far apart
};

/// Peaks of one map (ny x nx, row-major) of class `cls`, in decreasing score (ties: row, column).
std::vector<Peak> find_peaks(const float* map, std::int64_t ny, std::int64_t nx, int cls, const PeakSpec& spec);

/// The peaks whose maximum pixel lies in rows [y0, y1) and columns [x0, x1) (a tile's owned
/// pixels: a map computed with a halo finds its peaks with their context, and each tile reports
/// its own).
std::vector<Peak> peaks_within(const std::vector<Peak>& peaks, std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1);

/// Of peaks closer than `distance_px`, keeps the highest-scoring one (ties: lower class, then
/// earlier); returns the kept peaks sorted by row, then column.
std::vector<Peak> one_class_per_site(std::vector<Peak> peaks, double distance_px);

}  // namespace tmdflow::analysis::dynamics
