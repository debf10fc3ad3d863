// The potential-energy landscape of sliding (sim/interlayer_energy, analysis/landscape): the pair
// potentials' shape, the energy's periodicity and symmetries under the registries' equivalences, the
// known order of MoS2 bilayer stackings, and the grid analyses (minima, barrier) against functions
// whose answers are known; the CSV reader's checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "tmdflow/analysis/landscape/energy_grid.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/sim/interlayer_energy.hpp"

using namespace tmdflow;

namespace {

sim::InterlayerEnergyModel model(const std::string& stacking, const std::string& potential = "ilp", const std::string& material = "MoS2") {
  sim::InterlayerEnergySpec s;
  s.material = material;
  s.stacking = stacking;
  s.potential = potential;
  return sim::InterlayerEnergyModel(s);
}

double energy(const sim::InterlayerEnergyModel& m, const std::string& name) {
  for (const auto& r : sim::named_registries(m.spec().material, m.spec().stacking))
    if (r.name == name) return m.at(r.slip_a, r.slip_b).energy_meV;
  ADD_FAILURE() << "no registry " << name;
  return 0;
}

}  // namespace

TEST(InterlayerPotential, RepulsiveInsideAttractiveOutsideAndTaperedToZero) {
  for (const std::string pot : {"ilp", "lj"}) {
    const auto m = model("3R", pot);
    EXPECT_GT(m.pair_meV(16, 16, 2.5, 0.0), 0.0) << pot;       // S-S overlap
    EXPECT_LT(m.pair_meV(16, 16, 4.5, 0.0), 0.0) << pot;       // dispersion
    EXPECT_EQ(m.pair_meV(16, 16, 16.0, 0.0), 0.0) << pot;      // the cutoff
    EXPECT_NEAR(m.pair_meV(16, 16, 15.99, 0.0), 0.0, 1e-6) << pot;  // smoothly
    EXPECT_EQ(m.pair_meV(42, 16, 4.0, 1.0), m.pair_meV(16, 42, 4.0, 1.0)) << pot;
  }
  // The ILP's registry term: at one distance, a pair straight above is more repulsive than one aside.
  const auto ilp = model("3R");
  EXPECT_GT(ilp.pair_meV(16, 16, 3.2, 0.0), ilp.pair_meV(16, 16, 3.2, 2.0));
  sim::InterlayerEnergySpec bad;
  bad.potential = "morse";
  EXPECT_THROW(sim::validate(bad), ConfigError);
  bad.potential = "ilp";
  bad.material = "ReS2";
  bad.stacking = "3R";
  EXPECT_THROW(sim::validate(bad), ConfigError);
}

TEST(InterlayerEnergy, PeriodicInTheCell) {
  for (const std::string material : {"MoS2", "ReS2"}) {
    const auto m = model("", "ilp", material);
    const double e = m.at(0.21, 0.37).energy_meV;
    EXPECT_NEAR(m.at(1.21, 0.37).energy_meV, e, 1e-6) << material;
    EXPECT_NEAR(m.at(0.21, -0.63).energy_meV, e, 1e-6) << material;
    EXPECT_NEAR(m.at(-1.79, 2.37).energy_meV, e, 1e-6) << material;
    EXPECT_TRUE(std::isfinite(e));
  }
}

