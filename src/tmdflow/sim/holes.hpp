#pragma once
// Holes in a film: circular vacuum regions cut out of a structure (every atom and column whose
// projected position lies inside). A free-standing monolayer is rarely intact over a whole scan;
// holes and tears are what makes a uniform film visible in bright-field and ADF images (vacuum:
// bright BF, dark ADF), and they give the analyses patterns with no specimen to reject.
#include <cstdint>
#include <vector>

#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

struct Hole {
  double x_A = 0, y_A = 0, radius_A = 0;
};

/// How many holes and how large; centres are drawn in a rectangle (the scanned area).
struct HoleSpec {
  int count = 0;
  double radius_A = 30;
};

/// Placing a hole tests it against every earlier one, and cutting tests every atom against every
/// hole: a film is not a sieve.
constexpr int max_holes = 1000;

/// Throws ConfigError when the count is outside [0, max_holes] or the radius not positive (with
/// holes asked for).
void validate(const HoleSpec& spec);

/// `spec.count` centres drawn uniformly in [x0, x0 + width] x [y0, y0 + height] shrunk by the radius
/// on each side (whole holes, when the rectangle is wide enough), keyed by (seed, hole, attempt): a draw whose hole would overlap an earlier one (centres closer than 2.5 radii) is
/// redrawn, up to 100 times, so that holes stay apart and the film between them stays one piece.
std::vector<Hole> draw_holes(const HoleSpec& spec, double x0, double y0, double width, double height, std::uint64_t seed);

/// True when (x, y) lies inside a hole (distance to its centre < radius).
bool in_hole(const std::vector<Hole>& holes, double x, double y);

/// Removes every atom and column inside a hole; the atoms' column indices are renumbered.
/// Domains are kept (a domain may lose all its atoms). Appends the holes to the description.
void cut_holes(Structure& s, const std::vector<Hole>& holes);

}  // namespace tmdflow::sim
