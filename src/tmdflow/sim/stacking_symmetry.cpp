#include "tmdflow/sim/stacking_symmetry.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <sstream>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {
namespace {

using XY = std::array<double, 2>;
constexpr double kTolerance = 1e-9;

// ---- The layers of a stack in the canonical frame (data_schema/structures.md, stacking.md) ----
// A layer is its orientation (MX2: 0 = phi 30 as a1c, a2c have it, 1 = phi 90, the 60-degree turn;
// 1T'': 0 only, its 180-degree turn being the same layer) and its lattice origin in fractions of
// a1c, a2c. A stack of L layers with interface slips d_k: layer k sits at r_k + s_k, s_0 = 0,
// s_{k+1} = s_k + d_k, r_k its registry position.

struct Layer {
  int orientation = 0;
  XY at{0, 0};
};

struct StackKind {
  std::string stacking;
  int layers = 2;
  std::vector<int> bottoms;  // bottom orientations the lattice finder cannot tell apart

  int orientation(int bottom, int k) const { return stacking == "2H" ? bottom ^ (k & 1) : bottom; }

  // t = (a1c + a2c)/3 for a phi-30 bottom; the 60-degree turn of the whole stack takes it to
  // R60 t = (-1/3, 2/3) == -t modulo the lattice.
  XY registry(int bottom, int k) const {
    const double t = (bottom == 0 ? 1.0 : -1.0) / 3.0;
    const double n = stacking == "3R" ? double(k) : stacking == "2H" ? double(k & 1) : 0.0;
    return {n * t, n * t};
  }

  std::vector<Layer> place(int bottom, const std::vector<double>& y) const {
    std::vector<Layer> out(static_cast<std::size_t>(layers));
    XY s{0, 0};
    for (int k = 0; k < layers; ++k) {
      const XY r = registry(bottom, k);
      out[std::size_t(k)] = {orientation(bottom, k), {r[0] + s[0], r[1] + s[1]}};
      if (k + 1 < layers) s[0] += y[std::size_t(2 * k)], s[1] += y[std::size_t(2 * k + 1)];
    }
    return out;
  }

  // The interface slips of layers placed on a stack with this bottom orientation.
  std::vector<double> slips(int bottom, const std::vector<Layer>& l) const {
    std::vector<double> y;
    for (int k = 0; k + 1 < layers; ++k) {
      const XY r0 = registry(bottom, k), r1 = registry(bottom, k + 1);
      for (int c = 0; c < 2; ++c) y.push_back((l[std::size_t(k + 1)].at[c] - r1[c]) - (l[std::size_t(k)].at[c] - r0[c]));
    }
    return y;
  }
};

struct Affine {
  std::vector<double> M, c;  // n*n row-major, n
};

double wrap_unit(double v) { return v - std::floor(v); }  // into [0, 1)

bool same(const Affine& a, const Affine& b) {
  for (std::size_t i = 0; i < a.M.size(); ++i)
    if (std::abs(a.M[i] - b.M[i]) > kTolerance) return false;
  for (std::size_t i = 0; i < a.c.size(); ++i) {
    const double d = a.c[i] - b.c[i];
    if (std::abs(d - std::round(d)) > kTolerance) return false;
  }
  return true;
}

Affine compose(const Affine& a, const Affine& b, int n) {  // a after b
  Affine r{std::vector<double>(std::size_t(n * n), 0.0), a.c};
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      for (int k = 0; k < n; ++k) r.M[std::size_t(i * n + j)] += a.M[std::size_t(i * n + k)] * b.M[std::size_t(k * n + j)];
      r.c[std::size_t(i)] += a.M[std::size_t(i * n + j)] * b.c[std::size_t(j)];
    }
  for (double& v : r.c) v = wrap_unit(v);
  return r;
}

Affine identity(int n) {
  Affine a{std::vector<double>(std::size_t(n * n), 0.0), std::vector<double>(std::size_t(n), 0.0)};
  for (int i = 0; i < n; ++i) a.M[std::size_t(i * n + i)] = 1;
  return a;
}

void add_unique(std::vector<Affine>& group, const Affine& a) {
  for (const auto& g : group)
    if (same(g, a)) return;
  group.push_back(a);
}

// The relations "the image of (bottom `from`, y) is the image of (bottom `to`, A y)": every
// reordering of the layers that leaves a stack of the same kind, re-referenced to its new bottom
// layer, as an affine map of the slips (evaluated at 0 and at the unit labels).
struct Relation {
  int from = 0, to = 0;
  Affine map;
};

