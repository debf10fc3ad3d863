// The defect-dynamics simulation (sim/defect_lattice, movie_kmc, movie_truth, movie_render): the bond
// graph of a monolayer, the energy model and its rates (detailed balance, the free and bound hop
// rates), trajectories that replay from their events, the classes of the ground truth, and frames
// whose truth positions land on the columns and that darken where an atom is missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/units.hpp"
#include "tmdflow/sim/movie_render.hpp"
#include "tmdflow/sim/movie_truth.hpp"
#include "tmdflow/sim/random.hpp"

using namespace tmdflow::sim;

namespace {

Structure monolayer(double extent, double phi = 30, double dopant = 0, std::uint64_t seed = 1) {
  StackSpec k;
  k.material = "WS2";
  k.layers = 1;
  k.phi_deg = phi;
  k.extent_x = k.extent_y = extent;
  k.defects.dopant_Z = 42;
  k.defects.dopant_fraction = dopant;
  k.seed = seed;
  return build_stack(k);
}

bool interior(const Structure& s, const Column& c, double margin) {
  return c.x > margin && c.y > margin && c.x < s.extent_x - margin && c.y < s.extent_y - margin;
}

KmcSpec quiet_spec() {
  KmcSpec k;
  k.sputter_barn = 0;
  k.initial_single_vacancy = 0;
  return k;
}

}  // namespace

TEST(DefectLattice, SixChalcogenNeighboursByDirectionAndThreeMetals) {
  for (double phi : {30.0, 47.0}) {
    const Structure s = monolayer(40, phi);
    const Material& m = material("WS2");
    const DefectLattice g = defect_lattice(s, m, phi);
    ASSERT_GT(g.chalcogens(), 100u);
    int checked = 0;
    for (std::size_t i = 0; i < g.chalcogens(); ++i) {
      const Column& c = s.columns[std::size_t(g.chalcogen_columns[i])];
      if (!interior(s, c, 2.5 * m.a)) continue;
      ++checked;
      for (int d = 0; d < 6; ++d) {
        const std::int32_t n = g.chalcogen_neighbours[i][std::size_t(d)];
        ASSERT_GE(n, 0);
        const Column& o = s.columns[std::size_t(g.chalcogen_columns[std::size_t(n)])];
        const double angle = tmdflow::units::deg_to_rad(phi - 30 + 60 * d);
        EXPECT_NEAR(o.x - c.x, m.a * std::cos(angle), 1e-6);
        EXPECT_NEAR(o.y - c.y, m.a * std::sin(angle), 1e-6);
        EXPECT_EQ(g.chalcogen_neighbours[std::size_t(n)][std::size_t((d + 3) % 6)], std::int32_t(i));  // the way back
      }
      for (std::int32_t mi : g.chalcogen_metals[i]) {
        ASSERT_GE(mi, 0);
        const Column& o = s.columns[std::size_t(g.metal_columns[std::size_t(mi)])];
        EXPECT_NEAR(std::hypot(o.x - c.x, o.y - c.y), m.a / std::sqrt(3.0), 1e-6);
        const auto& back = g.metal_chalcogens[std::size_t(mi)];
        EXPECT_TRUE(back[0] == std::int32_t(i) || back[1] == std::int32_t(i) || back[2] == std::int32_t(i));
      }
    }
    EXPECT_GT(checked, 30);
  }
  StackSpec bilayer;
  bilayer.layers = 2;
  bilayer.extent_x = bilayer.extent_y = 20;
  EXPECT_THROW(defect_lattice(build_stack(bilayer), material("MoS2"), 30), tmdflow::ConfigError);
}

