#pragma once
// Crystal builders: atoms (species, x, y, z) of TMD monolayers, stacks, alloys, defects and
// polycrystals, with the labels tests and training need. Frame (data_schema/conventions.md and
// data_schema/structures.md): x is an image's last array axis, y the one before, z along the beam
// (increasing downstream, entrance surface at the smallest z); lengths in Angstrom; the field of view
// is [0, extent_x) x [0, extent_y). Fields are cut from an unbounded lattice with a margin (never
// small periodic supercells), so no artificial periodicity shows.
//
// Orientation phi of an MX2 layer (degrees, [0, 120)): the angle atan2(dy, dx) of the projected
// vector from a metal atom to a nearest chalcogen column. phi mod 60 is the twist; phi mod 120 < 60
// and >= 60 are the two polarities (inversion domains).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tmdflow::sim {

enum class Sublattice : std::int8_t { metal = 0, chalcogen = 1, other = 2 };

struct Atom {
  int Z = 0;
  double x = 0, y = 0, z = 0;     // Angstrom
  std::int16_t layer = 0;         // 0 = bottom (entrance) layer; -1 for contamination
  std::int32_t domain = 0;        // polycrystal domain id (0 otherwise)
  Sublattice sublattice = Sublattice::other;
  std::int32_t column = -1;       // index into Structure::columns, -1 when none
};

enum class DefectKind : std::int8_t {
  none = 0,
  chalcogen_single_vacancy = 1,   // one of the two chalcogens of a column missing
  chalcogen_double_vacancy = 2,   // both missing
  metal_vacancy = 3,
  dopant = 4,                     // a metal site holding a foreign element
};

/// A projected atom column (a metal site, or a chalcogen site holding a top and a bottom atom) with
/// what it holds: the ground truth of atom finding and site classification. Vacant sites keep their
/// column (occupancy 0). In a 1T'' layer each chalcogen is its own column of capacity 1.
struct Column {
  double x = 0, y = 0;
  std::int16_t layer = 0;
  std::int32_t domain = 0;
  Sublattice sublattice = Sublattice::metal;
  DefectKind defect = DefectKind::none;
  std::int8_t capacity = 1;        // 1 for a metal site, 2 for a chalcogen site (1 in a 1T'' layer)
  std::int8_t occupancy = 1;       // atoms present (0 .. capacity) = atoms whose column is this one
  int Z[2] = {0, 0};               // species per slot (0 = vacant): [0] top (smaller z), [1] bottom;
                                   // Z[1] unused for capacity-1 columns
};

struct Domain {
  std::int32_t id = 0;
  double phi_deg = 30.0;           // orientation, [0, 120); for a 1T'' layer its rotation_deg mod 180
  double centre_x = 0, centre_y = 0;  // Voronoi seed (Angstrom)
  int polarity() const;            // +1 when phi mod 120 < 60, else -1
  double twist_deg() const;        // phi mod 60
};

struct Structure {
  std::vector<Atom> atoms;
  std::vector<Column> columns;
  std::vector<Domain> domains;     // one entry (id 0) for a single crystal
  double extent_x = 0, extent_y = 0;
  std::string description;         // one line, recorded with products
};

/// Standard lattice data of an MX2 compound (2H bulk values).
struct Material {
  std::string name;                // "MoS2", "WS2", "MoSe2", "WSe2", "ReS2", "ReSe2"
  int metal_Z = 0, chalcogen_Z = 0;
  double a = 0;                    // in-plane lattice constant (Angstrom); for 1T'' the cell a
  double chalcogen_dz = 0;         // vertical chalcogen-chalcogen distance within a layer
  double layer_spacing = 0;        // interlayer distance (c/2 for 2H)
  std::string source;              // citation
};
/// Throws ConfigError naming the known materials when `name` is unknown.
const Material& material(const std::string& name);
std::vector<std::string> material_names();

/// Random substitution per sublattice: element Z -> fraction of that sublattice's sites.
/// E.g. metal {W: 0.3} in MoS2 gives Mo0.7W0.3S2; chalcogen {Se: 0.5} gives MoSSe (each atom drawn
/// independently, so a column may hold S+S, S+Se or Se+Se).
struct AlloySpec {
  std::map<int, double> metal;
  std::map<int, double> chalcogen;
};

/// Point defects as fractions of sites (drawn independently per site, deterministic in the seed).
struct DefectSpec {
  double chalcogen_single_vacancy = 0;
  double chalcogen_double_vacancy = 0;
  double metal_vacancy = 0;
  int dopant_Z = 0;                 // element placed on metal sites
  double dopant_fraction = 0;
};