std::vector<Relation> reorderings(const StackKind& kind) {
  const int n = 2 * (kind.layers - 1);
  std::vector<Relation> out;
  std::vector<int> order(static_cast<std::size_t>(kind.layers));
  for (int from : kind.bottoms) {
    std::iota(order.begin(), order.end(), 0);
    do {
      for (int to : kind.bottoms) {
        bool valid = true;
        for (int j = 0; j < kind.layers; ++j) valid = valid && kind.orientation(to, j) == kind.orientation(from, order[std::size_t(j)]);
        if (!valid) continue;
        auto relabel = [&](const std::vector<double>& y) {
          const auto placed = kind.place(from, y);
          std::vector<Layer> moved;
          const XY origin = placed[std::size_t(order[0])].at;  // the new bottom layer
          for (int j : order) {
            Layer l = placed[std::size_t(j)];
            l.at = {l.at[0] - origin[0], l.at[1] - origin[1]};
            moved.push_back(l);
          }
          return kind.slips(to, moved);
        };
        Affine a{std::vector<double>(std::size_t(n * n)), relabel(std::vector<double>(std::size_t(n), 0.0))};
        for (int i = 0; i < n; ++i) {
          std::vector<double> e(std::size_t(n), 0.0);
          e[std::size_t(i)] = 1;
          const auto col = relabel(e);
          for (int r = 0; r < n; ++r) a.M[std::size_t(r * n + i)] = std::round(col[std::size_t(r)] - a.c[std::size_t(r)]);
        }
        for (double& v : a.c) v = wrap_unit(v);
        out.push_back({from, to, a});
      }
    } while (std::next_permutation(order.begin(), order.end()));
  }
  return out;
}

// The labels of one image whose bottom layer has orientation `bottom`: the maps A with (bottom, y)
// related to (b, A y) for some b through a chain of relations (a breadth-first search over
// (orientation, map) states). Chains may pass through the other orientation (2H: the layer swap
// turns the bottom by 60 degrees), so relations found from either bottom are followed, but only
// from the state whose orientation they start at: a 3R stack's registry is t for one polarity and
// -t for the other, and mixing the two would claim translations by 2t that no image has.
std::vector<Affine> equivalents_of(const StackKind& kind, int bottom) {
  const int n = 2 * (kind.layers - 1);
  const auto relations = reorderings(kind);
  struct State {
    int orientation;
    Affine map;
  };
  std::vector<State> states{{bottom, identity(n)}};
  for (std::size_t i = 0; i < states.size(); ++i)
    for (const Relation& r : relations) {
      if (r.from != states[i].orientation) continue;
      const State next{r.to, compose(r.map, states[i].map, n)};
      bool known = false;
      for (const State& s : states) known = known || (s.orientation == next.orientation && same(s.map, next.map));
      if (!known) states.push_back(next);
    }
  std::vector<Affine> group;
  for (const State& s : states) add_unique(group, s.map);
  return group;
}

std::string fraction_text(double v) {
  for (int q : {1, 2, 3, 4, 6, 12}) {
    const double p = std::round(v * q);
    if (std::abs(v * q - p) < 1e-6) return q == 1 ? std::to_string(int(p)) : std::to_string(int(p)) + "/" + std::to_string(q);
  }
  std::ostringstream s;
  s << v;
  return s.str();
}

std::vector<std::string> component_names(const LabelSymmetry& s) {
  if (s.task == "twist") return {"theta"};
  std::vector<std::string> n;
  for (int k = 0; 2 * k < s.size; ++k) n.push_back("a" + std::to_string(k)), n.push_back("b" + std::to_string(k));
  return n;
}

double quadratic(const LabelSymmetry& s, const std::vector<double>& d) {
  double q = 0;
  for (int i = 0; i < s.size; ++i)
    for (int j = 0; j < s.size; ++j) q += d[std::size_t(i)] * s.metric[std::size_t(i * s.size + j)] * d[std::size_t(j)];
  return q;
}

