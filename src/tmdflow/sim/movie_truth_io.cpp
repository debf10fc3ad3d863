#include "tmdflow/sim/movie_truth_io.hpp"

#include <cmath>
#include <limits>

namespace tmdflow::sim {

namespace {
constexpr int kClasses = 3;

template <class T, class Row, class F>
std::vector<T> field(const std::vector<Row>& rows, F f) {
  std::vector<T> v;
  v.reserve(rows.size());
  for (const auto& r : rows) v.push_back(static_cast<T>(f(r)));
  return v;
}

PixelPosition locate(const MovieGeometry& g, double x, double y, int frame) {
  PixelPosition p;
  g.pixel_of(x, y, frame, p.col, p.row);
  p.in_field = g.in_field(p.col, p.row);
  return p;
}
}  // namespace

MovieTruthTables movie_truth_tables(const MovieTruth& truth, const MovieGeometry& geometry, const KmcTrajectory& trajectory) {
  MovieTruthTables t;
  t.frames = int(trajectory.frames.size());
  t.dopants = std::int64_t(truth.dopant_sites().size());
  for (int f = 0; f < t.frames; ++f) {
    for (const auto& d : truth.defects(f, trajectory.frames[std::size_t(f)])) {
      t.defects.push_back(d);
      t.defect_px.push_back(locate(geometry, d.x_A, d.y_A, f));
    }
    for (const auto& v : truth.vacancies(f, trajectory.frames[std::size_t(f)])) {
      t.vacancies.push_back(v);
      t.vacancy_px.push_back(locate(geometry, v.x_A, v.y_A, f));
    }
  }
  return t;
}

std::vector<std::vector<int>> complex_sequences(const MovieTruthTables& t) {
  std::vector<std::vector<int>> seq(std::size_t(t.dopants), std::vector<int>(std::size_t(t.frames), -1));
  for (std::size_t k = 0; k < t.defects.size(); ++k) {
    const auto& d = t.defects[k];
    if (d.defect_class == DefectClass::dopant && t.defect_px[k].in_field) seq[std::size_t(d.identity)][std::size_t(d.frame)] = d.complex;
  }
  return seq;
}

std::vector<std::int64_t> class_populations(const MovieTruthTables& t) {
  std::vector<std::int64_t> p(std::size_t(t.frames) * kClasses, 0);
  for (std::size_t k = 0; k < t.defects.size(); ++k)
    if (t.defect_px[k].in_field) ++p[std::size_t(t.defects[k].frame) * kClasses + std::size_t(t.defects[k].defect_class)];
  return p;
}

std::vector<std::int64_t> complex_populations(const MovieTruthTables& t) {
  std::vector<std::int64_t> p(std::size_t(t.frames) * kComplexes, 0);
  for (std::size_t k = 0; k < t.defects.size(); ++k)
    if (t.defect_px[k].in_field && t.defects[k].complex >= 0) ++p[std::size_t(t.defects[k].frame) * kComplexes + std::size_t(t.defects[k].complex)];
  return p;
}

void write_movie_truth(const io::h5::Group& truth, const MovieTruthTables& t, const KmcTrajectory& trajectory, const DefectLattice& lattice,
                       const Structure& structure, const MovieGeometry& geometry) {
  const io::h5::Group d = truth.create_group("defects");
  d.set_attr("rows", "one per defect site and frame: defective chalcogen columns, then dopants, frame by frame");
  d.write_vector("frame", field<std::int32_t>(t.defects, [](const TruthDefect& r) { return r.frame; }));
  d.write_vector("x_px", field<float>(t.defect_px, [](const PixelPosition& p) { return p.col; })).set_attr("units", "pixels");
  d.write_vector("y_px", field<float>(t.defect_px, [](const PixelPosition& p) { return p.row; })).set_attr("units", "pixels");
  d.write_vector("x_A", field<double>(t.defects, [](const TruthDefect& r) { return r.x_A; })).set_attr("units", "A");
  d.write_vector("y_A", field<double>(t.defects, [](const TruthDefect& r) { return r.y_A; })).set_attr("units", "A");
  d.write_vector("defect_class", field<std::int8_t>(t.defects, [](const TruthDefect& r) { return std::int8_t(r.defect_class); }));
  d.write_vector("complex", field<std::int8_t>(t.defects, [](const TruthDefect& r) { return r.complex; }));
  d.write_vector("missing", field<std::int8_t>(t.defects, [](const TruthDefect& r) { return r.missing; }));
  d.write_vector("identity", field<std::int32_t>(t.defects, [](const TruthDefect& r) { return r.identity; }));
  d.write_vector("vacancy_top", field<std::int32_t>(t.defects, [](const TruthDefect& r) { return r.vacancy_top; }));
  d.write_vector("vacancy_bottom", field<std::int32_t>(t.defects, [](const TruthDefect& r) { return r.vacancy_bottom; }));
  d.write_vector("column", field<std::int32_t>(t.defects, [](const TruthDefect& r) { return r.column; }));
  d.write_vector("in_field", field<std::int8_t>(t.defect_px, [](const PixelPosition& p) { return p.in_field ? 1 : 0; }));

  const io::h5::Group v = truth.create_group("vacancies");
  v.set_attr("rows", "one per vacancy (missing chalcogen atom) and frame");
  v.write_vector("frame", field<std::int32_t>(t.vacancies, [](const TruthVacancy& r) { return r.frame; }));
  v.write_vector("vacancy_id", field<std::int32_t>(t.vacancies, [](const TruthVacancy& r) { return r.id; }));
  v.write_vector("slot", field<std::int8_t>(t.vacancies, [](const TruthVacancy& r) { return r.slot; }))
      .set_attr("values", "0 top (entrance surface), 1 bottom (exit surface)");
  v.write_vector("column", field<std::int32_t>(t.vacancies, [](const TruthVacancy& r) { return r.column; }));
  v.write_vector("x_px", field<float>(t.vacancy_px, [](const PixelPosition& p) { return p.col; })).set_attr("units", "pixels");
  v.write_vector("y_px", field<float>(t.vacancy_px, [](const PixelPosition& p) { return p.row; })).set_attr("units", "pixels");
  v.write_vector("x_A", field<double>(t.vacancies, [](const TruthVacancy& r) { return r.x_A; })).set_attr("units", "A");
  v.write_vector("y_A", field<double>(t.vacancies, [](const TruthVacancy& r) { return r.y_A; })).set_attr("units", "A");
  v.write_vector("isolated", field<std::int8_t>(t.vacancies, [](const TruthVacancy& r) { return r.isolated ? 1 : 0; }));
  v.write_vector("in_field", field<std::int8_t>(t.vacancy_px, [](const PixelPosition& p) { return p.in_field ? 1 : 0; }));

  const io::h5::Group e = truth.create_group("events");
  const auto& ev = trajectory.events;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto column_of = [&](std::int32_t site) { return site < 0 ? -1 : lattice.chalcogen_columns[std::size_t(site)]; };
  auto x_of = [&](std::int32_t site) { return site < 0 ? nan : structure.columns[std::size_t(column_of(site))].x; };
  auto y_of = [&](std::int32_t site) { return site < 0 ? nan : structure.columns[std::size_t(column_of(site))].y; };
  e.write_vector("time_frames", field<double>(ev, [](const KmcEvent& r) { return r.time_frames; })).set_attr("units", "frames");
  e.write_vector("step", field<std::int32_t>(ev, [](const KmcEvent& r) { return std::int32_t(std::ceil(r.time_frames)) - 1; }))
      .set_attr("meaning", "the event happened between frames step and step + 1");
  e.write_vector("kind", field<std::int8_t>(ev, [](const KmcEvent& r) { return std::int8_t(r.kind); })).set_attr("values", "0 creation (sputtering), 1 hop");
  e.write_vector("vacancy_id", field<std::int32_t>(ev, [](const KmcEvent& r) { return r.vacancy; }));
  e.write_vector("slot", field<std::int8_t>(ev, [](const KmcEvent& r) { return r.slot; }));
  e.write_vector("from_column", field<std::int32_t>(ev, [&](const KmcEvent& r) { return column_of(r.from); }));
  e.write_vector("to_column", field<std::int32_t>(ev, [&](const KmcEvent& r) { return column_of(r.to); }));
  e.write_vector("from_x_A", field<double>(ev, [&](const KmcEvent& r) { return x_of(r.from); })).set_attr("units", "A");
  e.write_vector("from_y_A", field<double>(ev, [&](const KmcEvent& r) { return y_of(r.from); })).set_attr("units", "A");
  e.write_vector("to_x_A", field<double>(ev, [&](const KmcEvent& r) { return x_of(r.to); })).set_attr("units", "A");
  e.write_vector("to_y_A", field<double>(ev, [&](const KmcEvent& r) { return y_of(r.to); })).set_attr("units", "A");

  std::vector<double> drift(std::size_t(t.frames) * 2);
  for (int f = 0; f < t.frames; ++f) geometry.drift_px(f, drift[std::size_t(f) * 2], drift[std::size_t(f) * 2 + 1]);
  truth.write_array("drift_px", drift, {t.frames, 2}).set_attr("meaning", "(row, col) shift of the content from frame 0 at each frame's start");
  truth.write_array("class_populations", class_populations(t), {t.frames, kClasses}).set_attr("meaning", "defects of each class in the field");
  truth.write_array("complex_populations", complex_populations(t), {t.frames, kComplexes}).set_attr("meaning", "dopants in the field in each complex");
}

}  // namespace tmdflow::sim
