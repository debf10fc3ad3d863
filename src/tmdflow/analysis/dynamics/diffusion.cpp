#include "tmdflow/analysis/dynamics/diffusion.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "tmdflow/analysis/dynamics/bootstrap.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/numeric.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::analysis::dynamics {

void validate(const DiffusionSpec& s) {
  if (!(s.hop_A > 0 && std::isfinite(s.hop_A))) throw ConfigError("diffusion: hop length: expected a positive number of Angstrom, found " + str::number(s.hop_A));
  if (!(s.frame_time_s >= 0 && std::isfinite(s.frame_time_s)))
    throw ConfigError("frame-time-s: expected 0 (unknown) or a positive number, found " + str::number(s.frame_time_s));
  if (s.bootstrap < 0) throw ConfigError("bootstrap: expected 0 or more replicates, found " + std::to_string(s.bootstrap));
  if (!(s.confidence > 0 && s.confidence < 1)) throw ConfigError("confidence: expected a value in (0, 1), found " + str::number(s.confidence));
}

std::vector<DiffusionStep> diffusion_steps(std::vector<VacancyObservation> obs, const DiffusionSpec& spec) {
  validate(spec);
  std::sort(obs.begin(), obs.end(), [](const VacancyObservation& a, const VacancyObservation& b) {
    return a.track != b.track ? a.track < b.track : a.frame < b.frame;
  });
  std::vector<DiffusionStep> steps;
  for (std::size_t k = 0; k + 1 < obs.size(); ++k) {
    const auto &a = obs[k], &b = obs[k + 1];
    if (a.track != b.track) continue;
    if (a.frame == b.frame)
      throw InputError("vacancy observations: expected one position per track and frame, found two for track " + std::to_string(a.track) +
                       " in frame " + std::to_string(a.frame));
    if (b.frame != a.frame + 1 || !a.isolated || !(a.edge_distance_A >= spec.hop_A)) continue;
    steps.push_back(DiffusionStep{a.track, a.frame, b.x_A - a.x_A, b.y_A - a.y_A});
  }
  return steps;
}

DiffusionEstimate estimate_diffusion(const std::vector<VacancyObservation>& observations, const DiffusionSpec& spec) {
  const auto steps = diffusion_steps(observations, spec);
  DiffusionEstimate e;
  e.steps = std::int64_t(steps.size());
  // Per track: sums of |dr|^2 and step counts, of all steps and of the staying ones (a replicate's
  // D is a ratio of sums over its tracks).
  struct Sums {
    double r2 = 0, still_r2 = 0;
    std::int64_t n = 0, still = 0;
  };
  std::map<std::int64_t, Sums> per_track;
  Sums all;
  const double stay2 = 0.25 * spec.hop_A * spec.hop_A;
  for (const auto& s : steps) {
    const double r2 = s.dx_A * s.dx_A + s.dy_A * s.dy_A;
    const bool stays = r2 <= stay2;
    for (Sums* t : {&per_track[s.track], &all}) {
      t->r2 += r2;
      t->n += 1;
      if (stays) t->still_r2 += r2, t->still += 1;
    }
  }
  auto D_of = [&](const Sums& t) {
    const double noise = spec.subtract_localisation_noise && t.still > 0 ? t.still_r2 / double(t.still) : 0.0;
    return (t.r2 / double(t.n) - noise) / 4;
  };
  e.tracks = std::int64_t(per_track.size());
  const double per_s = spec.frame_time_s > 0 ? 1.0 / spec.frame_time_s : kNaN;
  if (steps.empty()) {
    e.mean_square_A2 = e.D_A2_per_frame = e.lower = e.upper = e.standard_error = e.moved_fraction = e.localisation_noise_A2 = kNaN;
    e.D_A2_per_s = e.lower_per_s = e.upper_per_s = kNaN;
    return e;
  }
  e.mean_square_A2 = all.r2 / double(all.n);
  e.D_A2_per_frame = D_of(all);
  e.moved_fraction = double(all.n - all.still) / double(all.n);
  e.localisation_noise_A2 = all.still > 0 ? all.still_r2 / double(all.still) : 0.0;
  e.lower = e.upper = e.standard_error = kNaN;
  if (spec.bootstrap > 0) {
    std::vector<Sums> tracks;
    for (const auto& [id, t] : per_track) tracks.push_back(t);
    std::vector<double> samples;
    samples.reserve(std::size_t(spec.bootstrap));
    double mean = 0, m2 = 0;
    for (int b = 0; b < spec.bootstrap; ++b) {
      Sums r;
      for (std::size_t k : bootstrap_draw(tracks.size(), spec.seed, std::uint64_t(b))) {
        r.r2 += tracks[k].r2, r.n += tracks[k].n;
        r.still_r2 += tracks[k].still_r2, r.still += tracks[k].still;
      }
      const double d = D_of(r);
      samples.push_back(d);
      const double delta = d - mean;  // Welford
      mean += delta / double(b + 1);
      m2 += delta * (d - mean);
    }
    e.standard_error = spec.bootstrap > 1 ? std::sqrt(m2 / double(spec.bootstrap - 1)) : kNaN;
    const double tail = (1 - spec.confidence) / 2;
    e.lower = quantile(samples, tail);
    e.upper = quantile(samples, 1 - tail);
  }
  e.D_A2_per_s = e.D_A2_per_frame * per_s;
  e.lower_per_s = e.lower * per_s;
  e.upper_per_s = e.upper * per_s;
  return e;
}

}  // namespace tmdflow::analysis::dynamics
