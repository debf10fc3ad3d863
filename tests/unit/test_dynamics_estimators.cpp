// The kinetics estimators (analysis/dynamics): the transition matrix against planted Markov chains
// (estimate near the truth, bootstrap intervals that cover it at about the stated rate over many
// seeds), and the vacancy diffusion coefficient against planted random walks on the chalcogen
// lattice and against the defect KMC's own trajectories (hop rate -> D = 1.5 Gamma0 a^2).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tmdflow/analysis/dynamics/bootstrap.hpp"
#include "tmdflow/analysis/dynamics/diffusion.hpp"
#include "tmdflow/analysis/dynamics/transition_matrix.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/par/random.hpp"
#include "tmdflow/sim/movie_truth.hpp"

using namespace tmdflow::analysis::dynamics;
namespace rng = tmdflow::par::rng;

namespace {

const std::vector<double> kChain = {0.80, 0.15, 0.05, 0.00,  //
                                    0.20, 0.70, 0.10, 0.00,  //
                                    0.05, 0.25, 0.60, 0.10,  //
                                    0.00, 0.10, 0.30, 0.60};

/// Sequences of a 4-state chain; a fraction `missing` of the frames unknown (-1).
std::vector<std::vector<int>> planted_chain(int sequences, int frames, double missing, std::uint64_t seed) {
  std::vector<std::vector<int>> out;
  for (int s = 0; s < sequences; ++s) {
    rng::Stream g(rng::key(seed, 0x636861696eULL, std::uint64_t(s)));
    std::vector<int> seq(static_cast<std::size_t>(frames));
    int state = int(g.uniform() * 4);
    for (int f = 0; f < frames; ++f) {
      seq[std::size_t(f)] = g.uniform() < missing ? -1 : state;
      double u = g.uniform(), acc = 0;
      int next = 3;
      for (int j = 0; j < 4; ++j) {
        acc += kChain[std::size_t(state * 4 + j)];
        if (u < acc) {
          next = j;
          break;
        }
      }
      state = next;
    }
    out.push_back(seq);
  }
  return out;
}

constexpr double kA = 3.1532;  // WS2 lattice constant: the hop length

/// Continuous-time walks on the triangular chalcogen lattice: per frame Poisson(6 rate) hops of
/// length a in one of six directions.
std::vector<VacancyObservation> planted_walks(int tracks, int frames, double rate, std::uint64_t seed) {
  std::vector<VacancyObservation> out;
  for (int t = 0; t < tracks; ++t) {
    rng::Stream g(rng::key(seed, 0x77616c6bULL, std::uint64_t(t)));
    double x = 0, y = 0;
    for (int f = 0; f < frames; ++f) {
      out.push_back({t, f, x, y, true, 100.0});
      const long hops = std::poisson_distribution<long>(6 * rate)(g);
      for (long h = 0; h < hops; ++h) {
        const double angle = (int(g.uniform() * 6) * 60.0) * M_PI / 180;
        x += kA * std::cos(angle);
        y += kA * std::sin(angle);
      }
    }
  }
  return out;
}

}  // namespace

