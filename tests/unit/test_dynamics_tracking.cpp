// The analysis behind detect-defects, track-defects, defect-motifs and kinetics (analysis/dynamics):
// heat-map peaks at sub-pixel positions, one class per site, tile ownership; the assignment solver
// against brute force; linking of planted walks through drift-corrected positions, missed frames and
// crowding; phase-correlation registration of shifted lattice images; the neighbourhood rules
// (complexes, isolation) against the simulation's own truth; the kinetics inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "tmdflow/analysis/dynamics/assignment.hpp"
#include "tmdflow/analysis/dynamics/linking.hpp"
#include "tmdflow/analysis/dynamics/neighbourhood.hpp"
#include "tmdflow/analysis/dynamics/observations.hpp"
#include "tmdflow/analysis/dynamics/patches.hpp"
#include "tmdflow/analysis/dynamics/peaks.hpp"
#include "tmdflow/analysis/dynamics/registration.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/par/random.hpp"
#include "tmdflow/sim/movie_kmc.hpp"
#include "tmdflow/sim/movie_truth.hpp"

using namespace tmdflow::analysis::dynamics;
namespace rng = tmdflow::par::rng;
namespace sim = tmdflow::sim;

namespace {

/// Gaussian blobs of peak `heights` at (xs, ys) on an ny x nx map.
std::vector<float> blobs(int ny, int nx, const std::vector<double>& xs, const std::vector<double>& ys, const std::vector<double>& heights, double sigma) {
  std::vector<float> m(std::size_t(ny) * nx, 0.0f);
  for (std::size_t k = 0; k < xs.size(); ++k)
    for (int i = 0; i < ny; ++i)
      for (int j = 0; j < nx; ++j)
        m[std::size_t(i) * nx + j] += float(heights[k] * std::exp(-((j - xs[k]) * (j - xs[k]) + (i - ys[k]) * (i - ys[k])) / (2 * sigma * sigma)));
  return m;
}

}  // namespace

TEST(Peaks, SubPixelMaximaAboveTheThresholdAndApart) {
  const std::vector<double> xs = {10.3, 30.75, 31.5, 50.1}, ys = {12.6, 20.2, 40.9, 50.45}, h = {1.0, 0.8, 0.3, 0.9};
  const auto map = blobs(64, 64, xs, ys, h, 2.5);
  PeakSpec spec;
  spec.threshold = 0.5f;
  spec.min_distance_px = 4;
  const auto peaks = find_peaks(map.data(), 64, 64, 1, spec);
  ASSERT_EQ(peaks.size(), 3u);  // the 0.3 blob is below the threshold
  EXPECT_FLOAT_EQ(peaks[0].score, peaks[0].score);
  for (const auto& p : peaks) {
    EXPECT_EQ(p.cls, 1);
    double best = 1e9;
    for (std::size_t k = 0; k < xs.size(); ++k) best = std::min(best, std::hypot(p.x - xs[k], p.y - ys[k]));
    EXPECT_LT(best, 0.08) << "peak at " << p.x << ", " << p.y;
  }
  EXPECT_GE(peaks[0].score, peaks[1].score);
  EXPECT_GE(peaks[1].score, peaks[2].score);
  // Two blobs closer than the minimum distance: the stronger one only.
  const auto close = blobs(32, 32, {10, 13}, {10, 10}, {1.0, 0.7}, 1.0);
  spec.min_distance_px = 5;
  const auto one = find_peaks(close.data(), 32, 32, 0, spec);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_NEAR(one[0].x, 10, 0.1);
  // Ownership by the maximum's pixel.
  EXPECT_EQ(peaks_within(peaks, 0, 25, 0, 32).size(), 2u);
  EXPECT_EQ(peaks_within(peaks, 0, 20, 0, 64).size(), 1u);
  EXPECT_EQ(peaks_within(peaks, 0, 64, 25, 64).size(), 2u);
}

