#pragma once
// The per-frame Markov transition matrix between defect complexes (issue #18, item 5;
// data_schema/dynamics.md): from labelled sequences -- one per dopant (track), its complex in each
// frame, -1 where it is unknown (not detected, out of the field) -- the counts n_ij of frame steps
// k -> k + 1 with state i at k and j at k + 1 (both known), and P_ij = n_ij / sum_j n_ij, the
// maximum-likelihood estimate of a first-order chain. Confidence intervals: percentile bootstrap
// over whole sequences (the steps of one track are not independent), deterministic in the seed.
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::dynamics {

struct TransitionSpec {
  int states = 4;
  int bootstrap = 1000;        // replicates (0: no intervals)
  double confidence = 0.95;    // central interval
  std::uint64_t seed = 1;
};
/// Throws ConfigError for states < 1, bootstrap < 0 or confidence outside (0, 1).
void validate(const TransitionSpec& spec);

struct TransitionEstimate {
  int states = 0;
  std::int64_t sequences = 0;              // sequences with at least one counted step
  std::vector<std::int64_t> counts;        // [states * states], row = state at k
  std::vector<std::int64_t> row_counts;    // [states]
  std::vector<double> probability;         // row-normalised counts; NaN in a row without steps
  std::vector<double> lower, upper;        // bootstrap interval per entry; NaN without steps
  double at(const std::vector<double>& m, int from, int to) const { return m[std::size_t(from) * std::size_t(states) + std::size_t(to)]; }
};

/// Counts of every step of every sequence, [states * states]. Throws InputError for a state
/// outside -1..states-1.
std::vector<std::int64_t> transition_counts(const std::vector<std::vector<int>>& sequences, int states);
/// The counts of each frame step separately, [steps * states * states] (step k: frames k -> k + 1).
std::vector<std::int64_t> transition_counts_per_step(const std::vector<std::vector<int>>& sequences, int states, int steps);

TransitionEstimate estimate_transitions(const std::vector<std::vector<int>>& sequences, const TransitionSpec& spec);

}  // namespace tmdflow::analysis::dynamics
