#include "tmdflow/sim/structure.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <utility>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/elements.hpp"
#include "tmdflow/sim/random.hpp"

namespace tmdflow::sim {
namespace {

using units::deg_to_rad;
using units::rad_to_deg;

// Streams of the counter-based generator. Every decision is a pure function of (seed, stream, stable
// site key[, slot]), never of loop order: a site keeps its fate when the field grows or is cut.
enum StructureKey : std::uint64_t {
  alloy_metal = 0x616c6c6f79ULL,
  alloy_chalcogen,
  defect_kind,
  defect_slot,
  domain_phi,
  domain_centre,
  amorphous,
};

double positive_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r < 0) r += m;
  return r >= m ? 0.0 : r;  // fmod(-1e-17, m) + m rounds to m
}

using str::number;
struct Vec2 {
  double x = 0, y = 0;
};
Vec2 operator+(Vec2 a, Vec2 b) { return {a.x + b.x, a.y + b.y}; }
Vec2 operator-(Vec2 a, Vec2 b) { return {a.x - b.x, a.y - b.y}; }
Vec2 operator*(Vec2 a, double s) { return {a.x * s, a.y * s}; }
double norm2(Vec2 a) { return a.x * a.x + a.y * a.y; }
Vec2 polar(double length, double angle_deg) {
  return {length * std::cos(deg_to_rad(angle_deg)), length * std::sin(deg_to_rad(angle_deg))};
}

bool inside_field(Vec2 p, double ex, double ey) { return p.x >= 0 && p.x < ex && p.y >= 0 && p.y < ey; }

/// A projected site, the future Column: a metal, a chalcogen pair (slot 0 top = smaller z, slot 1
/// bottom) or a lone chalcogen of a 1T'' layer.
struct Site {
  Vec2 p;
  double z[2] = {0, 0};
  int Z = 0;  // host species
  std::int16_t layer = 0;
  std::int32_t domain = 0;
  Sublattice sublattice = Sublattice::metal;
  std::int8_t capacity = 1;
  std::uint64_t key = 0;  // stable identity: (domain, layer, basis site, n1, n2)
};

std::uint64_t site_key(std::int64_t domain, std::int64_t layer, std::int64_t basis, std::int64_t n1, std::int64_t n2) {
  return rng::key(0x73697465ULL, std::uint64_t(domain), std::uint64_t(layer), std::uint64_t(basis), std::uint64_t(n1),
                  std::uint64_t(n2));
}

/// Calls f(n1, n2, origin + n1 a1 + n2 a2) for every lattice point within `margin` of the rectangle
/// [x0, x1] x [y0, y1]: the index range comes from the rectangle's corners in lattice coordinates,
/// so a rotated lattice is cut from the unbounded one without gaps.
template <class F>
void for_each_lattice_point(Vec2 origin, Vec2 a1, Vec2 a2, Vec2 lo, Vec2 hi, double margin, F&& f) {
  const double det = a1.x * a2.y - a1.y * a2.x;
  double min1 = std::numeric_limits<double>::max(), max1 = -min1, min2 = min1, max2 = -min1;
  for (double cx : {lo.x - margin, hi.x + margin})
    for (double cy : {lo.y - margin, hi.y + margin}) {
      const double dx = cx - origin.x, dy = cy - origin.y;
      const double f1 = (dx * a2.y - dy * a2.x) / det, f2 = (a1.x * dy - a1.y * dx) / det;
      min1 = std::min(min1, f1), max1 = std::max(max1, f1), min2 = std::min(min2, f2), max2 = std::max(max2, f2);
    }
  for (auto n1 = std::int64_t(std::floor(min1)) - 1; n1 <= std::int64_t(std::ceil(max1)) + 1; ++n1)
    for (auto n2 = std::int64_t(std::floor(min2)) - 1; n2 <= std::int64_t(std::ceil(max2)) + 1; ++n2) {
      const Vec2 p = origin + a1 * double(n1) + a2 * double(n2);
      if (p.x < lo.x - margin || p.x > hi.x + margin || p.y < lo.y - margin || p.y > hi.y + margin) continue;
      f(n1, n2, p);
    }
}