TEST(Peaks, OneClassPerSite) {
  std::vector<Peak> p = {{10, 10, 10, 10, 0.9f, 0}, {10.4, 10.2, 10, 10, 0.95f, 1}, {20, 10, 10, 20, 0.6f, 2}, {21.5, 10, 10, 21, 0.7f, 0}};
  const auto kept = one_class_per_site(p, 1.0);
  ASSERT_EQ(kept.size(), 3u);  // the V_S under the stronger V_S2 goes; 1.5 px apart stay; sorted by row, column
  EXPECT_EQ(kept[0].cls, 2);
  EXPECT_EQ(kept[1].cls, 0);
  EXPECT_EQ(kept[2].cls, 1);
}

TEST(Assignment, MatchesBruteForce) {
  for (int trial = 0; trial < 40; ++trial) {
    rng::Stream g(rng::key(5, trial));
    const int n = 1 + trial % 5, m = n + trial % 3;
    std::vector<double> cost(std::size_t(n * m));
    for (auto& c : cost) c = std::floor(g.uniform() * 20);
    const auto pick = solve_assignment(cost, n, m);
    double got = 0;
    std::set<int> used;
    for (int i = 0; i < n; ++i) got += cost[std::size_t(i * m + pick[std::size_t(i)])], used.insert(pick[std::size_t(i)]);
    EXPECT_EQ(int(used.size()), n);
    std::vector<int> cols(static_cast<std::size_t>(m));
    std::iota(cols.begin(), cols.end(), 0);
    double best = 1e18;
    do {
      double c = 0;
      for (int i = 0; i < n; ++i) c += cost[std::size_t(i * m + cols[std::size_t(i)])];
      best = std::min(best, c);
    } while (std::next_permutation(cols.begin(), cols.end()));
    EXPECT_DOUBLE_EQ(got, best) << "trial " << trial;
  }
  EXPECT_THROW(solve_assignment({1, 2}, 2, 1), tmdflow::InputError);
  EXPECT_THROW(solve_assignment({1, NAN}, 1, 2), tmdflow::InputError);
}

TEST(Linking, PlantedWalksThroughGapsAndCrowds) {
  // 60 vacancies hopping on a lattice (a = 3.15 A), some 2 hops a frame, 15 % of the detections
  // missed, and 10 dopants that sit still among them; positions already drift-corrected.
  const double a = 3.15, kSide = 400;  // 70 defects in 400 x 400 A: ~ 0.4 per 1000 A^2
  struct Walker {
    double x, y;
    int species;
  };
  std::vector<Walker> w;
  rng::Stream g(rng::key(11, 1));
  for (int k = 0; k < 70; ++k) w.push_back({g.uniform() * kSide, g.uniform() * kSide, k < 60 ? 0 : 1});
  std::vector<LinkDetection> det;
  std::vector<int> truth;
  for (int f = 0; f < 30; ++f) {
    for (int k = 0; k < 70; ++k) {
      if (f > 0 && w[std::size_t(k)].species == 0) {
        const double u = g.uniform();
        const int hops = u < 0.7 ? 0 : u < 0.95 ? 1 : 2;
        for (int h = 0; h < hops; ++h) {
          const double angle = M_PI / 3 * std::floor(6 * g.uniform());
          w[std::size_t(k)].x += a * std::cos(angle), w[std::size_t(k)].y += a * std::sin(angle);
        }
      }
      if (g.uniform() < 0.15) continue;
      det.push_back({f, w[std::size_t(k)].x + 0.1 * g.normal(), w[std::size_t(k)].y + 0.1 * g.normal(), w[std::size_t(k)].species});
      truth.push_back(k);
    }
  }
  LinkSpec spec;
  spec.max_displacement = 7;
  spec.max_gap = 2;
  const auto track = link_tracks(det, spec);
  // Purity: each track follows one walker; completeness: few tracks per walker.
  std::map<std::int64_t, std::set<int>> walkers_of_track;
  std::map<int, std::set<std::int64_t>> tracks_of_walker;
  for (std::size_t k = 0; k < det.size(); ++k) walkers_of_track[track[k]].insert(truth[k]), tracks_of_walker[truth[k]].insert(track[k]);
  int impure = 0;
  for (const auto& [t, ws] : walkers_of_track) impure += ws.size() > 1;
  double pieces = 0;
  for (const auto& [k, ts] : tracks_of_walker) pieces += double(ts.size());
  // Two walkers a hop apart that hop at once are indistinguishable: a few swaps, no more.
  EXPECT_LE(impure, int(walkers_of_track.size()) / 15) << "tracks that jump between walkers, of " << walkers_of_track.size();
  EXPECT_LT(pieces / 70, 1.6) << "mean tracks per walker";
  // Dopants never link with vacancies; one track each unless missed longer than max_gap.
  for (int k = 60; k < 70; ++k) EXPECT_LE(tracks_of_walker[k].size(), 2u) << "dopant " << k;
  // Numbering in order of first appearance.
  std::int64_t next = 0;
  for (auto t : track) {
    EXPECT_LE(t, next);
    next = std::max(next, t + 1);
  }
  // A gap longer than max_gap starts a new track.
  const auto split = link_tracks({{0, 0, 0, 0}, {4, 0.5, 0, 0}}, spec);
  EXPECT_NE(split[0], split[1]);
  const auto kept = link_tracks({{0, 0, 0, 0}, {3, 0.5, 0, 0}}, spec);
  EXPECT_EQ(kept[0], kept[1]);
  LinkSpec bad;
  bad.max_displacement = 0;
  EXPECT_THROW(link_tracks({}, bad), tmdflow::ConfigError);
}