TEST(TransitionMatrix, RecoversAPlantedChainWithIntervalsThatCoverIt) {
  const auto seqs = planted_chain(120, 40, 0.05, 3);
  TransitionSpec spec;
  spec.bootstrap = 400;
  spec.seed = 5;
  const auto e = estimate_transitions(seqs, spec);
  const auto total = transition_counts(seqs, 4);
  std::int64_t steps = 0;
  for (int i = 0; i < 4; ++i) {
    double row = 0;
    for (int j = 0; j < 4; ++j) {
      const double p = e.at(e.probability, i, j), truth = kChain[std::size_t(i * 4 + j)];
      row += p;
      EXPECT_EQ(e.counts[std::size_t(i * 4 + j)], total[std::size_t(i * 4 + j)]);
      steps += e.counts[std::size_t(i * 4 + j)];
      EXPECT_NEAR(p, truth, 0.05) << i << "->" << j;
      EXPECT_LE(e.at(e.lower, i, j), p + 1e-12);
      EXPECT_GE(e.at(e.upper, i, j), p - 1e-12);
      EXPECT_LE(e.at(e.lower, i, j), truth + 1e-12) << i << "->" << j;
      EXPECT_GE(e.at(e.upper, i, j), truth - 1e-12) << i << "->" << j;
    }
    EXPECT_NEAR(row, 1.0, 1e-12);
  }
  // Steps need both frames known: about 0.95^2 of the 39 steps per sequence.
  EXPECT_NEAR(double(steps) / (120 * 39), 0.95 * 0.95, 0.03);
  // Deterministic in the seed; another seed moves the interval, not the estimate.
  const auto again = estimate_transitions(seqs, spec);
  EXPECT_EQ(again.lower, e.lower);
  spec.seed = 6;
  const auto other = estimate_transitions(seqs, spec);
  EXPECT_EQ(other.probability, e.probability);
  EXPECT_NE(other.lower, e.lower);
}

TEST(TransitionMatrix, IntervalsCoverTheTruthAtTheStatedRate) {
  TransitionSpec spec;
  spec.bootstrap = 500;  // fewer replicates make percentile intervals narrower than stated
  int covered = 0, total = 0;
  for (std::uint64_t rep = 0; rep < 150; ++rep) {
    spec.seed = 100 + rep;
    const auto e = estimate_transitions(planted_chain(80, 30, 0.0, 1000 + rep), spec);
    for (int k = 0; k < 16; ++k) {
      if (kChain[std::size_t(k)] == 0 || e.row_counts[std::size_t(k / 4)] < 30) continue;
      ++total;
      covered += e.lower[std::size_t(k)] <= kChain[std::size_t(k)] && kChain[std::size_t(k)] <= e.upper[std::size_t(k)];
    }
  }
  const double rate = double(covered) / total;
  EXPECT_GT(total, 1500);
  EXPECT_GT(rate, 0.92) << "95% intervals covered the truth in " << rate * 100 << "% of " << total;
  EXPECT_LT(rate, 0.975) << "95% intervals covered the truth in " << rate * 100 << "% of " << total;
}

TEST(TransitionMatrix, CountsPerStepAndBadInputs) {
  const std::vector<std::vector<int>> seqs = {{0, 1, 1, -1, 2}, {3, 3, 0}, {2}};
  const auto per = transition_counts_per_step(seqs, 4, 4);
  EXPECT_EQ(per[0 * 16 + 0 * 4 + 1], 1);   // step 0: 0 -> 1
  EXPECT_EQ(per[0 * 16 + 3 * 4 + 3], 1);   // step 0: 3 -> 3
  EXPECT_EQ(per[1 * 16 + 1 * 4 + 1], 1);   // step 1: 1 -> 1
  EXPECT_EQ(per[1 * 16 + 3 * 4 + 0], 1);   // step 1: 3 -> 0
  std::int64_t sum = 0;
  for (auto v : per) sum += v;
  EXPECT_EQ(sum, 4);  // the steps into and out of the unknown frame are not counted
  const auto e = estimate_transitions(seqs, TransitionSpec{4, 50, 0.9, 1});
  EXPECT_EQ(e.sequences, 2);
  EXPECT_TRUE(std::isnan(e.at(e.probability, 2, 2)));  // no step starts in state 2
  EXPECT_DOUBLE_EQ(e.at(e.probability, 3, 0), 0.5);
  EXPECT_THROW(transition_counts({{0, 4}}, 4), tmdflow::InputError);
  EXPECT_THROW(transition_counts({{-2, 0}}, 4), tmdflow::InputError);
  EXPECT_THROW(estimate_transitions(seqs, TransitionSpec{4, 10, 1.5, 1}), tmdflow::ConfigError);
  EXPECT_THROW(estimate_transitions(seqs, TransitionSpec{0, 10, 0.9, 1}), tmdflow::ConfigError);
}

