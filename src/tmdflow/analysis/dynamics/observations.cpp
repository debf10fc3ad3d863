#include "tmdflow/analysis/dynamics/observations.hpp"

#include <cmath>
#include <limits>
#include <map>

#include "tmdflow/analysis/dynamics/neighbourhood.hpp"
#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis::dynamics {

std::vector<std::int64_t> class_populations(const std::vector<TrackedDefect>& rows, std::int64_t frames, int classes) {
  std::vector<std::int64_t> p(std::size_t(frames * classes), 0);
  for (const auto& r : rows)
    if (r.frame >= 0 && r.frame < frames && r.cls >= 0 && r.cls < classes) ++p[std::size_t(r.frame * classes + r.cls)];
  return p;
}

std::vector<std::int64_t> complex_populations(const std::vector<TrackedDefect>& rows, std::int64_t frames, int complexes) {
  std::vector<std::int64_t> p(std::size_t(frames * complexes), 0);
  for (const auto& r : rows)
    if (r.cls == kDopant && r.frame >= 0 && r.frame < frames && r.complex >= 0 && r.complex < complexes) ++p[std::size_t(r.frame * complexes + r.complex)];
  return p;
}

std::vector<std::vector<int>> dopant_complex_sequences(const std::vector<TrackedDefect>& rows, std::int64_t frames) {
  std::map<std::int64_t, std::vector<int>> by_track;
  std::map<std::int64_t, std::vector<char>> seen;
  for (const auto& r : rows) {
    if (r.cls != kDopant || r.track < 0 || r.frame < 0 || r.frame >= frames) continue;
    auto& s = by_track[r.track];
    auto& v = seen[r.track];
    if (s.empty()) s.assign(std::size_t(frames), -1), v.assign(std::size_t(frames), 0);
    if (v[std::size_t(r.frame)])
      throw InputError("dopant tracks: expected one detection per track and frame, found two for track " + std::to_string(r.track) + " in frame " +
                       std::to_string(r.frame));
    v[std::size_t(r.frame)] = 1;
    s[std::size_t(r.frame)] = r.complex;
  }
  std::vector<std::vector<int>> out;
  for (auto& [track, s] : by_track) out.push_back(std::move(s));
  return out;
}

std::vector<std::vector<int>> majority_filter(const std::vector<std::vector<int>>& sequences, int window) {
  if (window < 1 || window % 2 == 0) throw ConfigError("smooth-frames: expected an odd number of frames >= 1, found " + std::to_string(window));
  const int h = window / 2;
  std::vector<std::vector<int>> out = sequences;
  for (std::size_t s = 0; s < sequences.size(); ++s) {
    const auto& in = sequences[s];
    const int n = int(in.size());
    for (int k = 0; k < n; ++k) {
      if (in[std::size_t(k)] < 0) continue;
      std::map<int, int> votes;
      int known = 0;
      for (int j = std::max(0, k - h); j <= std::min(n - 1, k + h); ++j)
        if (in[std::size_t(j)] >= 0) ++votes[in[std::size_t(j)]], ++known;
      for (const auto& [state, count] : votes)
        if (state != in[std::size_t(k)] && 2 * count > known) out[s][std::size_t(k)] = state;
    }
  }
  return out;
}

std::vector<VacancyObservation> vacancy_observations(const std::vector<TrackedDefect>& rows) {
  std::vector<VacancyObservation> out;
  for (const auto& r : rows)
    if ((r.cls == kSingleVacancy || r.cls == kDoubleVacancy) && r.track >= 0)
      out.push_back({r.track, r.frame, r.x_A, r.y_A, r.isolated, r.edge_distance_A});
  return out;
}

double hop_rate_from_moved_fraction(double f, std::int64_t steps) {
  if (steps <= 0 || !(f >= 0 && f < 1)) return std::numeric_limits<double>::quiet_NaN();
  return -std::log1p(-f);
}

}  // namespace tmdflow::analysis::dynamics