/// A stack of 1..3 layers of one material. MX2 (1H) layers: layer 0 (entrance side, smallest z) has orientation phi_deg and a metal
/// site at the centre of the field; the registry at zero slip and twist is `stacking` ("2H": AA', each
/// layer rotated by 60 deg with its metal over the chalcogen of the layer below; "3R": AB, same
/// orientation shifted by (a1 + a2)/3 per layer; "AA": eclipsed). Layer k > 0 is then shifted by
/// slip_a[k-1] a1 + slip_b[k-1] a2 from its registry position (fractions of the bottom layer's base
/// vectors a1, a2, with a1 at angle phi - 30 and a2 at phi + 30 degrees; not cumulative) and rotated by
/// twist_deg[k-1] about its own metal site nearest the centre of the field (data_schema/structures.md).
/// 1T'' (ReS2, ReSe2) layers: only "AA" (all layers in one orientation, eclipsed at zero slip);
/// layer 0's cell A axis at rotation_deg from +x (phi_deg is not used), its cell origin at the
/// centre; a1 = A, a2 = B; layer k is shifted by the slip, one layer spacing up, and turned by its
/// twist about its own cell origin nearest the centre. Vacancies: chalcogen_single_vacancy and
/// metal_vacancy (no alloying, no double vacancies: each 1T'' chalcogen is its own column).
struct StackSpec {
  std::string material = "MoS2";
  int layers = 1;
  std::string stacking;              // empty: the family's default, "2H" for MX2, "AA" for 1T''
  double phi_deg = 30.0;             // MX2 orientation (structures.md)
  double rotation_deg = 0.0;         // 1T'' orientation: angle of the cell's A axis
  std::vector<double> slip_a, slip_b, twist_deg;   // size layers - 1 (missing entries are 0)
  AlloySpec alloy;
  DefectSpec defects;
  double extent_x = 50, extent_y = 50;
  std::uint64_t seed = 1;
};
Structure build_stack(const StackSpec& spec);

/// The bottom layer's base vectors a1, a2 (Angstrom; x, y components) exactly as build_stack
/// orients them: the lattice the slips are fractions of, and what labels quote in Cartesian form
/// (MX2: a1 at phi - 30, a2 at phi + 30; 1T'': the cell's A at rotation_deg, B at rotation_deg + gamma).
struct BaseVectors {
  double a1[2] = {0, 0}, a2[2] = {0, 0};
};
BaseVectors stack_base_vectors(const StackSpec& spec);

/// A monolayer of distorted 1T'' ReS2 / ReSe2 (triclinic, Re4 diamond chains) from published cell
/// data; `rotation_deg` turns its a axis from +x.
struct TriclinicSpec {
  std::string material = "ReS2";
  double rotation_deg = 0;
  DefectSpec defects;
  double extent_x = 50, extent_y = 50;
  std::uint64_t seed = 1;
};
Structure build_1t_double_prime(const TriclinicSpec& spec);

/// The projected unit cell of one layer of `material` in its own frame: for an MX2 (1H) layer at
/// phi = 30 (a1 along +x, a2 at +60 deg; metal at (0, 0), the chalcogen pair at (1/3, 1/3)); for a
/// 1T'' layer at rotation 0 (cell A along +x, B at the published in-plane angle; 4 Re + 8 chalcogens).
/// What forward models and lattice finders need without building a field of atoms.
struct LayerCell {
  struct Basis {
    int Z = 0;
    double u = 0, v = 0;      // fractional coordinates along a1, a2 (in [0, 1))
    double h = 0;             // height above the layer's lowest atom [Angstrom]
    Sublattice sublattice = Sublattice::metal;
  };
  std::string material;
  double a1[2] = {0, 0}, a2[2] = {0, 0};   // Angstrom, x and y components
  std::vector<Basis> basis;                // every atom of the cell (an MX2 chalcogen pair: two entries)
  bool triclinic = false;                  // a 1T'' layer
};
/// Throws ConfigError naming the known materials when `material` is unknown.
LayerCell layer_cell(const std::string& material);

/// A monolayer polycrystal: Voronoi domains, each an MX2 lattice of its own phi (so its own twist
/// and polarity). Atoms closer than `min_distance` to an atom of a neighbouring domain at a
/// boundary are dropped.
struct PolycrystalSpec {
  std::string material = "MoS2";
  double extent_x = 200, extent_y = 200;
  int domains = 8;
  std::vector<double> phi_deg;      // per domain; empty: drawn uniformly in [0, 120)
  std::vector<double> centre_x, centre_y;  // seeds; empty: drawn uniformly in the field
  double min_distance = 1.5;
  AlloySpec alloy;
  DefectSpec defects;
  std::uint64_t seed = 1;
};
Structure build_polycrystal(const PolycrystalSpec& spec);

/// Domain id at (x, y) (nearest seed), the ground truth of a domain map.
std::int32_t domain_at(const Structure& s, double x, double y);

/// Amorphous contamination: round(density * field area) atoms of element Z at random positions in the
/// field and a slab [z0, z0 + thickness], no two closer than min_distance (3-D; the structure's own
/// atoms are not considered); layer -1, sublattice other, no column. Deterministic in the seed; throws
/// ConfigError when the density cannot be reached with that separation.
void add_amorphous_layer(Structure& s, int Z, double density_per_A2, double z0, double thickness,
                         double min_distance, std::uint64_t seed);

/// Amorphous carbon contamination on the exit surface: a 6 A slab starting 1.5 A above the highest
/// atom, carbon atoms at least 1.3 A apart, `density_per_A2` atoms per Angstrom^2.
void add_surface_contamination(Structure& s, double density_per_A2, std::uint64_t seed);

/// Orientation phi (degrees, [0, 120)) of the MX2 lattice whose metal->chalcogen vector is (dx, dy).
double orientation_from_vector(double dx, double dy);

}  // namespace tmdflow::sim