TEST(Diffusion, RecoversPlantedRandomWalks) {
  const double rate = 0.05, truth = isolated_walk_diffusion(rate, kA);
  auto obs = planted_walks(300, 30, rate, 7);
  DiffusionSpec spec;
  spec.hop_A = kA;
  spec.frame_time_s = 2.0;
  spec.bootstrap = 400;
  const auto e = estimate_diffusion(obs, spec);
  EXPECT_EQ(e.steps, 300 * 29);
  EXPECT_EQ(e.tracks, 300);
  EXPECT_NEAR(e.D_A2_per_frame, truth, 0.1 * truth);
  EXPECT_LE(e.lower, truth);
  EXPECT_GE(e.upper, truth);
  EXPECT_NEAR(e.D_A2_per_s, e.D_A2_per_frame / 2.0, 1e-12);
  EXPECT_NEAR(e.upper_per_s, e.upper / 2.0, 1e-12);
  EXPECT_NEAR(e.moved_fraction, 1 - std::exp(-6 * rate), 0.03);  // a step moves unless no hop (or a return)

  // Steps that do not start isolated, that start within a hop of the edge, or that skip a frame
  // do not count, whatever they do.
  std::vector<VacancyObservation> extra = obs;
  for (int f = 0; f < 10; ++f) extra.push_back({1000, f, 50.0 * f, 0, false, 100});   // not isolated
  for (int f = 0; f < 10; ++f) extra.push_back({1001, f, 50.0 * f, 0, true, 0.5 * kA});  // at the edge
  for (int f = 0; f < 20; f += 2) extra.push_back({1002, f, 50.0 * f, 0, true, 100});   // every other frame
  const auto same = estimate_diffusion(extra, spec);
  EXPECT_EQ(same.steps, e.steps);
  EXPECT_DOUBLE_EQ(same.D_A2_per_frame, e.D_A2_per_frame);
  // The end point needs nothing: a step that ends outside the field or beside a vacancy counts.
  extra.push_back({1003, 0, 0, 0, true, 100});
  extra.push_back({1003, 1, kA, 0, false, -3});
  EXPECT_EQ(estimate_diffusion(extra, spec).steps, e.steps + 1);

  obs.push_back(obs.front());
  EXPECT_THROW(estimate_diffusion(obs, spec), tmdflow::InputError);
  spec.hop_A = 0;
  EXPECT_THROW(estimate_diffusion(extra, spec), tmdflow::ConfigError);
  spec.hop_A = kA;
  spec.frame_time_s = 0;
  const auto none = estimate_diffusion({}, spec);
  EXPECT_EQ(none.steps, 0);
  EXPECT_TRUE(std::isnan(none.D_A2_per_frame));
}

TEST(Diffusion, SubtractsTheLocalisationNoiseOfDetectedPositions) {
  // Detected positions scatter by 0.15 A per axis: every step gains 4 sigma^2 = 0.09 A^2 of mean
  // square displacement, 0.0225 A^2 of D (8 % of D = 0.30 here); the staying steps measure it.
  const double rate = 0.02, D = isolated_walk_diffusion(rate, kA), sigma = 0.15;
  auto obs = planted_walks(300, 60, rate, 21);
  rng::Stream g(rng::key(4, 4));
  for (auto& o : obs) o.x_A += sigma * g.normal(), o.y_A += sigma * g.normal();
  DiffusionSpec spec;
  spec.hop_A = kA;
  spec.bootstrap = 200;
  const auto raw = estimate_diffusion(obs, spec);
  spec.subtract_localisation_noise = true;
  const auto corrected = estimate_diffusion(obs, spec);
  EXPECT_NEAR(raw.localisation_noise_A2, 4 * sigma * sigma, 0.01);
  EXPECT_NEAR(raw.D_A2_per_frame - corrected.D_A2_per_frame, sigma * sigma, 0.003);
  EXPECT_NEAR(corrected.D_A2_per_frame, D, 0.06 * D);
  EXPECT_LT(corrected.lower, D);
  EXPECT_GT(corrected.upper, D);
  // Exact positions: nothing to subtract.
  const auto exact = estimate_diffusion(planted_walks(50, 40, rate, 3), spec);
  EXPECT_EQ(exact.localisation_noise_A2, 0.0);
}

