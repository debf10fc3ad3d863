#pragma once
// The linear assignment problem (Kuhn 1955; Munkres 1957) by shortest augmenting paths with
// potentials (the O(n^2 m) Hungarian algorithm as Jonker & Volgenant formulate it): each of n rows
// gets a distinct one of m >= n columns at the least total cost.
#include <vector>

namespace tmdflow::analysis::dynamics {

/// cost: n x m row-major, n <= m, finite. Returns the column of each row. InputError for n > m or a
/// non-finite cost (forbid a pair with a large finite cost instead).
std::vector<int> solve_assignment(const std::vector<double>& cost, int rows, int cols);

}  // namespace tmdflow::analysis::dynamics
