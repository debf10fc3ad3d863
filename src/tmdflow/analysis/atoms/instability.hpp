#pragma once
// Unstable sites of an image stack (issue #17, stage site-instability): every lattice site tracked
// across frames is described in each frame by the latent vector of a convolutional autoencoder of
// its atom-centred patch; a site whose patch changed (an atom that hopped in or out, was sputtered,
// came back) walks from one region of latent space to another, a stable one stays put up to the
// noise. Per track, with its observations z(0..m-1) in frame order:
//   change = max over split points t of |mean z[0, t) - mean z[t, m)| sqrt(t (m - t) / m)
// (the standardised difference of means across the best split: a change point in the latent
// trajectory; averaging before and after beats the frame-to-frame noise that a single step carries),
//   step = mean over consecutive observations of |z(t+1) - z(t)|  (for sites that keep hopping,
// whose halves look alike),
//   instability = the larger of the two robust z-scores over tracks, (x - median) / (1.4826 MAD),
// and the number of class changes along the track. Observations flagged unusable (a patch cut by
// the frame's edge) are left out. Unstable sites are counted on a grid (a Gaussian density per
// A^2) and grouped by single linkage into clusters.
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::atoms {

struct TrackInstability {
  std::vector<double> change;       // per track (NaN: fewer than min_observations usable)
  std::vector<double> step;         // per track (NaN: likewise)
  std::vector<double> instability;  // per track (NaN: likewise)
  std::vector<int> class_changes;   // per track
  std::vector<int> observations;    // per track
};

/// Rows are observations (track id, frame, class, latent vector of `dim` floats, row-major, and
/// whether the latent vector is usable; empty: all); tracks are 0 .. tracks-1. ConfigError for sizes
/// that differ or a track id out of range.
TrackInstability track_instability(const std::vector<std::int64_t>& track, const std::vector<std::int64_t>& frame, const std::vector<int>& site_class,
                                   const std::vector<float>& latent, int dim, std::int64_t tracks, const std::vector<char>& usable = {},
                                   int min_observations = 3);

/// The unstable sites of a stack from its tracks: a track is unstable when its instability exceeds
/// `threshold` or its class changed at least `min_class_changes` times (0: never by that); its
/// position is the mean of its observations' (drift-corrected) positions; their density (per pixel^2,
/// point_density) and single-linkage clusters within `cluster_px`.
struct UnstableSpec {
  double threshold = 5;
  int min_class_changes = 1;
  double height_px = 0, width_px = 0, sigma_px = 50, step_px = 25, cluster_px = 80;
};
struct UnstableSites {
  std::vector<char> unstable;          // per track
  std::vector<std::int64_t> cluster;   // per track, -1 for a stable one
  std::int64_t clusters = 0, count = 0;
  std::vector<float> density;          // ny x nx
  std::int64_t ny = 0, nx = 0;
};
UnstableSites unstable_sites(const TrackInstability& tracks, const std::vector<std::int64_t>& track, const std::vector<double>& x,
                             const std::vector<double>& y, const UnstableSpec& spec);

/// Sum of unit-mass Gaussians (sigma_px) at the points, per pixel^2, on a grid of ny x nx points at
/// ((j + 0.5) step, (i + 0.5) step), ny = floor(height / step) (at least 1).
std::vector<float> point_density(const std::vector<double>& x, const std::vector<double>& y, double height_px, double width_px, double sigma_px,
                                 double step_px, std::int64_t& ny, std::int64_t& nx);

/// Single-linkage clusters of points closer than `distance`: a label per point, 0 .. clusters-1 in
/// order of each cluster's first point.
std::vector<std::int64_t> single_linkage(const std::vector<double>& x, const std::vector<double>& y, double distance);

}  // namespace tmdflow::analysis::atoms