TEST(InterlayerEnergy, SymmetricUnderTheRegistriesEquivalences) {
  // Same-orientation MX2 layers (R-type): a mirror plane of the layer maps slip s to -s about the
  // eclipsed AA point; every MX2 registry keeps the three-fold axis: s -> R120 s, i.e. in fractions
  // of a1 (0 deg) and a2 (60 deg), (a, b) -> (-a - b, a).
  const auto aa = model("AA");
  for (const auto& [a, b] : {std::pair{0.13, 0.29}, std::pair{0.41, 0.07}, std::pair{0.77, 0.52}}) {
    const double e = aa.at(a, b).energy_meV;
    EXPECT_NEAR(aa.at(-a, -b).energy_meV, e, 1e-6);
    for (const std::string st : {"AA", "3R", "2H"}) {
      const auto m = model(st);
      EXPECT_NEAR(m.at(-a - b, a).energy_meV, m.at(a, b).energy_meV, 1e-6) << st;
    }
  }
  // 3R: the mirror acts about AA, at -(a1 + a2)/3 from the 3R registry: s -> -s - 2 (a1 + a2)/3.
  const auto r3 = model("3R");
  EXPECT_NEAR(r3.at(-0.13 - 2.0 / 3, -0.29 - 2.0 / 3).energy_meV, r3.at(0.13, 0.29).energy_meV, 1e-6);
}

TEST(InterlayerEnergy, MoS2StackingsInTheOrderTheLiteratureHas) {
  // R-type (parallel) bilayers: AB = BA the minima, AA (eclipsed) highest; DFT (e.g. the stacking-fault
  // energy Carr et al. use, PRB 98, 224102 (2018)) puts AA about 60 meV per cell above AB.
  const auto r = model("AA");
  const double e_aa = energy(r, "AA"), e_ab = energy(r, "AB"), e_ba = energy(r, "BA");
  EXPECT_NEAR(e_ab, e_ba, 1e-6);
  EXPECT_GT(e_aa - e_ab, 40.0);
  EXPECT_LT(e_aa - e_ab, 80.0);
  for (double s : {0.05, 0.1, 0.2, 0.5, 0.6, 0.8}) EXPECT_GT(r.at(s, s).energy_meV, e_ab - 1e-6);
  // H-type (antiparallel) bilayers: AA' (2H) lowest, A'B (chalcogens eclipsed) highest, AB' between.
  const auto h = model("2H");
  const double e_aap = energy(h, "AA'"), e_abp = energy(h, "AB'"), e_apb = energy(h, "A'B");
  EXPECT_LT(e_aap, e_abp);
  EXPECT_LT(e_abp, e_apb);
  EXPECT_GT(e_apb - e_aap, 40.0);
  // Relaxing the spacing opens the eclipsed registry: a larger interlayer distance at AA than at AB.
  EXPECT_GT(r.at(0, 0).spacing_A, r.at(1.0 / 3, 1.0 / 3).spacing_A + 0.3);
  // The UFF Lennard-Jones estimate keeps the order (its corrugation is known to be too small).
  const auto lj = model("AA", "lj");
  EXPECT_GT(energy(lj, "AA"), energy(lj, "AB") + 1.0);
}

TEST(EnergyGrid, MinimaBarrierAndInterpolationOfAKnownFunction) {
  // E = -cos(2 pi u) - 0.5 cos(2 pi v): one minimum at (0, 0); sliding along a2 costs 1.0 (over
  // v = 1/2 at u = 0), along a1 2.0; the point (1/2, 0) is a saddle, not a minimum.
  analysis::EnergyGrid g;
  g.na = g.nb = 24;
  for (int ib = 0; ib < g.nb; ++ib)
    for (int ia = 0; ia < g.na; ++ia)
      g.energy_meV.push_back(-std::cos(2 * M_PI * ia / g.na) - 0.5 * std::cos(2 * M_PI * ib / g.nb));
  const auto minima = analysis::landscape_minima(g);
  ASSERT_EQ(minima.size(), 1u);
  EXPECT_NEAR(minima[0].slip_a, 0.0, 1e-9);
  EXPECT_NEAR(minima[0].slip_b, 0.0, 1e-9);
  const auto b = analysis::sliding_barrier(g);
  EXPECT_NEAR(b.barrier_meV, 1.0, 1e-12);
  EXPECT_EQ(std::abs(b.winding_a), 0);
  EXPECT_EQ(std::abs(b.winding_b), 1);
  EXPECT_NEAR(b.saddle.slip_b, 0.5, 1e-12);
  EXPECT_NEAR(g.interpolate(5.0 / 24, 7.0 / 24), g.at(5, 7), 1e-12);
  EXPECT_NEAR(g.interpolate(1 + 5.0 / 24, -1 + 7.0 / 24), g.at(5, 7), 1e-12);
  EXPECT_NEAR(g.interpolate(0.1, 0.3), -std::cos(2 * M_PI * 0.1) - 0.5 * std::cos(2 * M_PI * 0.3), 2e-3);
  // A minimum off the grid is refined towards its true place.
  analysis::EnergyGrid h = g;
  for (int ib = 0; ib < h.nb; ++ib)
    for (int ia = 0; ia < h.na; ++ia)
      h.energy_meV[std::size_t(ib) * h.na + ia] = -std::cos(2 * M_PI * (double(ia) / h.na - 0.31)) - std::cos(2 * M_PI * (double(ib) / h.nb - 0.62));
  const auto hm = analysis::landscape_minima(h);
  ASSERT_EQ(hm.size(), 1u);
  EXPECT_NEAR(hm[0].slip_a, 0.31, 0.004);
  EXPECT_NEAR(hm[0].slip_b, 0.62, 0.004);
}

