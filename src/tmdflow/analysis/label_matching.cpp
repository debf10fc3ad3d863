#include "tmdflow/analysis/label_matching.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis {

std::vector<int> min_cost_assignment(const std::vector<double>& cost, int rows, int cols) {
  if (rows < 0 || cols < 0 || cost.size() != std::size_t(rows) * std::size_t(cols))
    throw ConfigError("assignment: expected a " + std::to_string(rows) + " x " + std::to_string(cols) + " cost matrix, found " +
                      std::to_string(cost.size()) + " values");
  const int n = std::max(rows, cols);
  if (n == 0) return {};
  // Square matrix padded with zeros; 1-based arrays of the classic shortest-augmenting-path form:
  // u, v the row and column potentials, match[j] the row assigned to column j.
  auto c = [&](int i, int j) { return i <= rows && j <= cols ? cost[std::size_t(i - 1) * cols + std::size_t(j - 1)] : 0.0; };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(std::size_t(n) + 1, 0.0), v(std::size_t(n) + 1, 0.0);
  std::vector<int> match(std::size_t(n) + 1, 0), way(std::size_t(n) + 1, 0);
  for (int i = 1; i <= n; ++i) {
    match[0] = i;
    int j0 = 0;
    std::vector<double> minv(std::size_t(n) + 1, inf);
    std::vector<char> used(std::size_t(n) + 1, 0);
    do {
      used[std::size_t(j0)] = 1;
      const int i0 = match[std::size_t(j0)];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= n; ++j) {
        if (used[std::size_t(j)]) continue;
        const double reduced = c(i0, j) - u[std::size_t(i0)] - v[std::size_t(j)];
        if (reduced < minv[std::size_t(j)]) {
          minv[std::size_t(j)] = reduced;
          way[std::size_t(j)] = j0;
        }
        if (minv[std::size_t(j)] < delta) {
          delta = minv[std::size_t(j)];
          j1 = j;
        }
      }
      for (int j = 0; j <= n; ++j) {
        if (used[std::size_t(j)]) {
          u[std::size_t(match[std::size_t(j)])] += delta;
          v[std::size_t(j)] -= delta;
        } else {
          minv[std::size_t(j)] -= delta;
        }
      }
      j0 = j1;
    } while (match[std::size_t(j0)] != 0);
    do {  // augment along the path found
      const int j1 = way[std::size_t(j0)];
      match[std::size_t(j0)] = match[std::size_t(j1)];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> col_of_row(std::size_t(rows), -1);
  for (int j = 1; j <= n; ++j) {
    const int i = match[std::size_t(j)];
    if (i >= 1 && i <= rows && j <= cols) col_of_row[std::size_t(i - 1)] = j - 1;
  }
  return col_of_row;
}

std::vector<std::int32_t> LabelMatch::display_ids() const {
  std::vector<std::int32_t> ids(truth_of_found.size());
  std::int32_t next = truth_ids;
  for (std::size_t f = 0; f < ids.size(); ++f) ids[f] = truth_of_found[f] >= 0 ? truth_of_found[f] : next++;
  return ids;
}

LabelMatch match_labels(const std::vector<std::int32_t>& found, const std::vector<std::int32_t>& truth) {
  if (found.size() != truth.size())
    throw InputError("label matching: expected maps of the same size, found " + std::to_string(found.size()) + " and " +
                     std::to_string(truth.size()) + " pixels");
  std::int32_t nf = 0, nt = 0;
  for (std::size_t i = 0; i < found.size(); ++i) nf = std::max(nf, found[i] + 1), nt = std::max(nt, truth[i] + 1);
  LabelMatch m;
  m.truth_ids = nt;
  m.truth_of_found.assign(std::size_t(nf), -1);
  if (nf == 0 || nt == 0) return m;
  std::vector<std::int64_t> table(std::size_t(nf) * std::size_t(nt), 0);
  for (std::size_t i = 0; i < found.size(); ++i)
    if (found[i] >= 0 && truth[i] >= 0) {
      ++table[std::size_t(found[i]) * nt + std::size_t(truth[i])];
      ++m.compared;
    }
  std::vector<double> cost(table.size());
  for (std::size_t k = 0; k < table.size(); ++k) cost[k] = -double(table[k]);  // maximise the overlap
  const std::vector<int> col = min_cost_assignment(cost, nf, nt);
  for (std::int32_t f = 0; f < nf; ++f) {
    const int t = col[std::size_t(f)];
    // A pairing with no overlap is no match: the found domain keeps a colour of its own.
    if (t >= 0 && table[std::size_t(f) * nt + std::size_t(t)] > 0) {
      m.truth_of_found[std::size_t(f)] = t;
      m.agreeing += table[std::size_t(f) * nt + std::size_t(t)];
    }
  }
  return m;
}

}  // namespace tmdflow::analysis
