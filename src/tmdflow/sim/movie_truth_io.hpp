#pragma once
// The ground truth of a simulated defect movie as tables (one row per defect or vacancy and frame,
// with where it shows in that frame's pixels) and their HDF5 form, the `truth/` group of the
// movie/1 product (data_schema/dynamics.md). Every rank holds the same tables; writing is collective.
#include <string>
#include <vector>

#include "tmdflow/io/h5.hpp"
#include "tmdflow/sim/movie_kmc.hpp"
#include "tmdflow/sim/movie_render.hpp"
#include "tmdflow/sim/movie_truth.hpp"

namespace tmdflow::sim {

struct PixelPosition {
  double col = 0, row = 0;   // continuous pixel (x axis, y axis) in its frame
  bool in_field = false;
};

struct MovieTruthTables {
  std::vector<TruthDefect> defects;
  std::vector<PixelPosition> defect_px;
  std::vector<TruthVacancy> vacancies;
  std::vector<PixelPosition> vacancy_px;
  int frames = 0;
  std::int64_t dopants = 0;
};

MovieTruthTables movie_truth_tables(const MovieTruth& truth, const MovieGeometry& geometry, const KmcTrajectory& trajectory);

/// Per dopant (identity 0..D-1), its complex in each frame where it is in the field, else -1: the
/// sequences of the transition estimator.
std::vector<std::vector<int>> complex_sequences(const MovieTruthTables& tables);

/// Per frame, the number of defects of each class in the field ([frames * 3]) and of dopants in
/// each complex ([frames * 4]).
std::vector<std::int64_t> class_populations(const MovieTruthTables& tables);
std::vector<std::int64_t> complex_populations(const MovieTruthTables& tables);

/// Writes defects/, vacancies/, events/, drift_px and the populations into `truth` (collective).
void write_movie_truth(const io::h5::Group& truth, const MovieTruthTables& tables, const KmcTrajectory& trajectory,
                       const DefectLattice& lattice, const Structure& structure, const MovieGeometry& geometry);

}  // namespace tmdflow::sim
