#include "tmdflow/sim/interlayer_energy.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/elements.hpp"

namespace tmdflow::sim {

namespace {

// ILP parameters per element pair (energies in meV, lengths in A, C6 in meV A^6): Ouyang et al.
// (2021), Table 1 (Mo, S), and Jiang et al. (2023) (W, Se and the mixed pairs); the columns of the
// papers' tables (beta, alpha, delta, epsilon, C, d, sR, reff, C6).
struct Ilp {
  double beta, alpha, delta, epsilon, C, d, sR, reff, C6;
};
const std::map<std::pair<int, int>, Ilp>& ilp_table() {
  static const std::map<std::pair<int, int>, Ilp> table = [] {
    const int Mo = 42, W = 74, S = 16, Se = 34;
    std::map<std::pair<int, int>, Ilp> t;
    auto put = [&](int a, int b, Ilp p) {
      t[{a, b}] = p;
      t[{b, a}] = p;
    };
    put(Mo, Mo, {5.579450, 9.377662, 2.027222, 144.151775, 97.978570, 89.437597, 2.059031, 5.122055, 491850.316195});
    put(W, W, {5.530854, 6.624992, 1.983208, 0.271792, 140.174059, 107.392585, 1.356333, 4.437591, 691850.243962});
    put(S, S, {3.161402, 8.093263, 1.953140, 4.586764, 118.065466, 58.809416, 0.215367, 4.299600, 148811.243409});
    put(Se, Se, {3.938627, 10.515924, 2.415783, 3.012583, 22.400612, 116.864517, 0.151121, 5.884241, 112506.195626});
    put(Mo, W, {5.412298, 8.647128, 2.108665, 51.177950, 184.342860, 201.281256, 2.547743, 2.492287, 99996.913401});
    put(Mo, S, {3.627152, 19.971375, 7.585031, 76.101931, 3.317496, 45.720328, 0.947470, 4.410425, 150597.857716});
    put(Mo, Se, {6.196447, 4.844134, 14.362005, 7.407221, 0.058823, 27.156223, 0.976771, 3.979186, 786029.840651});
    put(W, S, {3.680136, 11.163004, 32.254117, 110.019679, 79.381335, 138.340438, 0.900750, 8.875776, 250600.809034});
    put(W, Se, {3.559392, 20.638856, 1.202717, 20.478669, 197.422484, 10.005271, 1.052738, 3.815817, 288321.561114});
    put(S, Se, {2.820092, 7.491151, 1.933323, 141.532559, 293.127817, 90.470904, 0.390492, 4.170885, 117688.987069});
    return t;
  }();
  return table;
}

// UFF (Rappe et al. 1992, Table 1): the nonbond distance x_i [A] and well depth D_i [kcal/mol].
struct Uff {
  double x, D;
};
const std::map<int, Uff>& uff_table() {
  static const std::map<int, Uff> table = {
      {16, {4.035, 0.274}},  // S
      {34, {4.205, 0.291}},  // Se
      {42, {3.052, 0.056}},  // Mo
      {74, {3.069, 0.067}},  // W
      {75, {2.954, 0.066}},  // Re
  };
  return table;
}
constexpr double kMeVPerKcalMol = 43.364;

// The ILP's taper: 1 at r = 0 falling to 0 at the cutoff with three vanishing derivatives.
double taper(double r, double cutoff) {
  if (r >= cutoff) return 0;
  const double x = r / cutoff, x4 = x * x * x * x;
  return x4 * (x * (x * (20 * x - 70) + 84) - 35) + 1;
}

int ilp_element(int Z) { return Z == 75 ? 74 : Z; }  // Re as W (no published ILP for Re)

struct Pair {
  int Z1, Z2;
  double rho2, dz;  // in-plane distance squared; vertical distance at the builder's spacing
};

}  // namespace

void validate(const InterlayerEnergySpec& s) {
  const Material& m = material(s.material);
  if (s.potential != "ilp" && s.potential != "lj") throw ConfigError("potential: expected ilp or lj, found '" + s.potential + "'");
  if (!(s.cutoff_A >= 6 && s.cutoff_A <= 40)) throw ConfigError("cutoff-A: expected 6 to 40 Angstrom, found " + std::to_string(s.cutoff_A));
  if (!(s.spacing_A == 0 || (s.spacing_A > 2 && s.spacing_A < 20)))
    throw ConfigError("spacing-A: expected 0 (the builder's " + std::to_string(m.layer_spacing) + " A) or a distance of 2 to 20 A, found " +
                      std::to_string(s.spacing_A));
  StackSpec k;
  k.material = s.material;
  k.layers = 2;
  k.stacking = s.stacking;
  k.extent_x = k.extent_y = 10;
  build_stack(k);  // the registry's checks
  for (int Z : {m.metal_Z, m.chalcogen_Z}) {
    if (s.potential == "lj" && !uff_table().count(Z))
      throw ConfigError("potential lj: no UFF parameters for " + element_symbol(Z) + " (known: S, Se, Mo, W, Re)");
    if (s.potential == "ilp" && !ilp_table().count({ilp_element(Z), ilp_element(Z)}))
      throw ConfigError("potential ilp: no parameters for " + element_symbol(Z) + " (known: Mo, W, S, Se; Re as W)");
  }
}

InterlayerEnergyModel::InterlayerEnergyModel(const InterlayerEnergySpec& spec) : spec_(spec) {
  validate(spec_);
  StackSpec k;
  k.material = spec_.material;
  k.layers = 2;
  k.stacking = spec_.stacking;
  base_ = stack_base_vectors(k);
  const LayerCell cell = layer_cell(spec_.material);
  atoms_per_cell_ = int(cell.basis.size());
  builder_spacing_ = material(spec_.material).layer_spacing;
}

double InterlayerEnergyModel::cell_area_A2() const { return std::abs(base_.a1[0] * base_.a2[1] - base_.a1[1] * base_.a2[0]); }

double InterlayerEnergyModel::pair_meV(int Z1, int Z2, double r, double rho) const {
  const double tap = taper(r, spec_.cutoff_A);
  if (tap == 0) return 0;
  if (spec_.potential == "lj") {
    const Uff a = uff_table().at(Z1), b = uff_table().at(Z2);
    const double x = std::sqrt(a.x * b.x), D = std::sqrt(a.D * b.D) * kMeVPerKcalMol;
    const double q6 = std::pow(x / r, 6);
    return tap * D * (q6 * q6 - 2 * q6);
  }
  const Ilp& p = ilp_table().at({ilp_element(Z1), ilp_element(Z2)});
  // Flat layers: both normals along z, so rho_ij = rho_ji = the in-plane distance.
  const double repulsion = std::exp(p.alpha * (1 - r / p.beta)) * (p.epsilon + 2 * p.C * std::exp(-(rho * rho) / (p.delta * p.delta)));
  const double r6 = r * r * r * r * r * r;
  const double vdw = p.C6 / r6 / (1 + std::exp(-p.d * (r / (p.sR * p.reff) - 1)));
  return tap * (repulsion - vdw);
}

InterlayerEnergy InterlayerEnergyModel::at(double slip_a, double slip_b) const {
  // A field wide enough that every atom of the bottom cell at the centre sees all partners within
  // the cutoff: the cell's diagonal plus the cutoff on every side.
  const double reach = std::hypot(base_.a1[0] + base_.a2[0], base_.a1[1] + base_.a2[1]) + spec_.cutoff_A + 2;
  StackSpec k;
  k.material = spec_.material;
  k.layers = 2;
  k.stacking = spec_.stacking;
  k.slip_a = {slip_a};
  k.slip_b = {slip_b};
  k.extent_x = k.extent_y = 2 * reach;
  const Structure st = build_stack(k);
  const double cx = k.extent_x / 2, cy = k.extent_y / 2;
  // One unit cell of the bottom layer: its atoms whose fractional position from the field centre (a
  // lattice site of layer 0) lies in [0, 1)^2, shifted by a hair so that no site sits on an edge.
  const double det = base_.a1[0] * base_.a2[1] - base_.a1[1] * base_.a2[0];
  std::vector<const Atom*> cell, top;
  for (const Atom& a : st.atoms) {
    if (a.layer == 1) {
      top.push_back(&a);
      continue;
    }
    if (a.layer != 0) continue;
    const double dx = a.x - cx, dy = a.y - cy;
    const double u = (dx * base_.a2[1] - dy * base_.a2[0]) / det + 1e-7, v = (base_.a1[0] * dy - base_.a1[1] * dx) / det + 1e-7;
    if (u >= 0 && u < 1 && v >= 0 && v < 1) cell.push_back(&a);
  }
  if (int(cell.size()) != atoms_per_cell_)
    throw ConfigError("interlayer energy: expected " + std::to_string(atoms_per_cell_) + " atoms in the bottom layer's cell, found " +
                      std::to_string(cell.size()) + " (" + spec_.material + ")");
  // Pairs within the cutoff at any spacing the relaxation may try (in-plane distance below the cutoff).
  std::vector<Pair> pairs;
  const double c2 = spec_.cutoff_A * spec_.cutoff_A;
  for (const Atom* a : cell)
    for (const Atom* b : top) {
      const double dx = b->x - a->x, dy = b->y - a->y, rho2 = dx * dx + dy * dy;
      if (rho2 < c2) pairs.push_back({a->Z, b->Z, rho2, b->z - a->z});
    }
  const double start = spec_.spacing_A > 0 ? spec_.spacing_A : builder_spacing_;
  auto energy = [&](double spacing) {
    const double shift = spacing - builder_spacing_;
    double e = 0;
    for (const Pair& p : pairs) {
      const double dz = p.dz + shift, r = std::sqrt(p.rho2 + dz * dz);
      e += pair_meV(p.Z1, p.Z2, r, std::sqrt(p.rho2));
    }
    return e;
  };
  InterlayerEnergy out;
  if (!spec_.relax_spacing) {
    out.spacing_A = start;
    out.energy_meV = energy(start);
    return out;
  }
  // Golden-section search of the spacing in [start - 1, start + 2] A (the energy is one smooth well
  // in the spacing: repulsion inside, dispersion outside).
  double lo = start - 1.0, hi = start + 2.0;
  const double g = (std::sqrt(5.0) - 1) / 2;
  double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo), f1 = energy(x1), f2 = energy(x2);
  while (hi - lo > 1e-4) {
    if (f1 < f2) {
      hi = x2, x2 = x1, f2 = f1, x1 = hi - g * (hi - lo), f1 = energy(x1);
    } else {
      lo = x1, x1 = x2, f1 = f2, x2 = lo + g * (hi - lo), f2 = energy(x2);
    }
  }
  out.spacing_A = 0.5 * (lo + hi);
  out.energy_meV = energy(out.spacing_A);
  return out;
}

