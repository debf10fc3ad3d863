#include "tmdflow/sim/structure_io.hpp"

namespace tmdflow::sim {

namespace {
template <class T, class Row, class F>
std::vector<T> column_of(const std::vector<Row>& rows, F f) {
  std::vector<T> v;
  v.reserve(rows.size());
  for (const auto& r : rows) v.push_back(static_cast<T>(f(r)));
  return v;
}
}  // namespace

void write_structure(const io::h5::Group& parent, const Structure& s, bool with_atoms) {
  io::h5::Group g = parent.create_group("structure");
  g.set_attr("description", s.description);
  g.set_attr("extent_x_A", s.extent_x);
  g.set_attr("extent_y_A", s.extent_y);
  g.set_attr("frame", "x = image last axis, y = the one before, z along the beam (Angstrom); see data_schema/structures.md");
  if (with_atoms) {
    io::h5::Group a = g.create_group("atoms");
    const auto& at = s.atoms;
    a.write_vector("Z", column_of<std::int32_t>(at, [](const Atom& r) { return r.Z; }));
    a.write_vector("x", column_of<double>(at, [](const Atom& r) { return r.x; })).set_attr("units", "A");
    a.write_vector("y", column_of<double>(at, [](const Atom& r) { return r.y; })).set_attr("units", "A");
    a.write_vector("z", column_of<double>(at, [](const Atom& r) { return r.z; })).set_attr("units", "A");
    a.write_vector("layer", column_of<std::int16_t>(at, [](const Atom& r) { return r.layer; }));
    a.write_vector("domain", column_of<std::int32_t>(at, [](const Atom& r) { return r.domain; }));
    a.write_vector("sublattice", column_of<std::int8_t>(at, [](const Atom& r) { return std::int8_t(r.sublattice); }))
        .set_attr("values", "0 metal, 1 chalcogen, 2 other");
    a.write_vector("column", column_of<std::int32_t>(at, [](const Atom& r) { return r.column; }));
  }
  io::h5::Group c = g.create_group("columns");
  const auto& cols = s.columns;
  c.write_vector("x", column_of<double>(cols, [](const Column& r) { return r.x; })).set_attr("units", "A");
  c.write_vector("y", column_of<double>(cols, [](const Column& r) { return r.y; })).set_attr("units", "A");
  c.write_vector("layer", column_of<std::int16_t>(cols, [](const Column& r) { return r.layer; }));
  c.write_vector("domain", column_of<std::int32_t>(cols, [](const Column& r) { return r.domain; }));
  c.write_vector("sublattice", column_of<std::int8_t>(cols, [](const Column& r) { return std::int8_t(r.sublattice); }))
      .set_attr("values", "0 metal, 1 chalcogen, 2 other");
  c.write_vector("defect", column_of<std::int8_t>(cols, [](const Column& r) { return std::int8_t(r.defect); }))
      .set_attr("values", "0 none, 1 chalcogen single vacancy, 2 chalcogen double vacancy, 3 metal vacancy, 4 dopant");
  c.write_vector("capacity", column_of<std::int8_t>(cols, [](const Column& r) { return r.capacity; }));
  c.write_vector("occupancy", column_of<std::int8_t>(cols, [](const Column& r) { return r.occupancy; }));
  c.write_vector("Z0", column_of<std::int32_t>(cols, [](const Column& r) { return r.Z[0]; }));
  c.write_vector("Z1", column_of<std::int32_t>(cols, [](const Column& r) { return r.Z[1]; }));
  io::h5::Group d = g.create_group("domains");
  const auto& ds = s.domains;
  d.write_vector("id", column_of<std::int32_t>(ds, [](const Domain& r) { return r.id; }));
  d.write_vector("phi_deg", column_of<double>(ds, [](const Domain& r) { return r.phi_deg; })).set_attr("units", "degree");
  d.write_vector("twist_deg", column_of<double>(ds, [](const Domain& r) { return r.twist_deg(); })).set_attr("units", "degree");
  d.write_vector("polarity", column_of<std::int8_t>(ds, [](const Domain& r) { return std::int8_t(r.polarity()); }));
  d.write_vector("centre_x", column_of<double>(ds, [](const Domain& r) { return r.centre_x; })).set_attr("units", "A");
  d.write_vector("centre_y", column_of<double>(ds, [](const Domain& r) { return r.centre_y; })).set_attr("units", "A");
}

}  // namespace tmdflow::sim