TEST(DefectKmc, HopEnergyIsTheChangeOfTheConfigurationEnergy) {
  const Structure s = monolayer(36, 30, 0.15, 4);
  const DefectLattice g = defect_lattice(s, material("WS2"), 30);
  KmcSpec k = quiet_spec();
  k.bind_dopant_eV = 0.13, k.bind_vacancy_eV = 0.07, k.bind_double_eV = 0.11, k.line_eV = 0.05;
  DefectKmc kmc(g, [&] {
    std::vector<std::uint8_t> d(g.metals());
    for (std::size_t m = 0; m < d.size(); ++m) d[m] = s.columns[std::size_t(g.metal_columns[m])].defect == DefectKind::dopant;
    return d;
  }(), k);
  int hops = 0;
  for (std::uint64_t trial = 0; trial < 6; ++trial) {
    std::vector<std::uint8_t> present(2 * g.chalcogens());
    for (std::size_t q = 0; q < present.size(); ++q) present[q] = rng::uniform(rng::key(99, trial, q)) < 0.25 ? 0 : 1;
    kmc.set_state(present);
    const double before = kmc.energy();
    for (std::size_t i = 0; i < g.chalcogens(); ++i)
      for (int slot = 0; slot < 2; ++slot) {
        if (present[2 * i + std::size_t(slot)]) continue;
        for (int d = 0; d < 6; ++d) {
          const std::int32_t j = g.chalcogen_neighbours[i][std::size_t(d)];
          if (j < 0 || !present[std::size_t(j) * 2 + std::size_t(slot)]) continue;
          const double de = kmc.hop_energy_change(std::int32_t(i), slot, d);
          const double rate = kmc.hop_rate(std::int32_t(i), slot, d);
          auto after = present;
          after[2 * i + std::size_t(slot)] = 1;
          after[std::size_t(j) * 2 + std::size_t(slot)] = 0;
          kmc.set_state(after);
          ASSERT_NEAR(kmc.energy() - before, de, 1e-12);
          // Detailed balance: the reverse hop's rate.
          const double back = kmc.hop_rate(j, slot, (d + 3) % 6);
          EXPECT_NEAR(rate / back, std::exp(-de / k.kT_eV), 1e-9 * rate / back);
          kmc.set_state(present);
          ++hops;
        }
      }
  }
  EXPECT_GT(hops, 500);
}

TEST(DefectKmc, FreeAndBoundHopRatesAndSputtering) {
  const Structure s = monolayer(36, 30, 0.0, 4);
  const DefectLattice g = defect_lattice(s, material("WS2"), 30);
  // One dopant, a vacancy next to it, and a free vacancy far away.
  std::size_t centre = 0;
  double best = 1e9;
  for (std::size_t m = 0; m < g.metals(); ++m) {
    const Column& c = s.columns[std::size_t(g.metal_columns[m])];
    const double r = std::hypot(c.x - 18, c.y - 18);
    if (r < best) best = r, centre = m;
  }
  std::vector<std::uint8_t> dopant(g.metals(), 0);
  dopant[centre] = 1;
  KmcSpec k = quiet_spec();
  k.hop_rate_per_frame = 0.04;
  k.sputter_barn = 2;
  k.dose_e_per_A2 = 1e5;
  k.sputter_entrance_ratio = 0.25;
  k.sputter_dopant_ratio = 3;
  DefectKmc kmc(g, dopant, k);
  const std::int32_t bound = g.metal_chalcogens[centre][0];
  std::int32_t free_site = -1;
  for (std::size_t i = 0; i < g.chalcogens(); ++i) {
    const Column& c = s.columns[std::size_t(g.chalcogen_columns[i])];
    if (interior(s, c, 3 * g.a) && std::hypot(c.x - 18, c.y - 18) > 10) free_site = std::int32_t(i);
  }
  ASSERT_GE(free_site, 0);
  std::vector<std::uint8_t> present(2 * g.chalcogens(), 1);
  present[std::size_t(bound) * 2 + 1] = 0;
  present[std::size_t(free_site) * 2 + 1] = 0;
  kmc.set_state(present);
  for (int d = 0; d < 6; ++d) EXPECT_DOUBLE_EQ(kmc.hop_rate(free_site, 1, d), 0.04);
  EXPECT_EQ(kmc.hop_rate(free_site, 0, 0), 0.0);  // no vacancy in the top slot
  int away = 0;
  for (int d = 0; d < 6; ++d) {
    const std::int32_t j = g.chalcogen_neighbours[std::size_t(bound)][std::size_t(d)];
    if (kmc.dopant_neighbours(j) == 0) {
      EXPECT_NEAR(kmc.hop_rate(bound, 1, d), 0.04 * std::exp(-k.bind_dopant_eV / k.kT_eV), 1e-15);
      ++away;
    } else {
      EXPECT_DOUBLE_EQ(kmc.hop_rate(bound, 1, d), 0.04);  // to another site bonded to the dopant
    }
  }
  EXPECT_EQ(away, 4);  // a chalcogen column shares its dopant with two of its six neighbours
  const double p = 2e-8 * 1e5;
  EXPECT_NEAR(kmc.sputter_rate(free_site, 0), 0.25 * p, 1e-15);
  EXPECT_EQ(kmc.sputter_rate(free_site, 1), 0.0);  // already gone
  EXPECT_NEAR(kmc.sputter_rate(bound, 0), 0.25 * 3 * p, 1e-15);
  const std::int32_t host = g.chalcogen_neighbours[std::size_t(free_site)][0];  // present, no dopant near
  ASSERT_EQ(kmc.dopant_neighbours(host), 0);
  EXPECT_NEAR(kmc.sputter_rate(host, 1), p, 1e-15);
  EXPECT_NEAR(kmc.sputter_rate(bound, 0) / kmc.sputter_rate(host, 0), 3.0, 1e-12);

  KmcSpec bad = k;
  bad.kT_eV = 0;
  EXPECT_THROW(validate(bad), tmdflow::ConfigError);
  bad = k;
  bad.initial_single_vacancy = 0.7, bad.initial_double_vacancy = 0.5;
  EXPECT_THROW(validate(bad), tmdflow::ConfigError);
  bad = k;
  bad.sputter_barn = 1e4;
  EXPECT_THROW(validate(bad), tmdflow::ConfigError);
}

