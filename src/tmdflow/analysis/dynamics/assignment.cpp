#include "tmdflow/analysis/dynamics/assignment.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis::dynamics {

std::vector<int> solve_assignment(const std::vector<double>& cost, int n, int m) {
  if (n < 0 || n > m || cost.size() != std::size_t(n) * std::size_t(m))
    throw InputError("assignment: expected a cost matrix of n x m entries with n <= m, found " + std::to_string(n) + " x " + std::to_string(m) +
                     " and " + std::to_string(cost.size()) + " entries");
  for (double c : cost)
    if (!std::isfinite(c)) throw InputError("assignment: expected finite costs, found " + std::to_string(c));
  const double inf = std::numeric_limits<double>::infinity();
  // 1-based: column 0 is the virtual start of each augmenting path; p[j] is the row at column j.
  std::vector<double> u(std::size_t(n) + 1, 0), v(std::size_t(m) + 1, 0);
  std::vector<int> p(std::size_t(m) + 1, 0), way(std::size_t(m) + 1, 0);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::vector<double> minv(std::size_t(m) + 1, inf);
    std::vector<char> used(std::size_t(m) + 1, 0);
    do {
      used[std::size_t(j0)] = 1;
      const int i0 = p[std::size_t(j0)];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[std::size_t(j)]) continue;
        const double cur = cost[std::size_t(i0 - 1) * m + std::size_t(j - 1)] - u[std::size_t(i0)] - v[std::size_t(j)];
        if (cur < minv[std::size_t(j)]) minv[std::size_t(j)] = cur, way[std::size_t(j)] = j0;
        if (minv[std::size_t(j)] < delta) delta = minv[std::size_t(j)], j1 = j;
      }
      for (int j = 0; j <= m; ++j) {
        if (used[std::size_t(j)]) {
          u[std::size_t(p[std::size_t(j)])] += delta;
          v[std::size_t(j)] -= delta;
        } else {
          minv[std::size_t(j)] -= delta;
        }
      }
      j0 = j1;
    } while (p[std::size_t(j0)] != 0);
    do {
      const int j1 = way[std::size_t(j0)];
      p[std::size_t(j0)] = p[std::size_t(j1)];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> column(std::size_t(n), -1);
  for (int j = 1; j <= m; ++j)
    if (p[std::size_t(j)] > 0) column[std::size_t(p[std::size_t(j)] - 1)] = j - 1;
  return column;
}

}  // namespace tmdflow::analysis::dynamics
