#pragma once
// The bond graph of one MX2 (1H) monolayer, found from its columns (structure.hpp): the sites a
// point defect lives on and the neighbourhoods its energy and class depend on (data_schema/dynamics.md).
//   * chalcogen column c: its six chalcogen neighbours at distance a, by direction d = 0..5 at the
//     angles phi - 30 + 60 d degrees (so direction d + 3 is the opposite one, and c, nb(c, d),
//     nb(nb(c, d), d) lie on one line), and its three metal neighbours at a / sqrt(3);
//   * metal site m: its three chalcogen columns (six chalcogen atoms, top and bottom), the atoms a
//     dopant on m is bonded to.
// Sites at the edge of the built field lack some neighbours (-1).
#include <array>
#include <cstdint>
#include <vector>

#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

struct DefectLattice {
  double a = 0;                       // lattice constant = chalcogen-chalcogen hop length (Angstrom)
  double phi_deg = 30;                // orientation of the layer (structures.md)
  std::vector<std::int32_t> chalcogen_columns;   // index into Structure::columns, per chalcogen site
  std::vector<std::int32_t> metal_columns;       // index into Structure::columns, per metal site
  /// Per chalcogen site: chalcogen neighbour in direction d (chalcogen site index, -1 none).
  std::vector<std::array<std::int32_t, 6>> chalcogen_neighbours;
  /// Per chalcogen site: its metal neighbours (metal site index, -1 none).
  std::vector<std::array<std::int32_t, 3>> chalcogen_metals;
  /// Per metal site: its chalcogen columns (chalcogen site index, -1 none).
  std::vector<std::array<std::int32_t, 3>> metal_chalcogens;
  std::size_t chalcogens() const { return chalcogen_columns.size(); }
  std::size_t metals() const { return metal_columns.size(); }
};

/// The bond graph of a monolayer built by build_stack (one 1H layer, one domain). Throws
/// ConfigError for a structure of several layers or a 1T'' layer.
DefectLattice defect_lattice(const Structure& s, const Material& m, double phi_deg);

}  // namespace tmdflow::sim