TEST(DefectKmc, TrajectoryReplaysFromItsEventsAndIsDeterministic) {
  const Structure s = monolayer(45, 30, 0.05, 2);
  const DefectLattice g = defect_lattice(s, material("WS2"), 30);
  const auto dopant = lattice_dopants(g, s);
  KmcSpec k;
  k.frames = 25;
  k.sputter_barn = 20;  // many events in a small field
  k.hop_rate_per_frame = 0.2;
  k.line_eV = 0.05;
  k.initial_single_vacancy = 0.02;
  k.initial_double_vacancy = 0.01;
  k.seed = 11;
  const std::int32_t first = 7;
  DefectKmc kmc(g, dopant, k, first);
  const KmcTrajectory t = kmc.run();
  ASSERT_EQ(t.frames.size(), 25u);
  std::int64_t sputtered = 0, hops = 0;
  // Replay: a map (site, slot) -> vacancy id, advanced event by event and compared at every frame.
  std::map<std::pair<int, int>, int> state;
  for (const auto& v : t.frames[0]) state[{v.site, v.slot}] = v.id;
  EXPECT_EQ(std::int64_t(state.size()), t.initial_vacancies);
  for (const auto& v : t.frames[0]) EXPECT_GE(v.id, first);
  std::size_t e = 0;
  double last_time = 0;
  std::int32_t next_id = first + std::int32_t(t.initial_vacancies);
  for (int f = 1; f < k.frames; ++f) {
    for (; e < t.events.size() && t.events[e].time_frames <= f; ++e) {
      const KmcEvent& ev = t.events[e];
      EXPECT_GT(ev.time_frames, last_time);
      EXPECT_GT(ev.time_frames, f - 1);
      last_time = ev.time_frames;
      if (ev.kind == KmcEventKind::sputter) {
        ++sputtered;
        EXPECT_EQ(ev.vacancy, next_id++);  // identities in order of appearance
        EXPECT_EQ(state.count({ev.to, ev.slot}), 0u);
        state[{ev.to, ev.slot}] = ev.vacancy;
      } else {
        ++hops;
        auto it = state.find({ev.from, ev.slot});
        ASSERT_NE(it, state.end());
        EXPECT_EQ(it->second, ev.vacancy);
        const auto& nb = g.chalcogen_neighbours[std::size_t(ev.from)];
        EXPECT_TRUE(std::find(nb.begin(), nb.end(), ev.to) != nb.end()) << "a hop goes to a neighbouring column";
        EXPECT_EQ(state.count({ev.to, ev.slot}), 0u);
        state.erase(it);
        state[{ev.to, ev.slot}] = ev.vacancy;
      }
    }
    std::map<std::pair<int, int>, int> snap;
    for (const auto& v : t.frames[std::size_t(f)]) snap[{v.site, v.slot}] = v.id;
    ASSERT_EQ(snap, state) << "frame " << f;
  }
  EXPECT_EQ(e, t.events.size());
  EXPECT_GT(sputtered, 10);
  EXPECT_GT(hops, 50);
  EXPECT_EQ(std::int64_t(t.frames.back().size()), t.initial_vacancies + sputtered);
  // Same seed, same trajectory; another seed, another one.
  DefectKmc again(g, dopant, k, first);
  const KmcTrajectory t2 = again.run();
  ASSERT_EQ(t2.events.size(), t.events.size());
  for (std::size_t q = 0; q < t.events.size(); ++q) EXPECT_EQ(t2.events[q].time_frames, t.events[q].time_frames);
  k.seed = 12;
  DefectKmc other(g, dopant, k, first);
  const KmcTrajectory t3 = other.run();
  EXPECT_FALSE(t3.events.size() == t.events.size() && t3.events[0].time_frames == t.events[0].time_frames);
}