TEST(Registration, RecoversSubPixelShiftsOfANoisyLattice) {
  // A hexagonal lattice of Gaussian columns (period 27 px, as WS2 at 0.1 A per pixel after binning
  // is ~ 13 px) with a few defects, shifted by known sub-pixel amounts, with noise.
  const int n = 256;
  auto frame = [&](double sx, double sy, std::uint64_t seed) {
    std::vector<float> f(std::size_t(n) * n, 0.0f);
    rng::Stream g(rng::key(seed, 3));
    const double period = 27.0;
    for (int u = -2; u < 14; ++u)
      for (int v = -2; v < 14; ++v) {
        const double x = u * period + v * period / 2 + 5 + sx, y = v * period * std::sqrt(3.0) / 2 + 3 + sy;
        const double h = (u * 7 + v * 3) % 11 == 0 ? 0.4 : 1.0;  // a few dim columns
        for (int i = std::max(0, int(y) - 12); i < std::min(n, int(y) + 13); ++i)
          for (int j = std::max(0, int(x) - 12); j < std::min(n, int(x) + 13); ++j)
            f[std::size_t(i) * n + j] += float(h * std::exp(-((j - x) * (j - x) + (i - y) * (i - y)) / (2 * 16.0)));
      }
    for (auto& v : f) v += float(0.3 * g.normal());
    return f;
  };
  RegistrationSpec spec;
  spec.bin = 2;
  spec.max_shift_px = 12;
  FrameRegistration r(n, n, spec);
  const auto a = frame(0, 0, 1);
  for (const auto& [dx, dy] : std::vector<std::pair<double, double>>{{1.3, -2.6}, {-4.25, 0.7}, {0.0, 0.0}}) {
    const auto b = frame(dx, dy, 2);
    const Shift s = r.shift(r.spectrum(a.data()), r.spectrum(b.data()));
    EXPECT_NEAR(s.dx, dx, 0.15) << "dx " << dx;
    EXPECT_NEAR(s.dy, dy, 0.15) << "dy " << dy;
    EXPECT_GT(s.peak, 0.05);
  }
  const auto drift = cumulative_drift({{1, 2, 1}, {0.5, -1, 1}});
  ASSERT_EQ(drift.size(), 3u);
  EXPECT_DOUBLE_EQ(drift[2].dy, 1.5);
  EXPECT_DOUBLE_EQ(drift[2].dx, 1.0);
  spec.bin = 64;
  EXPECT_THROW(FrameRegistration(256, 256, spec), tmdflow::ConfigError);
}

