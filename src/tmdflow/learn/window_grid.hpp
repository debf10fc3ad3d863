#pragma once
// Sliding windows over a 2-D image (H, W): which image pixels each window covers and the shape of
// the map that holds one value per window.
//
// Convention (y is the row axis, x the column axis; data_schema/conventions.md):
//  * Padding::none ("valid"): window (i, j) covers rows i*sy .. i*sy+wy-1 and columns
//    j*sx .. j*sx+wx-1; the map has ny = (H - wy)/sy + 1 rows and nx = (W - wx)/sx + 1 columns.
//    Image rows past the last whole window are not seen (H - wy need not divide by sy).
//  * Padding::reflect ("same"): one map pixel per stride cell, ny = ceil(H/sy), nx = ceil(W/sx);
//    window (i, j) is centred on the centre of its cell, i.e. its first row is
//    i*sy - offset_y with offset_y = (wy-1)/2 - (sy-1)/2 (integer division), and rows outside the
//    image are mirrored without repeating the edge (numpy's 'reflect': -1 -> 1, H -> H-2).
//    With sy = 1 and an odd wy this is the usual 'same' convolution padding.
#include <cstdint>
#include <string>

#include "tmdflow/par/partition.hpp"

namespace tmdflow::learn {

enum class Padding { none, reflect };

/// "none" or "reflect"; throws ConfigError for anything else.
Padding padding_from_string(const std::string& name);
std::string to_string(Padding padding);

/// Mirrors an index into [0, n) (numpy 'reflect', period 2(n-1)); n = 1 maps everything to 0.
std::int64_t reflect_index(std::int64_t i, std::int64_t n);

/// How windows slide: the parameters a user sets (pixels).
struct PatchWindows {
  std::int64_t window_y = 0, window_x = 0;  // wy, wx
  std::int64_t stride_y = 1, stride_x = 1;  // sy, sx
  Padding padding = Padding::none;
};

/// The windows of PatchWindows laid over an image of H x W pixels.
class WindowGrid {
 public:
  /// Throws ConfigError (naming the sizes) for non-positive sizes or, without padding, a window
  /// larger than the image.
  WindowGrid(const PatchWindows& windows, std::int64_t image_height, std::int64_t image_width);

  const PatchWindows& windows() const { return w_; }
  std::int64_t image_height() const { return height_; }
  std::int64_t image_width() const { return width_; }
  std::int64_t map_rows() const { return rows_; }  // ny
  std::int64_t map_cols() const { return cols_; }  // nx
  std::int64_t windows_count() const { return rows_ * cols_; }

  /// First image row of window row i and first image column of window column j, before
  /// reflection (negative or past the image only with Padding::reflect).
  std::int64_t first_row(std::int64_t i) const { return i * w_.stride_y - offset_y_; }
  std::int64_t first_col(std::int64_t j) const { return j * w_.stride_x - offset_x_; }
  /// The image row/column that pixel dy/dx of window row i/column j reads, after reflection.
  std::int64_t image_row(std::int64_t i, std::int64_t dy) const { return reflect_index(first_row(i) + dy, height_); }
  std::int64_t image_col(std::int64_t j, std::int64_t dx) const { return reflect_index(first_col(j) + dx, width_); }

  /// The smallest block of image rows that the windows of rows [window_rows) read: a rank's own
  /// rows plus the halo of wy - sy rows shared with the next shard. Empty for empty input.
  par::Range image_rows_for(const par::Range& window_rows) const;

  /// "image 25x19, window 5x6, stride 2x3, padding none" for messages.
  std::string describe() const;

 private:
  PatchWindows w_;
  std::int64_t height_ = 0, width_ = 0, rows_ = 0, cols_ = 0, offset_y_ = 0, offset_x_ = 0;
};

}  // namespace tmdflow::learn