// Calls f(candidate) for every equivalent of y near `reference`: each map, its difference to the
// reference wrapped into [-p/2, p/2) per periodic component, and that moved by -1, 0, +1 periods
// (the nearest lattice translation of a reduced two-dimensional basis is among them).
template <class F>
void for_each_near_equivalent(const LabelSymmetry& s, const std::vector<double>& reference, const std::vector<double>& y, F&& f) {
  const int n = s.size;
  std::vector<int> periodic;
  for (int i = 0; i < n; ++i)
    if (s.period[std::size_t(i)] > 0) periodic.push_back(i);
  int shifts = 1;
  for (std::size_t i = 0; i < periodic.size(); ++i) shifts *= 3;
  std::vector<double> z(static_cast<std::size_t>(n)), c(static_cast<std::size_t>(n));
  for (std::size_t g = 0; g < s.maps.size(); ++g) {
    for (int i = 0; i < n; ++i) {
      double v = s.offsets[g][std::size_t(i)];
      for (int j = 0; j < n; ++j) v += s.maps[g][std::size_t(i * n + j)] * y[std::size_t(j)];
      const double p = s.period[std::size_t(i)];
      if (p > 0) v -= p * std::floor((v - reference[std::size_t(i)]) / p + 0.5);
      z[std::size_t(i)] = v;
    }
    for (int code = 0; code < shifts; ++code) {
      c = z;
      int rest = code;
      for (int i : periodic) {
        c[std::size_t(i)] += s.period[std::size_t(i)] * double(rest % 3 - 1);
        rest /= 3;
      }
      f(c);
    }
  }
}

void check_size(const LabelSymmetry& s, const std::vector<double>& y, const char* what) {
  if (int(y.size()) != s.size)
    throw ConfigError(std::string("label symmetry (") + s.what + "): " + what + ": expected " + std::to_string(s.size) + " values, found " +
                      std::to_string(y.size()));
}

}  // namespace

std::string LabelSymmetry::describe() const {
  const auto names = component_names(*this);
  std::ostringstream out;
  out << what << ": " << maps.size() << " equivalent" << (maps.size() == 1 ? "" : "s") << " modulo "
      << (task == "twist" ? fraction_text(period.empty() ? 0 : period[0]) + " deg" : "the lattice") << ": ";
  auto tuple = [&](const std::vector<std::string>& v) {
    std::string t = v.size() == 1 ? v[0] : "(";
    if (v.size() > 1) {
      for (std::size_t i = 0; i < v.size(); ++i) t += (i ? "," : "") + v[i];
      t += ")";
    }
    return t;
  };
  out << tuple(names) << " ->";
  for (std::size_t g = 0; g < maps.size(); ++g) {
    std::vector<std::string> rows;
    for (int i = 0; i < size; ++i) {
      std::string r;
      // Offsets are stored in [0, 1) of a period; shown in (-1/2, 1/2] (-1/3, not 2/3).
      const double c = offsets[g][std::size_t(i)] - std::round(offsets[g][std::size_t(i)]);
      if (std::abs(c) > kTolerance) r = fraction_text(c);
      for (int j = 0; j < size; ++j) {
        const double m = maps[g][std::size_t(i * size + j)];
        if (std::abs(m) < kTolerance) continue;
        const std::string coef = std::abs(std::abs(m) - 1) < kTolerance ? "" : fraction_text(std::abs(m));
        r += (m < 0 ? "-" : r.empty() ? "" : "+") + coef + names[std::size_t(j)];
      }
      rows.push_back(r.empty() ? "0" : r);
    }
    out << (g ? "; " : " ") << tuple(rows);
  }
  return out.str();
}

int bottom_orientations(const std::string& material_name) { return layer_cell(material_name).triclinic ? 1 : 2; }