TEST(EnergyGrid, MoS2SlidingBarrierOnTheBuiltInLandscape) {
  // R-type MoS2: the way from AB to its copy passes the saddle between AB and BA; DFT puts it about
  // 13 meV per cell above AB (the same stacking-fault energy): between 5 and 30 here.
  const auto m = model("3R");
  analysis::EnergyGrid g;
  g.na = g.nb = 12;
  for (int ib = 0; ib < g.nb; ++ib)
    for (int ia = 0; ia < g.na; ++ia) g.energy_meV.push_back(m.at(double(ia) / g.na, double(ib) / g.nb).energy_meV);
  const auto b = analysis::sliding_barrier(g);
  EXPECT_GT(b.barrier_meV, 5.0);
  EXPECT_LT(b.barrier_meV, 30.0);
  const auto minima = analysis::landscape_minima(g);
  ASSERT_GE(minima.size(), 2u);
  EXPECT_NEAR(minima[0].energy_meV, minima[1].energy_meV, 1e-6);  // AB and BA
}

TEST(EnergyGrid, CsvReaderTakesAnyOrderAndRefusesBadGrids) {
  const std::string path = ::testing::TempDir() + "tmdflow_landscape_test.csv";
  auto write = [&](const std::string& text) {
    std::ofstream(path) << text;
  };
  std::string text = "# a test grid\nenergy_meV,slip_b,slip_a\n";
  for (int ib = 2; ib >= 0; --ib)
    for (int ia = 0; ia < 4; ++ia) text += std::to_string(10 * ib + ia) + "," + std::to_string(ib / 3.0) + "," + std::to_string(ia / 4.0) + "\n";
  write(text);
  const auto g = analysis::read_energy_grid_csv(path);
  EXPECT_EQ(g.na, 4);
  EXPECT_EQ(g.nb, 3);
  EXPECT_EQ(g.at(3, 2), 23.0);
  write("slip_a,slip_b\n0,0\n");
  EXPECT_THROW(analysis::read_energy_grid_csv(path), InputError);  // no energy column
  write("slip_a,slip_b,energy_meV\n0,0,1\n0.5,0,1\n0,0.5,1\n");
  EXPECT_THROW(analysis::read_energy_grid_csv(path), InputError);  // not a full grid
  write("slip_a,slip_b,energy_meV\n0,0,1\n1.5,0,1\n");
  EXPECT_THROW(analysis::read_energy_grid_csv(path), InputError);  // outside the cell
  write("slip_a,slip_b,energy_meV\n0,0,x\n");
  EXPECT_THROW(analysis::read_energy_grid_csv(path), InputError);
  std::remove(path.c_str());
  EXPECT_THROW(analysis::read_energy_grid_csv(path), IoError);
}