TEST(Neighbourhood, ComplexesAndIsolationAsTheSimulationDefinesThem) {
  // Random vacancies around dopants in a WS2 monolayer: the rules from the geometry alone give the
  // truth's complexes (missing bonds) and isolation flags.
  sim::StackSpec k;
  k.material = "WS2";
  k.phi_deg = 17;
  k.extent_x = k.extent_y = 60;
  k.defects.dopant_Z = 42;
  k.defects.dopant_fraction = 0.08;
  k.seed = 4;
  const sim::Structure s = sim::build_stack(k);
  const sim::Material& m = sim::material("WS2");
  const sim::DefectLattice lattice = sim::defect_lattice(s, m, k.phi_deg);
  const auto dopants = sim::lattice_dopants(lattice, s);
  const sim::MovieTruth truth(lattice, s, dopants);
  rng::Stream g(rng::key(9, 9));
  std::vector<sim::KmcVacancy> vac;
  std::int32_t id = 1000;
  for (std::size_t c = 0; c < lattice.chalcogens(); ++c) {
    const double u = g.uniform();
    if (u < 0.10) vac.push_back({id++, std::int32_t(c), 0});
    else if (u < 0.14) vac.push_back({id++, std::int32_t(c), 1});
    else if (u < 0.16) vac.push_back({id++, std::int32_t(c), 0}), vac.push_back({id++, std::int32_t(c), 1});
  }
  std::sort(vac.begin(), vac.end(), [](const auto& x, const auto& y) { return x.site != y.site ? x.site < y.site : x.slot < y.slot; });
  const auto defects = truth.defects(0, vac);
  std::vector<FrameDefect> frame;
  for (const auto& d : defects) frame.push_back({d.x_A, d.y_A, int(d.defect_class)});
  NeighbourhoodSpec spec;
  spec.a_A = m.a;
  const auto n = neighbourhoods(frame, spec);
  std::map<std::int32_t, bool> isolated;
  for (const auto& v : truth.vacancies(0, vac)) isolated[v.site] = v.isolated;
  int dopants_checked = 0, isolated_checked = 0;
  for (std::size_t i = 0; i < defects.size(); ++i) {
    const auto& d = defects[i];
    const bool inner = d.x_A > 8 && d.y_A > 8 && d.x_A < 52 && d.y_A < 52;  // all neighbours built
    if (!inner) continue;
    if (d.defect_class == sim::DefectClass::dopant) {
      EXPECT_EQ(n[i].missing, d.missing) << "dopant at " << d.x_A << ", " << d.y_A;
      EXPECT_EQ(n[i].complex, d.complex);
      ++dopants_checked;
    } else {
      EXPECT_EQ(n[i].complex, -1);
      const bool expect = d.defect_class == sim::DefectClass::single_vacancy && isolated[d.site];
      EXPECT_EQ(n[i].isolated, expect) << "vacancy at " << d.x_A << ", " << d.y_A;
      isolated_checked += expect;
    }
  }
  EXPECT_GT(dopants_checked, 8);
  EXPECT_GT(isolated_checked, 5);
  // The edge rule: a dopant closer than a/sqrt(3) + 0.5 A to the frame's edge has no known complex.
  spec.width_A = spec.height_A = 20;
  const auto edge = neighbourhoods({{1.0, 10, kDopant}, {10, 10, kDopant}}, spec);
  EXPECT_EQ(edge[0].complex, -1);
  EXPECT_EQ(edge[1].complex, 0);
  spec.a_A = 0;
  EXPECT_THROW(neighbourhoods({}, spec), tmdflow::ConfigError);
}

