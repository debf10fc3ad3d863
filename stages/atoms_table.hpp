#pragma once
// The atoms/1 product (data_schema/atoms.md) as a table: written by classify-sites, read and
// written again with the instability columns by site-instability.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/analysis/atoms/site_classification.hpp"
#include "stage.hpp"
#include "tmdflow/io/h5.hpp"

namespace tmdflow::stages {

constexpr int kSiteClassCount = analysis::atoms::kClasses;

struct AtomsRow {
  std::int32_t frame = 0;
  float x = 0, y = 0;
  std::int8_t cls = -1, unconstrained = -1, network = -1, sublattice = -1, found = 1;
  std::array<float, kSiteClassCount> probability{};
};

struct AtomsTable {
  std::string source, columns;  // the images; the segment-atoms product
  std::int64_t frames = 0, height = 0, width = 0;
  double pixel_A = 0;
  std::vector<std::string> class_names;
  std::vector<AtomsRow> rows;                 // sorted by frame
  double composition_radius_A = 0, composition_step_A = 0;
  std::int64_t grid_ny = 0, grid_nx = 0;
  std::vector<float> composition_x, composition_y;  // frames x grid_ny x grid_nx
  /// Per frame: the intensity model (fitted 0/1, background, k of the four elements, sd metal, sd chalcogen).
  std::vector<double> intensity_model;  // frames x 8
  std::vector<std::int64_t> counts() const;   // frames x classes
};

/// Writes the table (collective; every rank holds all of it) into the product group.
void write_atoms_table(const io::h5::Group& g, const AtomsTable& t);
/// Reads an atoms/1 product ("FILE[:/group]", default /atoms); InputError naming the file and
/// dataset for anything missing or of the wrong shape.
AtomsTable read_atoms_table(const std::string& spec);

/// PNGs of image 0 (figures: "auto" = figures/ beside the output, else a folder): every site in
/// its class's colour, defects as crosses (<stem>_sites.png), and the composition maps
/// (<stem>_composition.png). `images` empty: the table's source.
void write_atoms_figures(const StageContext& ctx, const AtomsTable& t, const std::string& images, const std::string& figures);

/// The classes counted as defects (the defect table): V_M, the single chalcogens, V_X2.
bool is_defect_class(int site_class);

}  // namespace tmdflow::stages
