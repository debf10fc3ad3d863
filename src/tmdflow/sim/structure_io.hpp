#pragma once
// Writing a structure's ground truth beside a product (schema in data_schema/structures.md):
//   structure/ (attrs description, extent_x_A, extent_y_A)
//     atoms/    Z int32, x y z float64 (Angstrom), layer int16, domain int32, sublattice int8, column int32
//     columns/  x y float64, layer int16, domain int32, sublattice int8, defect int8, capacity int8,
//               occupancy int8, Z0 Z1 int32
//     domains/  id int32, phi_deg twist_deg float64, polarity int8, centre_x centre_y float64
// Every rank holds the same (deterministic) structure; the calls are collective.
#include "tmdflow/io/h5.hpp"
#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

void write_structure(const io::h5::Group& parent, const Structure& s, bool with_atoms = true);

}  // namespace tmdflow::sim
