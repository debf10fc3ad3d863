#pragma once
// Kinetic Monte Carlo of point defects in an MX2 monolayer under the beam (the model of stage
// simulate-movie; data_schema/dynamics.md). Sites are the bond graph's chalcogen columns
// (defect_lattice.hpp), each with two slots: 0 the top atom (entrance surface, smaller z), 1 the
// bottom one (exit surface). Dopants sit on metal sites and do not move. Two kinds of event:
//   * sputtering: a present chalcogen atom leaves at the rate sigma * dose per frame, sigma the
//     exit-surface cross-section times sputter_entrance_ratio for a top atom and sputter_dopant_ratio
//     for an atom bonded to a dopant; a new vacancy appears (a double vacancy when its column had one);
//   * hops: a vacancy trades places with the atom of the same slot in a neighbouring column, at the
//     Metropolis rate  Gamma = Gamma0 * min(1, exp(-dE / kT))  per direction, where dE is the change
//     of the configuration energy
//        E = - bind_dopant  * (vacancy-dopant bonds: a missing atom bonded to a dopant)
//            - bind_vacancy * (pairs of vacancies in neighbouring columns, same slot)
//            - bind_double  * (columns missing both atoms)
//            - line         * (three vacancies in a row along a lattice direction, same slot).
//     Metropolis rates obey detailed balance (Gamma(i->j) / Gamma(j->i) = exp(-dE / kT)), and an
//     isolated vacancy hops at Gamma0 in each of its six directions: D = 6 Gamma0 a^2 / 4.
// The trajectory is a rejection-free (residence-time, Bortz-Kalos-Lebowitz) walk in time measured in
// frames; frame k shows the state at time k. Sequential and deterministic in the seed: every rank
// computes the same trajectory.
#include <cstdint>
#include <vector>

#include "tmdflow/sim/defect_lattice.hpp"

namespace tmdflow::sim {

struct KmcSpec {
  int frames = 20;
  double dose_e_per_A2 = 1e5;           // electron dose per frame
  double sputter_barn = 1.0;            // exit-surface chalcogen (1 barn = 1e-8 A^2)
  double sputter_entrance_ratio = 0.3;  // a top (entrance-surface) atom's cross-section / an exit one's
  double sputter_dopant_ratio = 1.0;    // an atom bonded to a dopant: its cross-section / a host one's
  double hop_rate_per_frame = 0.02;     // Gamma0, per direction, of a vacancy with nothing to bind to
  double kT_eV = 0.1;                   // effective temperature of the beam-driven hops
  double bind_dopant_eV = 0.2;
  double bind_vacancy_eV = 0.1;
  double bind_double_eV = 0.1;
  double line_eV = 0.0;                 // > 0: vacancy lines
  double initial_single_vacancy = 0.0;  // fraction of chalcogen columns missing one atom at frame 0
  double initial_double_vacancy = 0.0;  // ... missing both
  std::uint64_t seed = 1;
};
/// Throws ConfigError naming the parameter for values out of range.
void validate(const KmcSpec& spec);

enum class KmcEventKind : std::int8_t { sputter = 0, hop = 1 };

struct KmcEvent {
  double time_frames = 0;     // in (k, k + 1] for an event between frames k and k + 1
  KmcEventKind kind = KmcEventKind::hop;
  std::int32_t vacancy = 0;   // vacancy identity
  std::int8_t slot = 0;
  std::int32_t from = -1;     // chalcogen site the vacancy left (-1 for sputtering)
  std::int32_t to = -1;       // chalcogen site it is now on
};

struct KmcVacancy {
  std::int32_t id = 0;
  std::int32_t site = 0;      // chalcogen site
  std::int8_t slot = 0;
};

struct KmcTrajectory {
  std::vector<std::vector<KmcVacancy>> frames;  // per frame, the vacancies by site then slot
  std::vector<KmcEvent> events;                 // in time order
  std::int32_t first_vacancy_id = 0;            // identities start here (after the dopants')
  std::int64_t initial_vacancies = 0;
  double vacancy_frames = 0;                    // integral of the number of vacancies over time
};

class DefectKmc {
 public:
  /// `dopant`: per metal site of the lattice, 1 where a dopant sits. Vacancy identities start at
  /// `first_vacancy_id` (the truth numbers dopants 0..D-1 and vacancies after them).
  DefectKmc(const DefectLattice& lattice, std::vector<std::uint8_t> dopant, const KmcSpec& spec, std::int32_t first_vacancy_id = 0);

  /// Runs frames - 1 frame intervals from the initial state.
  KmcTrajectory run();

  // The model, exposed for tests (state: the current one).
  bool present(std::int32_t site, int slot) const { return present_[std::size_t(site) * 2 + std::size_t(slot)] != 0; }
  double sputter_rate(std::int32_t site, int slot) const;
  double hop_rate(std::int32_t site, int slot, int direction) const;
  /// Energy change of moving the vacancy at (site, slot) to its neighbour in `direction`.
  double hop_energy_change(std::int32_t site, int slot, int direction) const;
  /// Configuration energy (eV), every term counted once.
  double energy() const;
  /// Sets a state directly (tests): present[site * 2 + slot].
  void set_state(const std::vector<std::uint8_t>& present);
  /// Dopants bonded to chalcogen site `site` (0..3).
  int dopant_neighbours(std::int32_t site) const { return dopant_neighbours_[std::size_t(site)]; }

 private:
  struct Move {
    std::int32_t filled = -1, emptied = -1;
    int slot = 0;
  };
  bool vacant(std::int32_t site, int slot, const Move& m) const;
  double terms_with(std::int32_t site, int slot, const Move& m) const;
  void refresh_rates_near(std::int32_t a, std::int32_t b);
  void set_rate(std::size_t channel, double rate);
  std::size_t pick(double u) const;
  std::vector<KmcVacancy> snapshot() const;

  const DefectLattice& lattice_;
  std::vector<std::uint8_t> dopant_;
  KmcSpec spec_;
  std::vector<std::uint8_t> present_;          // per site and slot
  std::vector<std::int32_t> vacancy_id_;       // per site and slot, -1 where present
  std::vector<std::uint8_t> dopant_neighbours_;
  std::int32_t next_id_ = 0;
  std::int32_t first_id_ = 0;
  std::int64_t vacancies_ = 0;
  // Rates of every channel (site, slot, k): k = 0 sputtering, 1..6 a hop in direction k - 1, in a
  // sum tree (each node the exact sum of its children, so no drift from incremental updates).
  std::size_t leaves_ = 1;
  std::vector<double> tree_;
  std::vector<std::uint32_t> stamp_;
  std::uint32_t stamp_now_ = 0;
  std::vector<std::int32_t> ring_, next_;  // breadth-first rings of refresh_rates_near
};

}  // namespace tmdflow::sim