std::vector<NamedRegistry> named_registries(const std::string& name, const std::string& stacking) {
  const Material& m = material(name);
  const bool triclinic = layer_cell(m.name).triclinic;
  const std::string registry = !stacking.empty() ? stacking : triclinic ? "AA" : "2H";
  std::vector<NamedRegistry> out;
  if (triclinic) {
    out.push_back({"AA", 0, 0});
    return out;
  }
  const double t = 1.0 / 3.0;
  auto wrap = [](double v) { return v - std::floor(v); };
  if (registry == "2H") {
    // Zero slip: AA' (the top layer's metal over the bottom chalcogen and its chalcogen over the metal).
    out.push_back({"AA'", 0, 0});
    out.push_back({"AB'", 2 * t, 2 * t});  // metal over metal
    out.push_back({"A'B", t, t});          // chalcogen over chalcogen
  } else {
    // R-type: slips from AA (eclipsed); the 3R registry is AB, the AA point at -(a1 + a2)/3.
    const double z = registry == "3R" ? -t : 0.0;
    out.push_back({"AA", wrap(z), wrap(z)});
    out.push_back({"AB", wrap(z + t), wrap(z + t)});
    out.push_back({"BA", wrap(z + 2 * t), wrap(z + 2 * t)});
  }
  return out;
}

}  // namespace tmdflow::sim
