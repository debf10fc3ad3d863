#pragma once
// Numeric constants shared by the analyses.
#include <limits>

namespace tmdflow {

/// A quiet NaN: "no value" in maps and tables.
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// i modulo n in [0, n) for n > 0: the index of a periodic grid.
inline int wrap_index(int i, int n) {
  const int r = i % n;
  return r < 0 ? r + n : r;
}

}  // namespace tmdflow