LabelSymmetry label_symmetry(const std::string& material_name, int layers, const std::string& stacking, const std::string& task,
                             int bottom) {
  const LayerCell cell = layer_cell(material_name);  // ConfigError naming the known materials
  const std::string who = "label symmetry: ";
  if (bottom < 0 || bottom >= bottom_orientations(material_name))
    throw ConfigError(who + "bottom orientation: expected " + (cell.triclinic ? std::string("0 for a 1T'' layer") : "0 (phi 30) or 1 (phi 90)") +
                      ", found " + std::to_string(bottom));
  if (layers != 2 && layers != 3) throw ConfigError(who + "layers: expected 2 or 3, found " + std::to_string(layers));
  if (cell.triclinic ? stacking != "AA" : (stacking != "2H" && stacking != "3R" && stacking != "AA"))
    throw ConfigError(who + "stacking: expected " + (cell.triclinic ? "AA for a 1T'' material (" + cell.material + ")" : "2H, 3R or AA") +
                      ", found '" + stacking + "'");
  if (task != "slip" && task != "twist") throw ConfigError(who + "task: expected slip or twist, found '" + task + "'");

  LabelSymmetry s;
  s.task = task;
  s.bottom = bottom;
  s.what = cell.material + (layers == 2 ? " bilayer " : " trilayer ") + stacking + " " + task;
  if (!cell.triclinic && task == "slip") s.what += bottom == 0 ? " (bottom layer at phi 30)" : " (bottom layer at phi 90)";
  if (task == "twist") {
    if (layers != 2) throw ConfigError(who + "task twist: expected a bilayer (layers 2), found layers " + std::to_string(layers));
    // Swapping the layers (the finder may take either lattice) turns theta into -theta; a layer is
    // unchanged by its rotational symmetry (MX2: 120 deg; 1T'': 180 deg).
    s.size = 1;
    s.maps = {{1.0}, {-1.0}};
    s.offsets = {{0.0}, {0.0}};
    s.period = {cell.triclinic ? 180.0 : 120.0};
    s.metric = {1.0};
    return s;
  }

  StackKind kind{stacking, layers, cell.triclinic ? std::vector<int>{0} : std::vector<int>{0, 1}};
  s.size = 2 * (layers - 1);
  for (const Affine& a : equivalents_of(kind, bottom)) {
    s.maps.push_back(a.M);
    s.offsets.push_back(a.c);
  }
  s.period.assign(std::size_t(s.size), 1.0);
  // d^T G d per interface, G = A^T A with A = [a1c a2c]: the slips' Cartesian length squared.
  const double g11 = cell.a1[0] * cell.a1[0] + cell.a1[1] * cell.a1[1], g22 = cell.a2[0] * cell.a2[0] + cell.a2[1] * cell.a2[1];
  const double g12 = cell.a1[0] * cell.a2[0] + cell.a1[1] * cell.a2[1];
  s.metric.assign(std::size_t(s.size * s.size), 0.0);
  for (int k = 0; 2 * k < s.size; ++k) {
    const int i = 2 * k;
    s.metric[std::size_t(i * s.size + i)] = g11;
    s.metric[std::size_t(i * s.size + i + 1)] = s.metric[std::size_t((i + 1) * s.size + i)] = g12;
    s.metric[std::size_t((i + 1) * s.size + i + 1)] = g22;
  }
  return s;
}

std::vector<double> nearest_equivalent(const LabelSymmetry& s, const std::vector<double>& reference, const std::vector<double>& y) {
  check_size(s, reference, "reference");
  check_size(s, y, "label");
  std::vector<double> best, d(static_cast<std::size_t>(s.size));
  double best_q = INFINITY;
  for_each_near_equivalent(s, reference, y, [&](const std::vector<double>& c) {
    for (int i = 0; i < s.size; ++i) d[std::size_t(i)] = c[std::size_t(i)] - reference[std::size_t(i)];
    const double q = quadratic(s, d);
    if (q < best_q) best_q = q, best = c;
  });
  return best;
}

std::vector<double> fold_label(const LabelSymmetry& s, std::vector<double> y) {
  check_size(s, y, "label");
  const std::vector<double> zero(std::size_t(s.size), 0.0);
  std::vector<double> best;
  double best_q = INFINITY;
  for_each_near_equivalent(s, zero, y, [&](const std::vector<double>& c) {
    const double q = quadratic(s, c);
    const double tol = kTolerance * (1 + std::min(q, best_q));
    if (q < best_q - tol) {
      best_q = q, best = c;
      return;
    }
    if (q > best_q + tol) return;
    // A tie (a class with two shortest members, e.g. D and -D): the lexicographically largest.
    for (int i = 0; i < s.size; ++i) {
      const double a = c[std::size_t(i)], b = best[std::size_t(i)];
      if (std::abs(a - b) <= kTolerance * (1 + std::abs(b))) continue;
      if (a > b) best_q = std::min(q, best_q), best = c;
      return;
    }
  });
  return best;
}

double label_distance(const LabelSymmetry& s, const std::vector<double>& a, const std::vector<double>& b) {
  const auto near = nearest_equivalent(s, a, b);
  std::vector<double> d(static_cast<std::size_t>(s.size));
  for (int i = 0; i < s.size; ++i) d[std::size_t(i)] = near[std::size_t(i)] - a[std::size_t(i)];
  return std::sqrt(std::max(0.0, quadratic(s, d)));
}

double metric_length(const LabelSymmetry& s, const std::vector<double>& d, int first, int count) {
  check_size(s, d, "difference");
  if (first < 0 || count < 0 || first + count > s.size)
    throw ConfigError("label symmetry (" + s.what + "): components [" + std::to_string(first) + ", " + std::to_string(first + count) +
                      "): expected a range inside 0.." + std::to_string(s.size));
  double q = 0;
  for (int i = first; i < first + count; ++i)
    for (int j = first; j < first + count; ++j) q += d[std::size_t(i)] * s.metric[std::size_t(i * s.size + j)] * d[std::size_t(j)];
  return std::sqrt(std::max(0.0, q));
}

}  // namespace tmdflow::sim
