#pragma once
// Matching found labels to ground-truth labels: the one-to-one assignment of found ids to true ids
// that maximises the number of pixels on which they agree (the contingency table's best matching,
// solved exactly by the Hungarian method). Found ids without a partner (more found than true
// domains, or a found domain that overlaps nothing) stay unmatched. Used to colour a found map
// like its ground truth, so that the two can be compared by eye.
#include <cstdint>
#include <vector>

namespace tmdflow::analysis {

/// Minimum-cost assignment of rows to columns of a rows x cols cost matrix (row-major), by the
/// Hungarian method with potentials (Kuhn 1955, Munkres 1957; O(n^3), n = max(rows, cols)).
/// Returns the column of each row, -1 for rows left unassigned when rows > cols.
std::vector<int> min_cost_assignment(const std::vector<double>& cost, int rows, int cols);

struct LabelMatch {
  std::vector<std::int32_t> truth_of_found;  // per found id: its true id, -1 when unmatched
  std::int64_t agreeing = 0;                 // pixels where the matched ids agree
  std::int64_t compared = 0;                 // pixels where both labels are >= 0
  /// Ids to colour found labels by: the matched true id, or for an unmatched found id a new id
  /// above every true id (so it never takes a true domain's colour).
  std::vector<std::int32_t> display_ids() const;
  std::int32_t truth_ids = 0;                // 1 + the largest true id
};

/// Matches found ids (label >= 0; -1 undetermined) to true ids over the pixels where both are >= 0.
/// The two maps have the same size.
LabelMatch match_labels(const std::vector<std::int32_t>& found, const std::vector<std::int32_t>& truth);

}  // namespace tmdflow::analysis
