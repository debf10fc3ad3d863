#pragma once
// Projected potentials of atoms on a grid, and slicing along the beam. Each element's projected
// potential v_z(r) (Kirkland's parameterisation, elements.hpp) is tabulated once against r^2 up to
// a cutoff (shifted to reach 0 there); inside half a pixel it is replaced by its mean over that
// disc, which keeps the logarithmic singularity at the nucleus finite and sampling-consistent.
// Rasterisation runs over bands of grid rows (no atomics): each band adds the atoms overlapping it.
#include <cstddef>
#include <map>
#include <vector>

#include "tmdflow/sim/grid.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

class PotentialTable {
 public:
  /// Tables of every element in `elements`, for a grid of pixel size `pixel_A` (sets the core).
  PotentialTable(const std::vector<int>& elements, double pixel_A, double cutoff_A = 3.0);
  double cutoff() const { return cutoff_; }
  /// v_z (V*Angstrom) at squared distance r2 (Angstrom^2); 0 beyond the cutoff.
  float value(int Z, double r2) const {
    if (r2 >= cutoff2_) return 0.0f;
    const auto& t = tables_[std::size_t(slot_[std::size_t(Z)])];
    const double u = r2 * inv_step_;
    const std::size_t i = std::size_t(u);
    const double f = u - double(i);
    return float(t[i] + f * (t[i + 1] - t[i]));
  }
  bool has(int Z) const { return Z > 0 && Z < int(slot_.size()) && slot_[std::size_t(Z)] >= 0; }

 private:
  double cutoff_, cutoff2_, inv_step_;
  std::vector<int> slot_;                  // Z -> table index (-1: none)
  std::vector<std::vector<double>> tables_;
};

/// Atoms with positions possibly displaced (frozen phonons), grouped into slices along z.
struct SlicedAtoms {
  struct Slice {
    double z = 0;                           // mean z of its atoms (Angstrom)
    std::vector<int> Z;
    std::vector<double> x, y;               // sorted by y
  };
  std::vector<Slice> slices;                // in beam order (increasing z)
};

/// Groups atoms into slices of thickness `slice_thickness_A` starting at the smallest z (bin
/// floor((z - zmin) / dz)); empty bins are dropped and each slice sits at the mean z of its atoms,
/// so propagation distances are the true distances between atom planes. With
/// `rms_displacement_scale` > 0, each atom is displaced by a Gaussian of its element's default rms
/// displacement times the scale in x and y (frozen phonon configuration `config`, deterministic
/// in (seed, config, atom index)).
SlicedAtoms slice_structure(const Structure& s, double slice_thickness_A, double rms_displacement_scale = 0,
                            std::uint64_t seed = 0, int config = 0);

/// Adds the projected potential (V*Angstrom) of the slice's atoms to `out` (grid.ny x grid.nx).
/// Only atoms within the cutoff of the grid contribute; no periodic wrap.
void add_projected_potential(const PotentialTable& table, const SlicedAtoms::Slice& slice, const Grid& grid, float* out);

}  // namespace tmdflow::sim