TEST(Diffusion, IntervalsCoverTheTruthAtTheStatedRate) {
  const double rate = 0.08, truth = isolated_walk_diffusion(rate, kA);
  DiffusionSpec spec;
  spec.hop_A = kA;
  spec.bootstrap = 200;
  int covered = 0;
  const int reps = 200;
  for (int rep = 0; rep < reps; ++rep) {
    spec.seed = std::uint64_t(rep);
    const auto e = estimate_diffusion(planted_walks(40, 15, rate, 500 + std::uint64_t(rep)), spec);
    covered += e.lower <= truth && truth <= e.upper;
  }
  const double frac = double(covered) / reps;
  EXPECT_GT(frac, 0.88) << "95% intervals covered D in " << frac * 100 << "% of " << reps;
  EXPECT_LT(frac, 0.99) << "95% intervals covered D in " << frac * 100 << "% of " << reps;
}

TEST(Diffusion, RecoversTheHopRateOfTheDefectKmc) {
  // Free vacancies (no binding, no dopants, no sputtering) in a WS2 monolayer: the estimator on the
  // true positions gives D = 1.5 Gamma0 a^2.
  using namespace tmdflow::sim;
  StackSpec k;
  k.material = "WS2";
  k.layers = 1;
  k.extent_x = k.extent_y = 80;
  const Structure s = build_stack(k);
  const DefectLattice g = defect_lattice(s, material("WS2"), 30);
  KmcSpec spec;
  spec.frames = 400;
  spec.sputter_barn = 0;
  spec.bind_dopant_eV = spec.bind_vacancy_eV = spec.bind_double_eV = 0;
  spec.hop_rate_per_frame = 0.05;
  spec.initial_single_vacancy = 0.03;
  spec.seed = 21;
  const std::vector<std::uint8_t> no_dopants(g.metals(), 0);
  DefectKmc kmc(g, no_dopants, spec);
  const KmcTrajectory t = kmc.run();
  const MovieTruth truth(g, s, no_dopants);
  // The field: the built area less two hops on every side (sites at the very edge lack neighbours).
  const double inset = 2 * g.a;
  std::vector<VacancyObservation> obs;
  for (int f = 0; f < spec.frames; ++f)
    for (const auto& v : truth.vacancies(f, t.frames[std::size_t(f)])) {
      const double edge = std::min({v.x_A - inset, s.extent_x - inset - v.x_A, v.y_A - inset, s.extent_y - inset - v.y_A});
      obs.push_back({v.id, f, v.x_A, v.y_A, v.isolated, edge});
    }
  DiffusionSpec ds;
  ds.hop_A = g.a;
  ds.bootstrap = 400;
  const auto e = estimate_diffusion(obs, ds);
  const double model = isolated_walk_diffusion(spec.hop_rate_per_frame, g.a);
  EXPECT_GT(e.steps, 3000);
  EXPECT_NEAR(e.D_A2_per_frame, model, 0.1 * model) << "steps " << e.steps << ", interval [" << e.lower << ", " << e.upper << "]";
  EXPECT_LE(e.lower, model);
  EXPECT_GE(e.upper, model);
}

TEST(Bootstrap, QuantilesAndDraws) {
  std::vector<double> v{4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 4);
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 2.5);
  const auto a = bootstrap_draw(50, 3, 7), b = bootstrap_draw(50, 3, 7), c = bootstrap_draw(50, 3, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (auto i : a) EXPECT_LT(i, 50u);
}
