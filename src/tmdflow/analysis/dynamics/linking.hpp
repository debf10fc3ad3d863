#pragma once
// Tracks from detections (stage track-defects): frame by frame, every track still open (seen within
// the last max_gap + 1 frames) is linked to at most one detection of the next frame of its species,
// by the assignment of least total squared displacement (assignment.hpp) among the pairs closer
// than max_displacement; a track may also stay unlinked (cost max_displacement^2, so any closer
// detection is preferred), and a track that skipped frames pays gap_penalty per missed frame, so a
// track seen in the frame before wins a tie. Detections left over start new tracks. Positions are
// drift-corrected (one frame of reference for the whole movie). The linking is solved per connected
// group of candidate pairs, so its cost grows with the group sizes, not the frame's.
#include <cstdint>
#include <vector>

namespace tmdflow::analysis::dynamics {

struct LinkDetection {
  std::int64_t frame = 0;
  double x = 0, y = 0;   // drift-corrected, any length unit (that of max_displacement)
  int species = 0;       // only detections of one species link (vacancies, dopants)
};

struct LinkSpec {
  double max_displacement = 7;  // between the last position of a track and its next one
  int max_gap = 2;              // frames a track may be missed and still continue
  double gap_penalty = -1;      // cost per missed frame, in squared length; < 0: (max_displacement / 2)^2
};
/// ConfigError for a non-positive displacement or a negative gap.
void validate(const LinkSpec& spec);

/// The track of every detection (0, 1, ... in order of each track's first detection, which is the
/// order of frames, then of the input). InputError for a negative frame.
std::vector<std::int64_t> link_tracks(const std::vector<LinkDetection>& detections, const LinkSpec& spec);

}  // namespace tmdflow::analysis::dynamics
