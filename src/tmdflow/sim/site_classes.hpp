#pragma once
// The nine site classes of an MX2 alloy monolayer M(1-x)M'(x) X2(1-y) Y2y seen along c (issue #17;
// data_schema/atoms.md): metal sites hold M, M' or nothing; chalcogen columns hold two atoms (top
// and bottom) of X or Y, one of them, or none. Classes 0-2 live on the metal sublattice, 3-8 on the
// chalcogen one: the sublattice constraint of classify-sites.
#include <array>
#include <string>
#include <vector>

#include "tmdflow/sim/structure.hpp"

namespace tmdflow::sim {

enum SiteClass : int { host_metal = 0, alloy_metal = 1, metal_vacancy_site = 2, host_pair = 3, mixed_pair = 4, alloy_pair = 5,
                       host_single = 6, alloy_single = 7, chalcogen_vacancy_site = 8 };
constexpr int kSiteClasses = 9;
constexpr int kMetalClasses = 3;  // classes 0 .. 2
inline bool is_metal_class(int c) { return c >= 0 && c < kMetalClasses; }
/// Classes whose site holds no atom.
inline bool is_empty_class(int c) { return c == metal_vacancy_site || c == chalcogen_vacancy_site; }

/// The four elements of an alloy: host and alloying metal, host and alloying chalcogen.
struct AlloyElements {
  int metal_Z = 42, metal_alloy_Z = 74, chalcogen_Z = 16, chalcogen_alloy_Z = 34;
};

/// "Mo", "W", "V_M", "S2", "SSe", "Se2", "S", "Se", "V_X2" for Mo/W/S/Se.
std::vector<std::string> site_class_names(const AlloyElements& e);

/// The class of a column of a 1H layer built with these elements; -1 for a column that holds
/// another element (a dopant).
int site_class(const Column& c, const AlloyElements& e);

}  // namespace tmdflow::sim