TEST(MovieTruth, ClassesComplexesAndIsolation) {
  const Structure s = monolayer(36, 30, 0.0, 4);
  const DefectLattice g = defect_lattice(s, material("WS2"), 30);
  std::size_t centre = 0;
  double best = 1e9;
  for (std::size_t m = 0; m < g.metals(); ++m) {
    const Column& c = s.columns[std::size_t(g.metal_columns[m])];
    const double r = std::hypot(c.x - 18, c.y - 18);
    if (r < best) best = r, centre = m;
  }
  std::vector<std::uint8_t> dopant(g.metals(), 0);
  dopant[centre] = 1;
  const MovieTruth truth(g, s, dopant);
  const auto& mine = g.metal_chalcogens[centre];
  // A double vacancy in one bonded column and a single one in another: 3 missing -> Mo+3V_S.
  std::vector<KmcVacancy> vac{{10, mine[0], 0}, {11, mine[0], 1}, {12, mine[1], 1}};
  // A vacancy far away, alone: isolated; one beside it makes both not isolated.
  std::int32_t far = -1;
  for (std::size_t i = 0; i < g.chalcogens(); ++i) {
    const Column& c = s.columns[std::size_t(g.chalcogen_columns[i])];
    if (interior(s, c, 3 * g.a) && std::hypot(c.x - 18, c.y - 18) > 9) far = std::int32_t(i);
  }
  ASSERT_GE(far, 0);
  vac.push_back({13, far, 0});
  auto defects = truth.defects(3, vac);
  ASSERT_EQ(defects.size(), 4u);  // three columns, one dopant
  int singles = 0, doubles = 0;
  for (const auto& d : defects) {
    EXPECT_EQ(d.frame, 3);
    if (d.defect_class == DefectClass::dopant) {
      EXPECT_EQ(d.missing, 3);
      EXPECT_EQ(d.complex, 3);
      EXPECT_EQ(d.identity, 0);
      EXPECT_EQ(d.column, g.metal_columns[centre]);
    } else if (d.defect_class == DefectClass::double_vacancy) {
      ++doubles;
      EXPECT_EQ(d.identity, 10);
      EXPECT_EQ(d.vacancy_top, 10);
      EXPECT_EQ(d.vacancy_bottom, 11);
    } else {
      ++singles;
      EXPECT_EQ(d.missing, 1);
      EXPECT_EQ(d.complex, -1);
    }
  }
  EXPECT_EQ(singles, 2);
  EXPECT_EQ(doubles, 1);
  auto v = truth.vacancies(3, vac);
  for (const auto& t : v) EXPECT_EQ(t.isolated, t.id == 13) << "vacancy " << t.id;
  vac.push_back({14, g.chalcogen_neighbours[std::size_t(far)][2], 1});
  v = truth.vacancies(3, vac);
  for (const auto& t : v) EXPECT_FALSE(t.isolated) << "vacancy " << t.id;
  // The complex names follow the chalcogen and the dopant.
  EXPECT_EQ(complex_names(16, 42)[2], "Mo+2V_S");
  EXPECT_EQ(defect_class_names(34, 41)[1], "V_Se2");
  // No vacancy bonded: Mo.
  EXPECT_EQ(truth.defects(0, {}).front().complex, 0);
}

