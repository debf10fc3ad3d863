#pragma once
// Vector marks that outline what a map holds, for a panel's `marks` (io/plot.hpp): contour lines
// of a continuous map at given levels (marching squares between pixel centres), and the borders
// between regions of a label map (along pixel edges). Coordinates are data pixels, pixel k's centre
// at k, as Mark wants them.
#include <cstdint>
#include <vector>

#include "tmdflow/io/plot.hpp"

namespace tmdflow::io::plot {

/// Contour segments of `values` (height x width, row-major) at each level: in every square of
/// four neighbouring pixel centres, the segments where the bilinear surface crosses the level
/// (saddle squares resolved by the centre value). Squares with a non-finite corner are skipped;
/// `periodic` also closes the squares across the right and bottom edges.
std::vector<Mark> contour_marks(const std::vector<float>& values, std::int64_t height, std::int64_t width, const std::vector<double>& levels,
                                Rgb colour, double line_width, bool periodic = false);

/// Segments along the pixel edges between two pixels of different labels (both >= 0).
std::vector<Mark> region_border_marks(const std::vector<std::int32_t>& labels, std::int64_t height, std::int64_t width, Rgb colour,
                                      double line_width);

/// `count` levels evenly spaced strictly between lo and hi.
std::vector<double> even_levels(double lo, double hi, int count);

}  // namespace tmdflow::io::plot
