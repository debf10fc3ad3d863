#pragma once
// From a table of tracked, classified defects (the columns of the dynamics products) to what the
// kinetics estimators read (stage kinetics; data_schema/dynamics.md): populations per frame, one
// complex sequence per dopant track (transition_matrix.hpp), the vacancy observations of the
// diffusion estimator (diffusion.hpp), and the hop rate of isolated vacancies.
#include <cstdint>
#include <vector>

#include "tmdflow/analysis/dynamics/diffusion.hpp"

namespace tmdflow::analysis::dynamics {

/// One row of the table.
struct TrackedDefect {
  std::int64_t frame = 0, track = -1;
  int cls = 0;              // 0 V_S, 1 V_S2, 2 dopant
  int complex = -1;         // dopants: 0..3, -1 unknown
  bool isolated = false;
  double x_A = 0, y_A = 0;  // drift-corrected
  double edge_distance_A = 0;
};

/// Per frame, the defects of each class ([frames * classes]) and the dopants of each complex
/// ([frames * complexes]; unknown complexes are not counted).
std::vector<std::int64_t> class_populations(const std::vector<TrackedDefect>& rows, std::int64_t frames, int classes);
std::vector<std::int64_t> complex_populations(const std::vector<TrackedDefect>& rows, std::int64_t frames, int complexes);

/// One sequence per dopant track (tracks in increasing id), its complex in every frame, -1 where
/// the track was not seen or the complex is unknown. InputError for a track seen twice in a frame.
std::vector<std::vector<int>> dopant_complex_sequences(const std::vector<TrackedDefect>& rows, std::int64_t frames);

/// Majority filter of a state sequence over `window` frames (odd; 1: none): a known state is
/// replaced by another that holds a strict majority of the known states of the window around it, so
/// a single-frame misdetection between two frames that agree is undone, while a real change, which
/// persists, stays. Unknown states (-1) stay unknown and do not vote. ConfigError for an even window.
std::vector<std::vector<int>> majority_filter(const std::vector<std::vector<int>>& sequences, int window);

/// The vacancy observations (V_S and V_S2 rows with a track) of the diffusion estimator.
std::vector<VacancyObservation> vacancy_observations(const std::vector<TrackedDefect>& rows);

/// Hops per frame of an isolated vacancy from the fraction f of the estimator's steps that end
/// elsewhere: a Poisson process of rate k moves a vacancy within a frame with probability
/// 1 - exp(-k) (returns to the start in the same frame are rare at the rates where this is used),
/// so k = -ln(1 - f). NaN without steps.
double hop_rate_from_moved_fraction(double moved_fraction, std::int64_t steps);

}  // namespace tmdflow::analysis::dynamics