TEST(MovieRender, TruthPixelsLandOnColumnsAndAVacancyDarkens) {
  MovieSpec spec;
  spec.adf.ny = 96;
  spec.adf.nx = 80;
  spec.adf.pixel_A = 0.15;
  spec.adf.inner_mrad = 80;
  spec.adf.probe.voltage_kV = 100;
  spec.adf.probe.convergence_mrad = 30;
  spec.frames = 6;
  spec.drift_x_A = 0.7;
  spec.drift_y_A = -0.4;
  const MovieGeometry geo = movie_geometry(spec);
  StackSpec k;
  k.material = "WS2";
  k.layers = 1;
  k.extent_x = geo.extent_x;
  k.extent_y = geo.extent_y;
  const Structure s = build_stack(k);
  const DefectLattice g = defect_lattice(s, material("WS2"), 30);
  MovieRenderer r(spec, geo, s, g);
  // Frame 5 with drift: every metal column's truth pixel is within a pixel of a local maximum.
  std::vector<float> img(std::size_t(spec.adf.ny) * std::size_t(spec.adf.nx));
  r.render(5, {}, img.data());
  int checked = 0;
  for (std::int32_t mc : g.metal_columns) {
    double col, row;
    geo.pixel_of(s.columns[std::size_t(mc)].x, s.columns[std::size_t(mc)].y, 5, col, row);
    if (col < 4 || row < 4 || col > spec.adf.nx - 5 || row > spec.adf.ny - 5) continue;
    ++checked;
    int bi = 0, bj = 0;
    float bv = -1;
    for (int di = -3; di <= 3; ++di)
      for (int dj = -3; dj <= 3; ++dj) {
        const int i = int(std::lround(row)) + di, j = int(std::lround(col)) + dj;
        if (img[std::size_t(i) * std::size_t(spec.adf.nx) + std::size_t(j)] > bv) bv = img[std::size_t(i) * std::size_t(spec.adf.nx) + std::size_t(j)], bi = i, bj = j;
      }
    EXPECT_LE(std::hypot(bj - col, bi - row), 1.0) << "column at (" << col << ", " << row << ")";
  }
  EXPECT_GT(checked, 10);
  // Frames show the drift: frame 5 is frame 0 shifted by 5 * drift.
  double r5, c5;
  geo.drift_px(5, r5, c5);
  EXPECT_NEAR(c5, 5 * 0.7 / 0.15, 1e-12);
  EXPECT_NEAR(r5, -5 * 0.4 / 0.15, 1e-12);
  // A vacancy darkens its column, a double one more.
  std::int32_t site = -1;
  double nearest = 1e9;
  for (std::size_t i = 0; i < g.chalcogens(); ++i) {
    double col, row;
    geo.pixel_of(s.columns[std::size_t(g.chalcogen_columns[i])].x, s.columns[std::size_t(g.chalcogen_columns[i])].y, 0, col, row);
    if (std::hypot(col - 40, row - 48) < nearest) nearest = std::hypot(col - 40, row - 48), site = std::int32_t(i);
  }
  ASSERT_GE(site, 0);
  double col, row;
  geo.pixel_of(s.columns[std::size_t(g.chalcogen_columns[std::size_t(site)])].x, s.columns[std::size_t(g.chalcogen_columns[std::size_t(site)])].y, 0,
               col, row);
  auto at = [&](const std::vector<KmcVacancy>& v) {
    r.render(0, v, img.data());
    return img[std::size_t(std::lround(row)) * std::size_t(spec.adf.nx) + std::size_t(std::lround(col))];
  };
  const float full = at({}), one = at({{0, site, 1}}), two = at({{0, site, 0}, {1, site, 1}});
  EXPECT_LT(one, 0.75 * full);
  EXPECT_LT(two, 0.5 * one);
  EXPECT_GT(one, 0.3 * full);  // one sulfur atom of two is left
}