/// The shortest vector v + n1 a1 + n2 a2; ties go to the first candidate in a fixed search order.
Vec2 nearest_image(Vec2 v, Vec2 a1, Vec2 a2) {
  const double det = a1.x * a2.y - a1.y * a2.x;
  const double f1 = (v.x * a2.y - v.y * a2.x) / det, f2 = (a1.x * v.y - a1.y * v.x) / det;
  const double b1 = -std::round(f1), b2 = -std::round(f2);
  Vec2 best = v + a1 * b1 + a2 * b2;
  double best2 = norm2(best);
  for (int d1 = -1; d1 <= 1; ++d1)
    for (int d2 = -1; d2 <= 1; ++d2) {
      const Vec2 c = v + a1 * (b1 + d1) + a2 * (b2 + d2);
      if (norm2(c) < best2 - 1e-9) best = c, best2 = norm2(c);
    }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Distorted 1T'' layers (ReS2, ReSe2): one M4X8 layer of a published triclinic (P-1) structure.

struct TriclinicAtom {
  bool metal;
  double fa, fb, fc;  // fractional coordinates along A, B (in the layer) and C (out of it)
};

struct TriclinicLayer {
  const char* name;
  double A, B, C, alpha, beta, gamma;  // source cell in the layer setting (Angstrom, degrees)
  double a, b, gamma_plane;            // in-plane cell of the built layer
  std::array<TriclinicAtom, 12> atoms;
};

// ReS2: atomic positions of Materials Project mp-572758 (DFT/PBE, doubled-c P-1 cell, CC BY 4.0; the
// layer at z ~ 1/4, in the matminer mp_all_20181018 snapshot), placed on the measured in-plane cell
// a = 6.352, b = 6.446 A, gamma = 118.97 deg between a and b, i.e. 61.03 deg between a and -b as in
// the mp-572758 setting (Murray et al., Inorg. Chem. 33, 4418 (1994); Lamfers et al., J. Alloys
// Compd. 241, 34 (1996)): a homogeneous 1.1 % in-plane contraction of the PBE layer.
// ReSe2: Alcock & Kjekshus, Acta Chem. Scand. 19, 79 (1965), COD 1539529; the CIF's b, c span the
// layer and a leaves it, so (A, B, C) = (b, c, a) and (fa, fb, fc) = (y, z, x). Its in-plane cell
// agrees with Lamfers et al. (a = 6.602, b = 6.716 A, gamma = 118.94 deg) to 0.1 %.
const TriclinicLayer kTriclinic[] = {
    {"ReS2",
     6.4190999752, 6.5230592820, 13.8738894689, 77.5564668056, 89.4654657052, 61.1633630783,
     6.352, 6.446, 180.0 - 118.97,
     {{{true, 0.18858000, 0.06709120, 0.24504534},
       {true, 0.31312453, 0.43797079, 0.25311963},
       {true, 0.76231035, 0.03915775, 0.24804690},
       {true, 0.73939335, 0.46590133, 0.25013825},
       {false, 0.91088730, 0.70793449, 0.16114999},
       {false, 0.40300424, 0.21691623, 0.13248449},
       {false, 0.37026670, 0.74514735, 0.14860331},
       {false, 0.86169959, 0.26938073, 0.11915459},
       {false, 0.63998139, 0.23569227, 0.37903160},
       {false, 0.13144647, 0.75986643, 0.34957140},
       {false, 0.09875317, 0.28809219, 0.36568804},
       {false, 0.59079896, 0.79714651, 0.33703371}}}},
    {"ReSe2",
     6.6065, 6.7196, 6.7272, 91.82, 104.93, 118.93,
     6.6065, 6.7196, 118.93,
     {{{true, 0.3038, 0.3020, 0.4937},
       {true, 0.6962, 0.6980, 0.5063},
       {true, 0.7474, 0.3027, 0.4943},
       {true, 0.2526, 0.6973, 0.5057},
       {false, 0.4875, 0.3600, 0.2228},
       {false, 0.5125, 0.6400, 0.7772},
       {false, 0.9830, 0.3620, 0.2220},
       {false, 0.0170, 0.6380, 0.7780},
       {false, 0.4893, 0.1221, 0.7089},
       {false, 0.5107, 0.8779, 0.2911},
       {false, 0.9893, 0.1221, 0.7089},
       {false, 0.0107, 0.8779, 0.2911}}}},
};

const TriclinicLayer* triclinic_layer(const std::string& name) {
  for (const auto& t : kTriclinic)
    if (name == t.name) return &t;
  return nullptr;
}

/// A basis atom projected along the layer normal: fractional (u, v) of the in-plane cell and height
/// h (Angstrom) from the mean metal plane.
struct ProjectedAtom {
  bool metal;
  double u, v, h;
};

std::array<ProjectedAtom, 12> project(const TriclinicLayer& t) {
  const double ca = std::cos(deg_to_rad(t.alpha)), cb = std::cos(deg_to_rad(t.beta));
  const double cg = std::cos(deg_to_rad(t.gamma)), sg = std::sin(deg_to_rad(t.gamma));
  // A along x, B in the xy plane; C's components. Its in-plane part is c1 A + c2 B.
  const double cx = t.C * cb, cy = t.C * (ca - cb * cg) / sg, cz = std::sqrt(t.C * t.C - cx * cx - cy * cy);
  const double bx = t.B * cg, by = t.B * sg;
  const double c2 = cy / by, c1 = (cx - c2 * bx) / t.A;
  double fc_metal = 0;
  for (const auto& a : t.atoms)
    if (a.metal) fc_metal += a.fc / 4;
  std::array<ProjectedAtom, 12> out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& a = t.atoms[i];
    const double dc = a.fc - fc_metal;
    const double u = a.fa + dc * c1, v = a.fb + dc * c2;
    out[i] = {a.metal, u - std::floor(u), v - std::floor(v), dc * cz};
  }
  return out;
}

double chalcogen_dz_of(const TriclinicLayer& t) {
  double dz = 0;
  for (const auto& a : project(t))
    if (!a.metal) dz += std::abs(a.h) / 4;  // sum |h| / 4 over the 8 chalcogens = mean top-bottom distance
  return dz;
}

// ---------------------------------------------------------------------------------------------

