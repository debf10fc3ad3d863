#pragma once
// The frames of a simulated defect movie (stage simulate-movie; data_schema/dynamics.md): each frame
// is the incoherent ADF image (adf.hpp) of the monolayer with the KMC's vacancies of that frame,
// scanned under drift and line jitter and counted with Poisson noise at the frame's dose
// (realism.hpp). The sample drifts steadily: its content moves by (drift_x, drift_y) Angstrom per
// frame across the image, during a frame's scan as well as between frames, so frame k's probe at
// pixel (i, j) sees the structure at
//     x = x0 + j p - (k + t) drift_x + jitter_x(i),   y = y0 + i p - (k + t) drift_y + jitter_y(i),
// with t = (i nx + j) / (ny nx - 1) the scan's progress through the frame (0..1) and p the pixel size.
#include <cstdint>
#include <vector>

#include "tmdflow/sim/adf.hpp"
#include "tmdflow/sim/defect_lattice.hpp"
#include "tmdflow/sim/movie_kmc.hpp"

namespace tmdflow::sim {

struct MovieSpec {
  AdfSpec adf;                      // probe, detector angles, ny, nx, pixel_A (its x0, y0 are not used)
  int frames = 20;
  double drift_x_A = 0, drift_y_A = 0;  // per frame
  double jitter_A = 0;              // rms shift of each scan line along x
  double dose_e_per_A2 = 0;         // per frame; 0: noise-free fractions of the beam
  double read_noise = 0;            // detected electrons rms per pixel
  std::uint64_t seed = 1;
};

/// Where the frames lie in the structure, and the field to build.
struct MovieGeometry {
  int ny = 0, nx = 0, frames = 0;
  double pixel_A = 0;
  double x0 = 0, y0 = 0;            // structure position of frame 0's pixel (0, 0) at the scan's start
  double drift_x_A = 0, drift_y_A = 0;
  double extent_x = 0, extent_y = 0;  // the structure to build: [0, extent) holds every frame's view
  AdfSpec render;                   // the simulator's grid: every probe position of every frame
  /// Continuous pixel (col = x axis, row = y axis) where structure point (x, y) shows in `frame`
  /// (drift within the frame included, jitter not).
  void pixel_of(double x, double y, int frame, double& col, double& row) const;
  /// The pixel lies in the image ([-0.5, n - 0.5) on both axes).
  bool in_field(double col, double row) const;
  /// Distance (Angstrom) from the pixel to the image's nearest edge (negative outside).
  double edge_distance_A(double col, double row) const;
  /// The content's shift from frame 0 at the start of `frame`, in pixels (row, col).
  void drift_px(int frame, double& row, double& col) const;
};
MovieGeometry movie_geometry(const MovieSpec& spec);

class MovieRenderer {
 public:
  /// `full`: the monolayer with every chalcogen atom present (dopants in place); `lattice` its
  /// bond graph. Plans the simulator once (rank-local).
  MovieRenderer(const MovieSpec& spec, const MovieGeometry& geometry, const Structure& full, const DefectLattice& lattice);
  /// Frame `frame` of the movie showing `vacancies` (ny x nx, row-major).
  void render(int frame, const std::vector<KmcVacancy>& vacancies, float* out);
  /// The noise-free, undistorted image of the structure with `vacancies` on the render grid
  /// (tests: contrast at a vacancy).
  const float* padded_image(const std::vector<KmcVacancy>& vacancies);
  const Grid& padded_grid() const { return simulator_.padded_grid(); }

 private:
  Structure with_vacancies(const std::vector<KmcVacancy>& vacancies) const;

  MovieSpec spec_;
  MovieGeometry geometry_;
  const Structure& full_;
  std::vector<std::int64_t> atom_slot_;  // per atom: chalcogen site * 2 + slot, -1 for other atoms
  std::size_t slots_ = 0;
  AdfSimulator simulator_;
  std::vector<double> xs_, ys_;
};

}  // namespace tmdflow::sim
