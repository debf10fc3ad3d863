#pragma once
// Effective diffusion of isolated chalcogen vacancies (issue #18, item 5; data_schema/dynamics.md):
//     D = <|dr|^2> / 4
// over one-frame steps (frame k -> k + 1 of one track) of vacancies that are isolated at the start
// of the step and start at least one hop inside the field (nothing is required of the end point).
// For a walk on the chalcogen lattice (hop length a, rate Gamma per direction, six directions)
// <|dr|^2> = 6 Gamma a^2 per frame, so D = 1.5 Gamma a^2 (isolated_walk_diffusion). Units: A^2 per
// frame, and per second when the frame time is known. Interval: percentile bootstrap over tracks.
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::dynamics {

/// One vacancy in one frame. Positions in one frame of reference for the whole movie (drift
/// corrected), Angstrom.
struct VacancyObservation {
  std::int64_t track = 0;
  std::int64_t frame = 0;
  double x_A = 0, y_A = 0;
  bool isolated = false;         // the isolation at this frame
  double edge_distance_A = 0;    // distance to the nearest edge of this frame's field
};

struct DiffusionSpec {
  double hop_A = 0;              // hop length (the lattice constant a): the margin a start needs
  double frame_time_s = 0;       // 0: unknown
  int bootstrap = 1000;
  double confidence = 0.95;
  std::uint64_t seed = 1;
  /// Detected positions scatter about the true ones by sigma per axis, which adds 4 sigma^2 to
  /// every step's <|dr|^2> (Michalet, Phys. Rev. E 82, 041914 (2010)); a step that stays on its
  /// site (|dr| < hop / 2) shows exactly that. With this flag the mean |dr|^2 of such steps is
  /// subtracted before D = <|dr|^2> / 4 (and in every bootstrap replicate). No effect on exact
  /// positions (the truth), whose staying steps have |dr| = 0.
  bool subtract_localisation_noise = false;
};
void validate(const DiffusionSpec& spec);

struct DiffusionStep {
  std::int64_t track = 0, frame = 0;  // the start
  double dx_A = 0, dy_A = 0;
};

struct DiffusionEstimate {
  std::int64_t steps = 0, tracks = 0;
  double mean_square_A2 = 0;                     // <|dr|^2> per frame
  double D_A2_per_frame = 0, lower = 0, upper = 0, standard_error = 0;  // NaN without steps
  double D_A2_per_s = 0, lower_per_s = 0, upper_per_s = 0;               // NaN unless frame_time_s > 0
  double moved_fraction = 0;                     // steps that end elsewhere (|dr| > hop_A / 2)
  double localisation_noise_A2 = 0;              // mean |dr|^2 of the staying steps (subtracted when asked)
};

/// The steps the estimator uses. Throws InputError when a track has two observations in one frame.
std::vector<DiffusionStep> diffusion_steps(std::vector<VacancyObservation> observations, const DiffusionSpec& spec);

DiffusionEstimate estimate_diffusion(const std::vector<VacancyObservation>& observations, const DiffusionSpec& spec);

/// D (A^2 per frame) of a walk with rate `hop_rate_per_frame` in each of six directions of length a.
inline double isolated_walk_diffusion(double hop_rate_per_frame, double a) { return 1.5 * hop_rate_per_frame * a * a; }

}  // namespace tmdflow::analysis::dynamics