std::string known_materials() {
  std::string s;
  for (const auto& n : material_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

void check_fraction(double f, const std::string& what) {
  if (!(f >= 0 && f <= 1)) throw ConfigError(what + ": expected a fraction in [0, 1], found " + number(f));
}

void check_extent(double ex, double ey, const std::string& who) {
  if (!(ex > 0) || !(ey > 0) || !std::isfinite(ex) || !std::isfinite(ey))
    throw ConfigError(who + ": extent: expected positive finite extent_x, extent_y (Angstrom), found " + number(ex) + " x " +
                      number(ey));
}

void check_finite(double v, const std::string& what) {
  if (!std::isfinite(v)) throw ConfigError(what + ": expected a finite number, found " + number(v));
}

void validate(const AlloySpec& alloy, const DefectSpec& d, const std::string& who) {
  for (const auto* part : {&alloy.metal, &alloy.chalcogen}) {
    const std::string name = who + ": alloy." + (part == &alloy.metal ? "metal" : "chalcogen");
    double sum = 0;
    for (const auto& [Z, f] : *part) {
      if (Z < 1 || Z > 103) throw ConfigError(name + ": expected atomic numbers 1..103, found " + std::to_string(Z));
      check_fraction(f, name + "[" + element_symbol(Z) + "]");
      sum += f;
    }
    if (sum > 1 + 1e-12) throw ConfigError(name + ": fractions sum to " + number(sum) + ", expected at most 1");
  }
  check_fraction(d.chalcogen_single_vacancy, who + ": defects.chalcogen_single_vacancy");
  check_fraction(d.chalcogen_double_vacancy, who + ": defects.chalcogen_double_vacancy");
  check_fraction(d.metal_vacancy, who + ": defects.metal_vacancy");
  check_fraction(d.dopant_fraction, who + ": defects.dopant_fraction");
  if (d.chalcogen_single_vacancy + d.chalcogen_double_vacancy > 1 + 1e-12)
    throw ConfigError(who + ": defects: chalcogen_single_vacancy + chalcogen_double_vacancy: expected at most 1, found " +
                      number(d.chalcogen_single_vacancy + d.chalcogen_double_vacancy));
  if (d.metal_vacancy + d.dopant_fraction > 1 + 1e-12)
    throw ConfigError(who + ": defects: metal_vacancy + dopant_fraction: expected at most 1, found " +
                      number(d.metal_vacancy + d.dopant_fraction));
  if (d.dopant_fraction > 0 && (d.dopant_Z < 1 || d.dopant_Z > 103))
    throw ConfigError(who + ": defects.dopant_Z: expected an atomic number 1..103 with dopant_fraction > 0, found " +
                      std::to_string(d.dopant_Z));
}

std::string random_suffix(const AlloySpec& alloy, const DefectSpec& d, std::uint64_t seed) {
  std::string s;
  std::string parts;
  for (const auto* part : {&alloy.metal, &alloy.chalcogen})
    for (const auto& [Z, f] : *part)
      if (f > 0) parts += (parts.empty() ? "" : ",") + element_symbol(Z) + ":" + number(f);
  if (!parts.empty()) s += " alloy=" + parts;
  parts.clear();
  const std::pair<const char*, double> kinds[] = {{"VX", d.chalcogen_single_vacancy},
                                                  {"VX2", d.chalcogen_double_vacancy},
                                                  {"VM", d.metal_vacancy}};
  for (const auto& [label, f] : kinds)
    if (f > 0) parts += (parts.empty() ? "" : ",") + std::string(label) + ":" + number(f);
  if (d.dopant_fraction > 0) parts += (parts.empty() ? "" : ",") + element_symbol(d.dopant_Z) + "_M:" + number(d.dopant_fraction);
  if (!parts.empty()) s += " defects=" + parts;
  if (!s.empty()) s += " seed=" + std::to_string(seed);
  return s;
}

int draw_species(int host, const std::map<int, double>& fractions, double u) {
  double acc = 0;
  for (const auto& [Z, f] : fractions) {
    acc += f;
    if (u < acc) return Z;
  }
  return host;
}

/// Turns sites into columns and atoms: alloy substitution per atom, then at most one point defect per
/// site, each drawn from the site's stable key.
void assemble(const std::vector<Site>& sites, const AlloySpec& alloy, const DefectSpec& d, std::uint64_t seed,
              Structure& s) {
  s.columns.reserve(s.columns.size() + sites.size());
  s.atoms.reserve(s.atoms.size() + sites.size() * 3 / 2 + 1);
  for (const Site& site : sites) {
    Column c;
    c.x = site.p.x, c.y = site.p.y;
    c.layer = site.layer, c.domain = site.domain, c.sublattice = site.sublattice, c.capacity = site.capacity;
    const bool metal = site.sublattice == Sublattice::metal;
    for (int k = 0; k < site.capacity; ++k)
      c.Z[k] = metal ? draw_species(site.Z, alloy.metal, rng::uniform(rng::key(seed, alloy_metal, site.key)))
                     : draw_species(site.Z, alloy.chalcogen, rng::uniform(rng::key(seed, alloy_chalcogen, site.key, k)));
    const double u = rng::uniform(rng::key(seed, defect_kind, site.key));
    if (metal) {
      if (u < d.metal_vacancy) {
        c.defect = DefectKind::metal_vacancy, c.Z[0] = 0;
      } else if (u < d.metal_vacancy + d.dopant_fraction) {
        c.defect = DefectKind::dopant, c.Z[0] = d.dopant_Z;
      }
    } else if (u < d.chalcogen_single_vacancy) {
      c.defect = DefectKind::chalcogen_single_vacancy;
      const int slot = site.capacity == 2 && rng::uniform(rng::key(seed, defect_slot, site.key)) >= 0.5 ? 1 : 0;
      c.Z[slot] = 0;
    } else if (u < d.chalcogen_single_vacancy + d.chalcogen_double_vacancy) {
      c.defect = DefectKind::chalcogen_double_vacancy, c.Z[0] = c.Z[1] = 0;
    }
    c.occupancy = 0;
    const auto index = std::int32_t(s.columns.size());
    for (int k = 0; k < site.capacity; ++k) {
      if (c.Z[k] == 0) continue;
      ++c.occupancy;
      Atom a;
      a.Z = c.Z[k], a.x = site.p.x, a.y = site.p.y, a.z = site.z[k];
      a.layer = site.layer, a.domain = site.domain, a.sublattice = site.sublattice, a.column = index;
      s.atoms.push_back(a);
    }
    s.columns.push_back(c);
  }
}

/// Sites of one 1H layer: metal at origin + n1 a1 + n2 a2 (a1 at phi - 30, a2 at phi + 30 deg), the
/// chalcogen pair at + (a1 + a2)/3, i.e. a/sqrt(3) from the metal at angle phi. Points in the field
/// and within the search box [lo, hi] for which keep(p) holds.
template <class Keep>
void add_1h_layer(std::vector<Site>& sites, const Material& m, Vec2 origin, double phi_deg, int layer, std::int32_t domain,
                  double z_metal, double ex, double ey, Vec2 lo, Vec2 hi, Keep&& keep) {
  const Vec2 a1 = polar(m.a, phi_deg - 30), a2 = polar(m.a, phi_deg + 30);
  const Vec2 t = (a1 + a2) * (1.0 / 3.0);
  for_each_lattice_point(origin, a1, a2, lo, hi, m.a, [&](std::int64_t n1, std::int64_t n2, Vec2 p) {
    for (int b = 0; b < 2; ++b) {
      const Vec2 q = b == 0 ? p : p + t;
      if (!inside_field(q, ex, ey) || q.x < lo.x || q.x > hi.x || q.y < lo.y || q.y > hi.y || !keep(q)) continue;
      Site s;
      s.p = q;
      s.layer = std::int16_t(layer), s.domain = domain;
      s.key = site_key(domain, layer, b, n1, n2);
      if (b == 0) {
        s.sublattice = Sublattice::metal, s.capacity = 1, s.Z = m.metal_Z, s.z[0] = z_metal;
      } else {
        s.sublattice = Sublattice::chalcogen, s.capacity = 2, s.Z = m.chalcogen_Z;
        s.z[0] = z_metal - m.chalcogen_dz / 2, s.z[1] = z_metal + m.chalcogen_dz / 2;
      }
      sites.push_back(s);
    }
  });
}

/// Index of the seed nearest to (x, y); the lowest index wins a tie. domain_at and the polycrystal
/// builder share it, so atoms and the domain map agree exactly.
std::size_t nearest_seed(const std::vector<Domain>& domains, double x, double y) {
  std::size_t best = 0;
  double best2 = std::numeric_limits<double>::max();
  for (std::size_t i = 0; i < domains.size(); ++i) {
    const double dx = x - domains[i].centre_x, dy = y - domains[i].centre_y, d2 = dx * dx + dy * dy;
    if (d2 < best2) best = i, best2 = d2;
  }
  return best;
}

/// Voronoi cell of seed d clipped to the field: the rectangle cut by the bisector half-planes
/// (Sutherland-Hodgman on a convex polygon). Only its bounding box is used, to limit the lattice loop.
std::vector<Vec2> voronoi_cell(const std::vector<Domain>& domains, std::size_t d, double ex, double ey) {
  std::vector<Vec2> poly = {{0, 0}, {ex, 0}, {ex, ey}, {0, ey}}, next;
  const Vec2 s{domains[d].centre_x, domains[d].centre_y};
  for (std::size_t j = 0; j < domains.size() && !poly.empty(); ++j) {
    if (j == d) continue;
    const Vec2 o{domains[j].centre_x, domains[j].centre_y};
    const Vec2 n = o - s;  // keep n.p <= (|o|^2 - |s|^2) / 2
    const double c = (norm2(o) - norm2(s)) / 2;
    next.clear();
    for (std::size_t i = 0; i < poly.size(); ++i) {
      const Vec2 p = poly[i], q = poly[(i + 1) % poly.size()];
      const double dp = n.x * p.x + n.y * p.y - c, dq = n.x * q.x + n.y * q.y - c;
      if (dp <= 0) next.push_back(p);
      if ((dp < 0 && dq > 0) || (dp > 0 && dq < 0)) next.push_back(p + (q - p) * (dp / (dp - dq)));
    }
    poly.swap(next);
  }
  return poly;
}

/// Drops every site closer than min_distance (in projection) to a site of a lower domain id, found
/// through a cell list. The rule is order-free, and no two surviving sites of different domains are
/// closer than min_distance.
void drop_boundary_overlaps(std::vector<Site>& sites, double min_distance, double ex, double ey) {
  if (!(min_distance > 0) || sites.empty()) return;
  const double cell = std::max(min_distance, std::sqrt(ex * ey / double(sites.size())));
  const int nx = std::max(1, int(std::ceil(ex / cell))), ny = std::max(1, int(std::ceil(ey / cell)));
  auto cell_of = [&](Vec2 p) {
    const int i = std::clamp(int(p.x / cell), 0, nx - 1), j = std::clamp(int(p.y / cell), 0, ny - 1);
    return std::pair<int, int>{i, j};
  };
  std::vector<std::uint32_t> start(std::size_t(nx) * ny + 1, 0), order(sites.size());
  for (const auto& s : sites) {
    const auto [i, j] = cell_of(s.p);
    ++start[std::size_t(j) * nx + i + 1];
  }
  for (std::size_t k = 1; k < start.size(); ++k) start[k] += start[k - 1];
  std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
  for (std::size_t k = 0; k < sites.size(); ++k) {
    const auto [i, j] = cell_of(sites[k].p);
    order[fill[std::size_t(j) * nx + i]++] = std::uint32_t(k);
  }
  const double md2 = min_distance * min_distance;
  std::vector<char> drop(sites.size(), 0);
  for (std::size_t k = 0; k < sites.size(); ++k) {
    const auto [i, j] = cell_of(sites[k].p);
    for (int jj = std::max(0, j - 1); jj <= std::min(ny - 1, j + 1) && !drop[k]; ++jj)
      for (int ii = std::max(0, i - 1); ii <= std::min(nx - 1, i + 1) && !drop[k]; ++ii) {
        const std::size_t c = std::size_t(jj) * nx + ii;
        for (auto m = start[c]; m < start[c + 1]; ++m) {
          const Site& o = sites[order[m]];
          if (o.domain < sites[k].domain && norm2(o.p - sites[k].p) < md2) {
            drop[k] = 1;
            break;
          }
        }
      }
  }
  std::size_t w = 0;
  for (std::size_t k = 0; k < sites.size(); ++k)
    if (!drop[k]) sites[w++] = sites[k];
  sites.resize(w);
}

const std::vector<Material>& material_table() {
  // 2H bulk values: a, the vertical chalcogen-chalcogen distance of a layer dz = (3/2 - 2 z) c for
  // chalcogens on 4f (1/3, 2/3, z) of P6_3/mmc, and the interlayer distance c/2.
  static const std::vector<Material> table = [] {
    const int S = atomic_number("S"), Se = atomic_number("Se");
    std::vector<Material> t = {
        {"MoS2", atomic_number("Mo"), S, 3.1604, (1.5 - 2 * 0.6210) * 12.295, 12.295 / 2,
         "Schoenfeld, Huang & Moss, Acta Cryst. B39, 404 (1983): a = 3.1604, c = 12.295 A, S z = 0.621"},
        {"WS2", atomic_number("W"), S, 3.1532, (1.5 - 2 * 0.6225) * 12.323, 12.323 / 2,
         "Schutte, De Boer & Jellinek, J. Solid State Chem. 70, 207 (1987): a = 3.1532, c = 12.323 A, S z = 0.6225"},
        {"MoSe2", atomic_number("Mo"), Se, 3.289, (1.5 - 2 * 0.6210) * 12.927, 12.927 / 2,
         "Bronsema, De Boer & Jellinek, Z. Anorg. Allg. Chem. 540/541, 15 (1986): a = 3.289, c = 12.927 A, Se z = 0.621"},
        {"WSe2", atomic_number("W"), Se, 3.282, (1.5 - 2 * 0.6211) * 12.960, 12.960 / 2,
         "Schutte, De Boer & Jellinek, J. Solid State Chem. 70, 207 (1987): a = 3.282, c = 12.960 A, Se z = 0.6211"},
        {"ReS2", atomic_number("Re"), S, 6.352, chalcogen_dz_of(kTriclinic[0]), 6.07,
         "1T'' P-1 layer: positions of Materials Project mp-572758 (PBE) on the measured cell a = 6.352, "
         "b = 6.446 A, gamma = 118.97 deg (Murray et al., Inorg. Chem. 33, 4418 (1994); Lamfers et al., "
         "J. Alloys Compd. 241, 34 (1996))"},
        {"ReSe2", atomic_number("Re"), Se, 6.6065, chalcogen_dz_of(kTriclinic[1]), 6.39,
         "1T'' P-1 layer: Alcock & Kjekshus, Acta Chem. Scand. 19, 79 (1965), COD 1539529 "
         "(in-plane b = 6.6065, c = 6.7196 A, alpha = 118.93 deg)"},
    };
    return t;
  }();
  return table;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

int Domain::polarity() const { return positive_mod(phi_deg, 120.0) < 60.0 ? +1 : -1; }
double Domain::twist_deg() const { return positive_mod(phi_deg, 60.0); }

double orientation_from_vector(double dx, double dy) { return positive_mod(rad_to_deg(std::atan2(dy, dx)), 120.0); }

const Material& material(const std::string& name) {
  for (const auto& m : material_table())
    if (m.name == name) return m;
  throw ConfigError("material: expected one of " + known_materials() + ", found \"" + name + "\"");
}

std::vector<std::string> material_names() {
  std::vector<std::string> names;
  for (const auto& m : material_table()) names.push_back(m.name);
  return names;
}

namespace {

std::string stacking_of(const StackSpec& spec, bool triclinic) {
  return spec.stacking.empty() ? (triclinic ? "AA" : "2H") : spec.stacking;
}

double value_at(const std::vector<double>& v, int k) { return k >= 1 && std::size_t(k - 1) < v.size() ? v[k - 1] : 0.0; }

/// "MoS2 bilayer 2H phi=30 slip=(0.1,0) twist=(1.5) 50x50 A" (orientation named by `orientation`).
std::string stack_description(const StackSpec& spec, const std::string& stacking, const std::string& orientation) {
  static const char* words[] = {"monolayer", "bilayer", "trilayer"};
  std::ostringstream d;
  d << spec.material << ' ' << words[spec.layers - 1];
  if (spec.layers > 1) d << ' ' << stacking;
  d << ' ' << orientation;
  if (spec.layers > 1) {
    d << " slip=(";
    for (int k = 1; k < spec.layers; ++k) d << (k > 1 ? ";" : "") << number(value_at(spec.slip_a, k)) << ',' << number(value_at(spec.slip_b, k));
    d << ") twist=(";
    for (int k = 1; k < spec.layers; ++k) d << (k > 1 ? ";" : "") << number(value_at(spec.twist_deg, k));
    d << ')';
  }
  d << ' ' << number(spec.extent_x) << 'x' << number(spec.extent_y) << " A" << random_suffix(spec.alloy, spec.defects, spec.seed);
  return d.str();
}

/// Sites of one 1T'' layer: cell origin at `origin`, A at rotation_deg, B at rotation_deg + gamma;
/// heights from the entrance surface of the layer plus z0; site keys (0, layer, basis atom, n1, n2)
/// counted from that origin.
void add_1tpp_layer(std::vector<Site>& sites, const Material& m, const TriclinicLayer& t, Vec2 origin, double rotation_deg, int layer,
                    double z0, double ex, double ey) {
  const Vec2 A = polar(t.a, rotation_deg), B = polar(t.b, rotation_deg + t.gamma_plane);
  const auto basis = project(t);
  double h_min = 0;
  for (const auto& b : basis) h_min = std::min(h_min, b.h);
  for_each_lattice_point(origin, A, B, Vec2{0, 0}, Vec2{ex, ey}, t.a + t.b, [&](std::int64_t n1, std::int64_t n2, Vec2 p) {
    for (std::size_t i = 0; i < basis.size(); ++i) {
      const Vec2 q = p + A * basis[i].u + B * basis[i].v;
      if (!inside_field(q, ex, ey)) continue;
      Site s;
      s.p = q;
      s.z[0] = z0 + basis[i].h - h_min;  // the layer's entrance surface at z0
      s.capacity = 1;
      s.layer = std::int16_t(layer);
      s.sublattice = basis[i].metal ? Sublattice::metal : Sublattice::chalcogen;
      s.Z = basis[i].metal ? m.metal_Z : m.chalcogen_Z;
      s.key = site_key(0, layer, std::int64_t(i), n1, n2);
      sites.push_back(s);
    }
  });
}

Structure build_mx2_stack(const StackSpec& spec, const Material& m, const std::string& stacking) {
  const double ex = spec.extent_x, ey = spec.extent_y, phi0 = positive_mod(spec.phi_deg, 120.0);
  const Vec2 centre{ex / 2, ey / 2};
  const Vec2 a1 = polar(m.a, phi0 - 30), a2 = polar(m.a, phi0 + 30), t = (a1 + a2) * (1.0 / 3.0);
  std::vector<Site> sites;
  for (int k = 0; k < spec.layers; ++k) {
    // Registry at zero slip and twist (structures.md): 2H rotates odd layers by 60 deg and puts their
    // metal over the chalcogen below; 3R shifts each layer by (a1 + a2)/3; AA is eclipsed.
    Vec2 shift;
    double phi = phi0;
    if (stacking == "2H" && k % 2 == 1) shift = t, phi = phi0 + 60;
    if (stacking == "3R") shift = t * double(k);
    shift = shift + a1 * value_at(spec.slip_a, k) + a2 * value_at(spec.slip_b, k);
    // The twist turns the layer about its own metal site nearest the field centre, which keeps the
    // registry there; that site is also the origin of the layer's site keys.
    const Vec2 pivot = centre + nearest_image(shift, a1, a2);
    add_1h_layer(sites, m, pivot, phi + value_at(spec.twist_deg, k), k, 0, m.chalcogen_dz / 2 + k * m.layer_spacing, ex, ey,
                 Vec2{0, 0}, Vec2{ex, ey}, [](Vec2) { return true; });
  }
  Structure s;
  s.extent_x = ex, s.extent_y = ey;
  assemble(sites, spec.alloy, spec.defects, spec.seed, s);
  s.domains.push_back(Domain{0, phi0, centre.x, centre.y});
  s.description = stack_description(spec, stacking, "phi=" + number(phi0));
  return s;
}

/// 1T'' layers in one orientation ("AA": eclipsed at zero slip): layer k is the bottom layer moved by
/// slip_a A + slip_b B, one layer spacing up, then turned by its twist about its own cell origin
/// nearest the field centre (the registry there is the slip's).
Structure build_1tpp_stack(const StackSpec& spec, const Material& m, const TriclinicLayer& t) {
  const double ex = spec.extent_x, ey = spec.extent_y;
  const Vec2 centre{ex / 2, ey / 2};
  const Vec2 A = polar(t.a, spec.rotation_deg), B = polar(t.b, spec.rotation_deg + t.gamma_plane);
  std::vector<Site> sites;
  for (int k = 0; k < spec.layers; ++k) {
    const Vec2 shift = A * value_at(spec.slip_a, k) + B * value_at(spec.slip_b, k);
    add_1tpp_layer(sites, m, t, centre + nearest_image(shift, A, B), spec.rotation_deg + value_at(spec.twist_deg, k), k,
                   k * m.layer_spacing, ex, ey);
  }
  Structure s;
  s.extent_x = ex, s.extent_y = ey;
  assemble(sites, AlloySpec{}, spec.defects, spec.seed, s);
  s.domains.push_back(Domain{0, positive_mod(spec.rotation_deg, 180.0), centre.x, centre.y});
  s.description = stack_description(spec, "AA", "rotation=" + number(spec.rotation_deg));
  return s;
}

}  // namespace

Structure build_stack(const StackSpec& spec) {
  const std::string who = "stack";
  const Material& m = material(spec.material);
  const TriclinicLayer* triclinic = triclinic_layer(m.name);
  const std::string stacking = stacking_of(spec, triclinic);
  if (spec.layers < 1 || spec.layers > 3)
    throw ConfigError(who + ": layers: expected 1..3, found " + std::to_string(spec.layers));
  if (triclinic && stacking != "AA")
    throw ConfigError(who + ": stacking: expected AA for 1T'' " + m.name + " layers (all in one orientation), found \"" + stacking + "\"");
  if (stacking != "2H" && stacking != "3R" && stacking != "AA")
    throw ConfigError(who + ": stacking: expected 2H, 3R or AA, found \"" + stacking + "\"");
  const std::size_t extra = std::size_t(spec.layers - 1);
  if (spec.slip_a.size() > extra || spec.slip_b.size() > extra || spec.twist_deg.size() > extra)
    throw ConfigError(who + ": slip_a, slip_b, twist_deg: expected at most layers - 1 = " + std::to_string(extra) +
                      " values each, found " + std::to_string(spec.slip_a.size()) + ", " +
                      std::to_string(spec.slip_b.size()) + ", " + std::to_string(spec.twist_deg.size()));
  check_finite(spec.phi_deg, who + ": phi_deg");
  check_finite(spec.rotation_deg, who + ": rotation_deg");
  for (double v : spec.slip_a) check_finite(v, who + ": slip_a");
  for (double v : spec.slip_b) check_finite(v, who + ": slip_b");
  for (double v : spec.twist_deg) check_finite(v, who + ": twist_deg");
  check_extent(spec.extent_x, spec.extent_y, who);
  validate(spec.alloy, spec.defects, who);
  if (triclinic) {
    if (!spec.alloy.metal.empty() || !spec.alloy.chalcogen.empty())
      throw ConfigError(who + ": alloy: expected none for 1T'' " + m.name + " (alloying is offered for MX2 layers only)");
    if (spec.defects.chalcogen_double_vacancy > 0)
      throw ConfigError(who + ": defects.chalcogen_double_vacancy: expected 0 (in a 1T'' layer each chalcogen is its own "
                              "column; use chalcogen_single_vacancy), found " + number(spec.defects.chalcogen_double_vacancy));
    return build_1tpp_stack(spec, m, *triclinic);
  }
  return build_mx2_stack(spec, m, stacking);
}

BaseVectors stack_base_vectors(const StackSpec& spec) {
  const Material& m = material(spec.material);
  Vec2 a1, a2;
  if (const TriclinicLayer* t = triclinic_layer(m.name)) {
    a1 = polar(t->a, spec.rotation_deg), a2 = polar(t->b, spec.rotation_deg + t->gamma_plane);
  } else {
    const double phi0 = positive_mod(spec.phi_deg, 120.0);
    a1 = polar(m.a, phi0 - 30), a2 = polar(m.a, phi0 + 30);
  }
  BaseVectors v;
  v.a1[0] = a1.x, v.a1[1] = a1.y, v.a2[0] = a2.x, v.a2[1] = a2.y;
  return v;
}

LayerCell layer_cell(const std::string& name) {
  const Material& m = material(name);
  LayerCell c;
  c.material = m.name;
  if (const TriclinicLayer* t = triclinic_layer(m.name)) {
    c.triclinic = true;
    const Vec2 A = polar(t->a, 0), B = polar(t->b, t->gamma_plane);
    c.a1[0] = A.x, c.a1[1] = A.y, c.a2[0] = B.x, c.a2[1] = B.y;
    const auto basis = project(*t);
    double h_min = 0;
    for (const auto& b : basis) h_min = std::min(h_min, b.h);
    for (const auto& b : basis)
      c.basis.push_back({b.metal ? m.metal_Z : m.chalcogen_Z, b.u, b.v, b.h - h_min, b.metal ? Sublattice::metal : Sublattice::chalcogen});
    return c;
  }
  const Vec2 a1 = polar(m.a, 0), a2 = polar(m.a, 60);
  c.a1[0] = a1.x, c.a1[1] = a1.y, c.a2[0] = a2.x, c.a2[1] = a2.y;
  c.basis.push_back({m.metal_Z, 0, 0, m.chalcogen_dz / 2, Sublattice::metal});
  c.basis.push_back({m.chalcogen_Z, 1.0 / 3, 1.0 / 3, 0, Sublattice::chalcogen});
  c.basis.push_back({m.chalcogen_Z, 1.0 / 3, 1.0 / 3, m.chalcogen_dz, Sublattice::chalcogen});
  return c;
}

Structure build_1t_double_prime(const TriclinicSpec& spec) {
  const std::string who = "1T'' layer";
  const Material& m = material(spec.material);
  if (!triclinic_layer(m.name)) throw ConfigError(who + ": material: expected ReS2 or ReSe2, found " + m.name + " (build it with build_stack)");
  check_finite(spec.rotation_deg, who + ": rotation_deg");
  check_extent(spec.extent_x, spec.extent_y, who);
  validate(AlloySpec{}, spec.defects, who);
  if (spec.defects.chalcogen_double_vacancy > 0)
    throw ConfigError(who + ": defects.chalcogen_double_vacancy: expected 0 (in a 1T'' layer each chalcogen is its own "
                            "column; use chalcogen_single_vacancy), found " + number(spec.defects.chalcogen_double_vacancy));
  // A one-layer 1T'' stack: the same sites, site keys and defects.
  StackSpec k;
  k.material = m.name;
  k.layers = 1;
  k.rotation_deg = spec.rotation_deg;
  k.defects = spec.defects;
  k.extent_x = spec.extent_x, k.extent_y = spec.extent_y;
  k.seed = spec.seed;
  Structure s = build_stack(k);
  s.description = m.name + " 1T'' monolayer rotation=" + number(spec.rotation_deg) + " " + number(spec.extent_x) + "x" +
                  number(spec.extent_y) + " A" + random_suffix(AlloySpec{}, spec.defects, spec.seed);
  return s;
}

Structure build_polycrystal(const PolycrystalSpec& spec) {
  const std::string who = "polycrystal";
  const Material& m = material(spec.material);
  if (triclinic_layer(m.name))
    throw ConfigError(who + ": material: expected an MX2 1H material (MoS2, WS2, MoSe2, WSe2), found " + m.name);
  if (spec.domains < 1) throw ConfigError(who + ": domains: expected at least 1, found " + std::to_string(spec.domains));
  const auto nd = std::size_t(spec.domains);
  if (!spec.phi_deg.empty() && spec.phi_deg.size() != nd)
    throw ConfigError(who + ": phi_deg: expected none or one per domain (" + std::to_string(nd) + "), found " +
                      std::to_string(spec.phi_deg.size()));
  if (spec.centre_x.size() != spec.centre_y.size() || (!spec.centre_x.empty() && spec.centre_x.size() != nd))
    throw ConfigError(who + ": centre_x, centre_y: expected none or one each per domain (" + std::to_string(nd) +
                      "), found " + std::to_string(spec.centre_x.size()) + " and " + std::to_string(spec.centre_y.size()));
  for (double v : spec.phi_deg) check_finite(v, who + ": phi_deg");
  for (double v : spec.centre_x) check_finite(v, who + ": centre_x");
  for (double v : spec.centre_y) check_finite(v, who + ": centre_y");
  if (!(spec.min_distance >= 0) || !std::isfinite(spec.min_distance))
    throw ConfigError(who + ": min_distance: expected a non-negative distance (Angstrom), found " + number(spec.min_distance));
  check_extent(spec.extent_x, spec.extent_y, who);
  validate(spec.alloy, spec.defects, who);

  const double ex = spec.extent_x, ey = spec.extent_y;
  std::vector<Domain> domains(nd);
  for (std::size_t d = 0; d < nd; ++d) {
    Domain& dom = domains[d];
    dom.id = std::int32_t(d);
    dom.phi_deg = spec.phi_deg.empty() ? 120.0 * rng::uniform(rng::key(spec.seed, domain_phi, d))
                                       : positive_mod(spec.phi_deg[d], 120.0);
    dom.centre_x = spec.centre_x.empty() ? ex * rng::uniform(rng::key(spec.seed, domain_centre, d, 0)) : spec.centre_x[d];
    dom.centre_y = spec.centre_y.empty() ? ey * rng::uniform(rng::key(spec.seed, domain_centre, d, 1)) : spec.centre_y[d];
  }
  std::vector<Site> sites;
  for (std::size_t d = 0; d < nd; ++d) {
    const auto cell = voronoi_cell(domains, d, ex, ey);
    if (cell.empty()) continue;
    Vec2 lo = cell[0], hi = cell[0];
    for (const auto& p : cell) lo = {std::min(lo.x, p.x), std::min(lo.y, p.y)}, hi = {std::max(hi.x, p.x), std::max(hi.y, p.y)};
    const Vec2 pad{m.a, m.a};  // the exact test is nearest_seed; the box only bounds the loop
    add_1h_layer(sites, m, Vec2{domains[d].centre_x, domains[d].centre_y}, domains[d].phi_deg, 0, std::int32_t(d),
                 m.chalcogen_dz / 2, ex, ey, lo - pad, hi + pad,
                 [&](Vec2 q) { return nearest_seed(domains, q.x, q.y) == d; });
  }
  drop_boundary_overlaps(sites, spec.min_distance, ex, ey);
  Structure s;
  s.extent_x = ex, s.extent_y = ey;
  assemble(sites, spec.alloy, spec.defects, spec.seed, s);
  s.domains = std::move(domains);
  s.description = m.name + " polycrystal " + std::to_string(nd) + " domains min_distance=" + number(spec.min_distance) + " " +
                  number(ex) + "x" + number(ey) + " A" + random_suffix(spec.alloy, spec.defects, spec.seed);
  if (s.description.find(" seed=") == std::string::npos && (spec.phi_deg.empty() || spec.centre_x.empty()))
    s.description += " seed=" + std::to_string(spec.seed);
  return s;
}

void add_surface_contamination(Structure& s, double density_per_A2, std::uint64_t seed) {
  if (!(density_per_A2 > 0)) return;
  double ztop = 0;
  for (std::size_t k = 0; k < s.atoms.size(); ++k) ztop = k == 0 ? s.atoms[k].z : std::max(ztop, s.atoms[k].z);
  add_amorphous_layer(s, 6, density_per_A2, ztop + 1.5, 6.0, 1.3, rng::key(seed, 0x636f6e74ULL));
}

std::int32_t domain_at(const Structure& s, double x, double y) {
  if (s.domains.empty()) return 0;
  return s.domains[nearest_seed(s.domains, x, y)].id;
}

void add_amorphous_layer(Structure& s, int Z, double density_per_A2, double z0, double thickness, double min_distance,
                         std::uint64_t seed) {
  const std::string who = "amorphous layer";
  if (Z < 1 || Z > 103) throw ConfigError(who + ": Z: expected an atomic number 1..103, found " + std::to_string(Z));
  if (!(density_per_A2 >= 0) || !std::isfinite(density_per_A2))
    throw ConfigError(who + ": density: expected a non-negative number of atoms per A^2, found " + number(density_per_A2));
  if (!(thickness >= 0) || !std::isfinite(thickness) || !std::isfinite(z0))
    throw ConfigError(who + ": slab: expected finite z0 and a non-negative thickness (Angstrom), found z0 = " + number(z0) +
                      ", thickness = " + number(thickness));
  if (!(min_distance >= 0) || !std::isfinite(min_distance))
    throw ConfigError(who + ": min_distance: expected a non-negative distance (Angstrom), found " + number(min_distance));
  check_extent(s.extent_x, s.extent_y, who);
  const double ex = s.extent_x, ey = s.extent_y;
  const auto n = std::size_t(std::llround(density_per_A2 * ex * ey));
  if (n == 0) return;

  // Random sequential addition: uniform candidates, rejected when closer than min_distance (in 3-D)
  // to an atom already placed, found through a 2-D cell list with cells at least min_distance wide.
  rng::Stream draw(rng::key(seed, amorphous, std::uint64_t(Z)));
  const double cell = std::max(min_distance, std::sqrt(ex * ey / double(n)));
  const int nx = std::max(1, int(std::ceil(ex / cell))), ny = std::max(1, int(std::ceil(ey / cell)));
  std::vector<std::int32_t> head(std::size_t(nx) * ny, -1), next;
  std::vector<double> px, py, pz;
  next.reserve(n), px.reserve(n), py.reserve(n), pz.reserve(n);
  const double md2 = min_distance * min_distance;
  const std::size_t max_tries = 100 * n + 1000;
  for (std::size_t tries = 0; px.size() < n && tries < max_tries; ++tries) {
    const double x = ex * draw.uniform(), y = ey * draw.uniform(), z = z0 + thickness * draw.uniform();
    const int i = std::min(nx - 1, int(x / cell)), j = std::min(ny - 1, int(y / cell));
    bool free = true;
    for (int jj = std::max(0, j - 1); jj <= std::min(ny - 1, j + 1) && free; ++jj)
      for (int ii = std::max(0, i - 1); ii <= std::min(nx - 1, i + 1) && free; ++ii)
        for (auto k = head[std::size_t(jj) * nx + ii]; k >= 0 && free; k = next[std::size_t(k)]) {
          const double dx = px[k] - x, dy = py[k] - y, dz = pz[k] - z;
          free = dx * dx + dy * dy + dz * dz >= md2;
        }
    if (!free) continue;
    const std::size_t c = std::size_t(j) * nx + i;
    next.push_back(head[c]);
    head[c] = std::int32_t(px.size());
    px.push_back(x), py.push_back(y), pz.push_back(z);
  }
  if (px.size() < n)
    throw ConfigError(who + ": placed only " + std::to_string(px.size()) + " of " + std::to_string(n) + " atoms: " +
                      number(density_per_A2) + " atoms/A^2 in a " + number(thickness) + " A slab is too dense for min_distance " +
                      number(min_distance) + " A");
  s.atoms.reserve(s.atoms.size() + n);
  for (std::size_t k = 0; k < n; ++k) {
    Atom a;
    a.Z = Z, a.x = px[k], a.y = py[k], a.z = pz[k];
    a.layer = -1, a.domain = 0, a.sublattice = Sublattice::other, a.column = -1;
    s.atoms.push_back(a);
  }
  s.description += " + amorphous " + element_symbol(Z) + " " + number(density_per_A2) + "/A^2 z=[" + number(z0) + "," +
                   number(z0 + thickness) + "] A seed=" + std::to_string(seed);
}

}  // namespace tmdflow::sim
