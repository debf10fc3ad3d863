#pragma once
// Resampling shared by the kinetics estimators: the bootstrap draws whole sequences (tracks) with
// replacement, since the frames of one track are not independent; replicate b draws from its own
// counter-based stream keyed by (seed, b), so the intervals are the same for a seed on any machine.
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::dynamics {

/// Indices of `count` items drawn with replacement for bootstrap replicate `replicate`.
std::vector<std::size_t> bootstrap_draw(std::size_t count, std::uint64_t seed, std::uint64_t replicate);

/// The q-quantile (0..1) of `values` (linear interpolation between order statistics, "type 7");
/// reorders `values`. NaN for an empty vector.
double quantile(std::vector<double>& values, double q);

}  // namespace tmdflow::analysis::dynamics
