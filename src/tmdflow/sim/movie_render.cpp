#include "tmdflow/sim/movie_render.hpp"

#include <algorithm>
#include <cmath>

#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/random.hpp"
#include "tmdflow/sim/realism.hpp"

namespace tmdflow::sim {

namespace {
enum MovieKey : std::uint64_t { scan = 0x6d6f766965ULL, noise };
}

MovieGeometry movie_geometry(const MovieSpec& spec) {
  if (spec.frames < 1) throw ConfigError("frames: expected at least 1, found " + std::to_string(spec.frames));
  if (!std::isfinite(spec.drift_x_A) || !std::isfinite(spec.drift_y_A) || !(spec.jitter_A >= 0 && spec.jitter_A < 1e3))
    throw ConfigError("drift-A-per-frame, jitter-A: expected finite values, jitter >= 0");
  MovieGeometry g;
  g.ny = spec.adf.ny;
  g.nx = spec.adf.nx;
  g.frames = spec.frames;
  g.pixel_A = spec.adf.pixel_A;
  g.drift_x_A = spec.drift_x_A;
  g.drift_y_A = spec.drift_y_A;
  const double p = g.pixel_A, room = std::max(0.0, spec.adf.margin_A) + 2.0, jitter = 4 * spec.jitter_A;
  // The scan sees the structure shifted by up to frames * drift (the last frame ends at t = frames).
  const double total_x = spec.frames * spec.drift_x_A, total_y = spec.frames * spec.drift_y_A;
  g.x0 = room + p + jitter + std::max(0.0, total_x);
  g.y0 = room + p + std::max(0.0, total_y);
  g.render = spec.adf;
  g.render.x0 = room;
  g.render.y0 = room;
  g.render.nx = int(std::ceil(((g.nx - 1) * p + std::abs(total_x) + 2 * jitter + 2 * p) / p)) + 1;
  g.render.ny = int(std::ceil(((g.ny - 1) * p + std::abs(total_y) + 2 * p) / p)) + 1;
  g.extent_x = 2 * room + g.render.nx * p;
  g.extent_y = 2 * room + g.render.ny * p;
  return g;
}

void MovieGeometry::pixel_of(double x, double y, int frame, double& col, double& row) const {
  // Solve x = x0 + col p - (frame + t) drift_x (and y) with t = (row nx + col) / (ny nx - 1): t moves
  // by under one frame's drift / (nx ny) per pixel, so a few fixed-point steps converge.
  const double last = std::max(1.0, double(ny) * nx - 1.0);
  double t = 0;
  for (int it = 0; it < 4; ++it) {
    col = (x - x0 + (frame + t) * drift_x_A) / pixel_A;
    row = (y - y0 + (frame + t) * drift_y_A) / pixel_A;
    t = std::clamp((std::round(row) * nx + col) / last, 0.0, 1.0);
  }
}

bool MovieGeometry::in_field(double col, double row) const { return col >= -0.5 && col < nx - 0.5 && row >= -0.5 && row < ny - 0.5; }

double MovieGeometry::edge_distance_A(double col, double row) const {
  return pixel_A * std::min({col + 0.5, nx - 0.5 - col, row + 0.5, ny - 0.5 - row});
}

void MovieGeometry::drift_px(int frame, double& row, double& col) const {
  row = frame * drift_y_A / pixel_A;
  col = frame * drift_x_A / pixel_A;
}

MovieRenderer::MovieRenderer(const MovieSpec& spec, const MovieGeometry& geometry, const Structure& full, const DefectLattice& lattice)
    : spec_(spec), geometry_(geometry), full_(full), simulator_(geometry.render) {
  std::vector<std::int64_t> site_of_column(full.columns.size(), -1);
  for (std::size_t i = 0; i < lattice.chalcogens(); ++i) site_of_column[std::size_t(lattice.chalcogen_columns[i])] = std::int64_t(i);
  slots_ = 2 * lattice.chalcogens();
  // Slot 0 is a column's top atom (smaller z), slot 1 its bottom one.
  std::vector<double> z_min(full.columns.size(), HUGE_VAL);
  for (const Atom& a : full.atoms)
    if (a.column >= 0) z_min[std::size_t(a.column)] = std::min(z_min[std::size_t(a.column)], a.z);
  atom_slot_.assign(full.atoms.size(), -1);
  for (std::size_t k = 0; k < full.atoms.size(); ++k) {
    const Atom& a = full.atoms[k];
    if (a.column < 0 || site_of_column[std::size_t(a.column)] < 0) continue;
    atom_slot_[k] = site_of_column[std::size_t(a.column)] * 2 + (a.z > z_min[std::size_t(a.column)] ? 1 : 0);
  }
}

Structure MovieRenderer::with_vacancies(const std::vector<KmcVacancy>& vacancies) const {
  std::vector<std::uint8_t> vacant(slots_, 0);
  for (const auto& v : vacancies) vacant[std::size_t(v.site) * 2 + std::size_t(v.slot)] = 1;
  Structure s;
  s.extent_x = full_.extent_x;
  s.extent_y = full_.extent_y;
  s.atoms.reserve(full_.atoms.size());
  for (std::size_t k = 0; k < full_.atoms.size(); ++k)
    if (atom_slot_[k] < 0 || !vacant[std::size_t(atom_slot_[k])]) s.atoms.push_back(full_.atoms[k]);
  return s;
}

const float* MovieRenderer::padded_image(const std::vector<KmcVacancy>& vacancies) { return simulator_.padded_image(with_vacancies(vacancies)); }

void MovieRenderer::render(int frame, const std::vector<KmcVacancy>& vacancies, float* out) {
  const float* padded = padded_image(vacancies);
  const MovieGeometry& g = geometry_;
  // The scan in the structure frame: it starts where the drift has carried the sample, and the
  // sample moves on while the frame is scanned (realism.hpp's drift, of the opposite sign).
  ScanDistortion d;
  d.drift_x_A = -g.drift_x_A;
  d.drift_y_A = -g.drift_y_A;
  d.jitter_A = spec_.jitter_A;
  scan_positions(d, g.ny, g.nx, g.pixel_A, g.x0 - frame * g.drift_x_A, g.y0 - frame * g.drift_y_A, rng::key(spec_.seed, scan, std::uint64_t(frame)),
                 xs_, ys_);
  resample_bicubic(padded, simulator_.padded_grid(), xs_.data(), ys_.data(), xs_.size(), out);
  const std::size_t n = std::size_t(g.ny) * std::size_t(g.nx);
  if (spec_.dose_e_per_A2 > 0 || spec_.read_noise > 0)
    add_counting_noise(out, n, spec_.dose_e_per_A2 * g.pixel_A * g.pixel_A, spec_.read_noise, rng::key(spec_.seed, noise, std::uint64_t(frame)));
}

}  // namespace tmdflow::sim
