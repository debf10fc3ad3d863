#include "tmdflow/sim/holes.hpp"

#include <cmath>
#include <string>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/sim/random.hpp"

namespace tmdflow::sim {

namespace {
constexpr std::uint64_t hole_stream = 0x686f6c65ULL;  // "hole"
}

void validate(const HoleSpec& spec) {
  if (spec.count < 0 || spec.count > max_holes)
    throw ConfigError("holes: expected 0 to " + std::to_string(max_holes) + " holes, found " + std::to_string(spec.count));
  if (spec.count > 0 && !(spec.radius_A > 0 && std::isfinite(spec.radius_A)))
    throw ConfigError("hole-radius-nm: expected a positive radius, found " + str::number(spec.radius_A / 10.0));
}

std::vector<Hole> draw_holes(const HoleSpec& spec, double x0, double y0, double width, double height, std::uint64_t seed) {
  validate(spec);
  std::vector<Hole> holes;
  const double min_sep = 2.5 * spec.radius_A;
  // Whole holes inside the rectangle when it is wide enough (a hole cut by the scan's edge looks
  // like a notch).
  const double mx = std::min(spec.radius_A, 0.5 * width), my = std::min(spec.radius_A, 0.5 * height);
  for (int h = 0; h < spec.count; ++h) {
    Hole best;
    for (int attempt = 0; attempt < 100; ++attempt) {
      const Hole c{x0 + mx + (width - 2 * mx) * rng::uniform(rng::key(seed, hole_stream, std::uint64_t(h), std::uint64_t(attempt), 0)),
                   y0 + my + (height - 2 * my) * rng::uniform(rng::key(seed, hole_stream, std::uint64_t(h), std::uint64_t(attempt), 1)), spec.radius_A};
      bool apart = true;
      for (const Hole& o : holes) apart = apart && std::hypot(c.x_A - o.x_A, c.y_A - o.y_A) >= min_sep;
      best = c;
      if (apart) break;
    }
    holes.push_back(best);
  }
  return holes;
}

bool in_hole(const std::vector<Hole>& holes, double x, double y) {
  for (const Hole& h : holes)
    if (std::hypot(x - h.x_A, y - h.y_A) < h.radius_A) return true;
  return false;
}

void cut_holes(Structure& s, const std::vector<Hole>& holes) {
  if (holes.empty()) return;
  std::vector<std::int32_t> new_index(s.columns.size(), -1);
  std::vector<Column> columns;
  for (std::size_t c = 0; c < s.columns.size(); ++c)
    if (!in_hole(holes, s.columns[c].x, s.columns[c].y)) {
      new_index[c] = std::int32_t(columns.size());
      columns.push_back(s.columns[c]);
    }
  std::vector<Atom> atoms;
  atoms.reserve(s.atoms.size());
  for (Atom a : s.atoms) {
    if (in_hole(holes, a.x, a.y)) continue;
    if (a.column >= 0) a.column = new_index[std::size_t(a.column)];
    atoms.push_back(a);
  }
  s.atoms = std::move(atoms);
  s.columns = std::move(columns);
  s.description += " holes=" + std::to_string(holes.size()) + "x" + str::number(holes.front().radius_A) + "A";
}

}  // namespace tmdflow::sim