TEST(Observations, PopulationsSequencesAndVacancySteps) {
  std::vector<TrackedDefect> rows = {
      {0, 0, kDopant, 0, false, 0, 0, 10}, {0, 1, kSingleVacancy, -1, true, 5, 5, 10}, {1, 0, kDopant, 1, false, 0, 0, 10},
      {1, 1, kSingleVacancy, -1, true, 8, 5, 10}, {2, 1, kDoubleVacancy, -1, false, 8, 5, 10}, {2, 2, kDopant, -1, false, 30, 30, 10},
      {3, 0, kDopant, 1, false, 0, 0, 10},
  };
  const auto c = class_populations(rows, 4, 3);
  EXPECT_EQ(c, (std::vector<std::int64_t>{1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1}));
  const auto x = complex_populations(rows, 4, 4);
  EXPECT_EQ(x[0], 1);
  EXPECT_EQ(x[4 + 1], 1);
  EXPECT_EQ(x[8 + 0] + x[8 + 1] + x[8 + 2] + x[8 + 3], 0);  // an unknown complex is not counted
  const auto seq = dopant_complex_sequences(rows, 4);
  ASSERT_EQ(seq.size(), 2u);
  EXPECT_EQ(seq[0], (std::vector<int>{0, 1, -1, 1}));
  EXPECT_EQ(seq[1], (std::vector<int>{-1, -1, -1, -1}));
  EXPECT_EQ(vacancy_observations(rows).size(), 3u);
  rows.push_back({3, 0, kDopant, 1, false, 0, 0, 10});
  EXPECT_THROW(dopant_complex_sequences(rows, 4), tmdflow::InputError);
  EXPECT_NEAR(hop_rate_from_moved_fraction(1 - std::exp(-0.12), 100), 0.12, 1e-12);
  // The majority filter undoes a one-frame glitch, keeps a lasting change and unknown frames.
  const auto f = majority_filter({{0, 0, 1, 0, 0, 2, 2, 2, -1, 2}, {1, -1, 0, 1}}, 3);
  EXPECT_EQ(f[0], (std::vector<int>{0, 0, 0, 0, 0, 2, 2, 2, -1, 2}));
  EXPECT_EQ(f[1], (std::vector<int>{1, -1, 0, 1}));  // a tie is no majority
  EXPECT_EQ(majority_filter({{0, 1, 0}}, 1)[0], (std::vector<int>{0, 1, 0}));
  EXPECT_THROW(majority_filter({}, 2), tmdflow::ConfigError);
  EXPECT_TRUE(std::isnan(hop_rate_from_moved_fraction(0.5, 0)));
}

TEST(Patches, BilinearAroundASubPixelCentreStandardised) {
  // A linear ramp: the patch samples it exactly (bilinear is exact on a ramp), edges clamp.
  const int ny = 20, nx = 30;
  std::vector<float> f(std::size_t(ny) * nx);
  for (int i = 0; i < ny; ++i)
    for (int j = 0; j < nx; ++j) f[std::size_t(i) * nx + j] = float(2 * j + i);
  const FrameStatistics st = frame_statistics(f.data(), ny, nx);
  EXPECT_NEAR(st.mean, 2 * 14.5 + 9.5, 1e-9);
  std::vector<float> p(25);
  extract_patch(f.data(), ny, nx, 10.25, 7.5, 0.5, 5, {0, 1}, p.data());
  EXPECT_NEAR(p[12], 2 * 10.25 + 7.5, 1e-4);      // the centre
  EXPECT_NEAR(p[0], 2 * 9.25 + 6.5, 1e-4);        // (-1, -1) steps of 0.5 px twice
  extract_patch(f.data(), ny, nx, 0, 0, 1.0, 5, {0, 1}, p.data());
  EXPECT_NEAR(p[0], 0.0, 1e-6);                    // clamped to the corner
}
