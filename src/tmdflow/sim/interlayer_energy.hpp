#pragma once
// The interlayer energy of a bilayer as the simulation engine builds it (build_stack), with rigid
// layers, as a function of the slip of the upper layer: the built-in estimate of the potential-
// energy landscape (PEL) of sliding (data_schema/landscape.md). A registry-dependent pair potential
// between the atoms of the two layers, summed over one unit cell of the bottom layer:
//  * "ilp": the interlayer potential of Ouyang et al., J. Chem. Theory Comput. 17, 7237 (2021) for
//    MoS2 and of Jiang et al., J. Phys. Chem. A 127, 9820 (2023) for Mo, W, S, Se (fitted to HSE +
//    MBD-NL), with the normals of flat layers (z); Re takes the W parameters (an estimate);
//  * "lj": Lennard-Jones 12-6 with the parameters of the universal force field (UFF; Rappe et al.,
//    J. Am. Chem. Soc. 114, 10024 (1992)) and its geometric-mean mixing.
// Both tapered to zero at the cutoff (the ILP's taper). The interlayer distance is the builder's, or
// relaxed per slip (the distance that minimises the energy there: layers rigid in-plane).
#include <string>
#include <vector>

#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

struct InterlayerEnergySpec {
  std::string material = "MoS2";
  std::string stacking;           // registry at zero slip (build_stack's; empty: 2H for MX2, AA for 1T'')
  std::string potential = "ilp";  // "ilp" or "lj"
  bool relax_spacing = true;      // per slip, the interlayer distance of least energy
  double spacing_A = 0;           // metal-plane distance of the layers (0: the builder's, material().layer_spacing)
  double cutoff_A = 16;           // pair cutoff, with the taper (the ILP was fitted with 16 A)
};
/// Throws ConfigError naming the first bad field (unknown material, potential, registry; cutoff).
void validate(const InterlayerEnergySpec& spec);

struct InterlayerEnergy {
  double energy_meV = 0;          // per unit cell of the bottom layer (MX2: one MX2; 1T'': Re4X8)
  double spacing_A = 0;           // metal-plane distance used
};

class InterlayerEnergyModel {
 public:
  explicit InterlayerEnergyModel(const InterlayerEnergySpec& spec);
  /// The energy of the bilayer whose upper layer is slipped by slip_a a1 + slip_b a2 from the
  /// registry (build_stack's slip_a, slip_b: fractions of the bottom layer's base vectors).
  InterlayerEnergy at(double slip_a, double slip_b) const;
  /// Atoms of one layer's unit cell, and the cell's area [A^2] and base vectors (phi = 30 / rotation 0).
  int atoms_per_cell() const { return atoms_per_cell_; }
  double cell_area_A2() const;
  const BaseVectors& base_vectors() const { return base_; }
  const InterlayerEnergySpec& spec() const { return spec_; }

  /// The pair energy [meV] of elements Z1, Z2 at distance r with in-plane separation rho (A).
  double pair_meV(int Z1, int Z2, double r, double rho) const;

 private:
  InterlayerEnergySpec spec_;
  BaseVectors base_;
  int atoms_per_cell_ = 0;
  double builder_spacing_ = 0;
};

/// The literature's names of the high-symmetry registries of an MX2 bilayer and their slips in the
/// builder's convention for `stacking` (R-type, same orientation: AA eclipsed, AB and BA; H-type,
/// rotated by 60: AA' (2H), AB' (metal over metal), A'B (chalcogen over chalcogen)).
struct NamedRegistry {
  std::string name;
  double slip_a = 0, slip_b = 0;
};
std::vector<NamedRegistry> named_registries(const std::string& material, const std::string& stacking);

}  // namespace tmdflow::sim
