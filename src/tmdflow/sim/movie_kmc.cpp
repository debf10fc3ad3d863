#include "tmdflow/sim/movie_kmc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"
#include "tmdflow/sim/random.hpp"

namespace tmdflow::sim {

namespace {
constexpr int kChannels = 7;  // per site and slot: sputtering, then six hop directions
constexpr double kBarnA2 = 1e-8;
enum KmcKey : std::uint64_t { initial_kind = 0x6b6d63696eULL, initial_slot, trajectory };

void check_range(double v, double lo, double hi, const std::string& what) {
  if (!(v >= lo && v <= hi)) throw ConfigError(what + ": expected a value in [" + str::number(lo) + ", " + str::number(hi) + "], found " + str::number(v));
}
}  // namespace

void validate(const KmcSpec& s) {
  if (s.frames < 1) throw ConfigError("frames: expected at least 1, found " + std::to_string(s.frames));
  const double big = 1e12;
  check_range(s.dose_e_per_A2, 0, big, "dose-e-per-A2");
  check_range(s.sputter_barn, 0, big, "sputter-barn");
  check_range(s.sputter_entrance_ratio, 0, big, "sputter-entrance-ratio");
  check_range(s.sputter_dopant_ratio, 0, big, "sputter-dopant-ratio");
  check_range(s.hop_rate_per_frame, 0, 1e3, "hop-rate-per-frame");
  if (!(s.kT_eV > 0 && s.kT_eV < 100)) throw ConfigError("kT-eV: expected a positive value below 100, found " + str::number(s.kT_eV));
  for (const auto& [v, name] : {std::pair{s.bind_dopant_eV, "bind-dopant-eV"}, std::pair{s.bind_vacancy_eV, "bind-vacancy-eV"},
                                std::pair{s.bind_double_eV, "bind-double-eV"}, std::pair{s.line_eV, "line-eV"}})
    check_range(v, -100, 100, name);
  check_range(s.initial_single_vacancy, 0, 1, "initial-single-vacancy");
  check_range(s.initial_double_vacancy, 0, 1, "initial-double-vacancy");
  if (s.initial_single_vacancy + s.initial_double_vacancy > 1)
    throw ConfigError("initial-single-vacancy + initial-double-vacancy: expected at most 1, found " +
                      str::number(s.initial_single_vacancy + s.initial_double_vacancy));
  // A sputtering probability per frame near 1 leaves nothing to watch; the rate model assumes events are rare.
  if (s.sputter_barn * kBarnA2 * s.dose_e_per_A2 * std::max({1.0, s.sputter_entrance_ratio, s.sputter_dopant_ratio}) > 0.5)
    throw ConfigError("sputter-barn x dose-e-per-A2: expected at most 0.5 sputtering events per atom and frame, found " +
                      str::number(s.sputter_barn * kBarnA2 * s.dose_e_per_A2));
}

DefectKmc::DefectKmc(const DefectLattice& lattice, std::vector<std::uint8_t> dopant, const KmcSpec& spec, std::int32_t first_vacancy_id)
    : lattice_(lattice), dopant_(std::move(dopant)), spec_(spec), next_id_(first_vacancy_id), first_id_(first_vacancy_id) {
  validate(spec);
  if (dopant_.size() != lattice.metals())
    throw ConfigError("DefectKmc: expected one dopant flag per metal site (" + std::to_string(lattice.metals()) + "), found " +
                      std::to_string(dopant_.size()));
  const std::size_t n = lattice.chalcogens();
  dopant_neighbours_.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::int32_t m : lattice.chalcogen_metals[i])
      if (m >= 0 && dopant_[std::size_t(m)]) ++dopant_neighbours_[i];
  present_.assign(2 * n, 1);
  vacancy_id_.assign(2 * n, -1);
  // Initial vacancies: one draw per site, keyed by the site (not by loop order).
  for (std::size_t i = 0; i < n; ++i) {
    const double u = rng::uniform(rng::key(spec.seed, initial_kind, i));
    if (u < spec.initial_single_vacancy) {
      const int slot = rng::uniform(rng::key(spec.seed, initial_slot, i)) < 0.5 ? 0 : 1;
      present_[2 * i + std::size_t(slot)] = 0;
    } else if (u < spec.initial_single_vacancy + spec.initial_double_vacancy) {
      present_[2 * i] = present_[2 * i + 1] = 0;
    }
  }
  set_state(present_);
}

void DefectKmc::set_state(const std::vector<std::uint8_t>& present) {
  const std::size_t n = lattice_.chalcogens();
  if (present.size() != 2 * n) throw ConfigError("DefectKmc::set_state: expected " + std::to_string(2 * n) + " slots, found " + std::to_string(present.size()));
  present_ = present;
  next_id_ = first_id_;
  vacancies_ = 0;
  for (std::size_t k = 0; k < 2 * n; ++k) {
    vacancy_id_[k] = present_[k] ? -1 : next_id_++;
    vacancies_ += present_[k] ? 0 : 1;
  }
  leaves_ = 1;
  while (leaves_ < 2 * n * kChannels) leaves_ *= 2;
  tree_.assign(2 * leaves_, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (int slot = 0; slot < 2; ++slot) {
      const std::size_t base = (2 * i + std::size_t(slot)) * kChannels;
      tree_[leaves_ + base] = sputter_rate(std::int32_t(i), slot);
      for (int d = 0; d < 6; ++d) tree_[leaves_ + base + 1 + std::size_t(d)] = hop_rate(std::int32_t(i), slot, d);
    }
  for (std::size_t k = leaves_ - 1; k >= 1; --k) tree_[k] = tree_[2 * k] + tree_[2 * k + 1];
  stamp_.assign(n, 0);
  stamp_now_ = 0;
}

bool DefectKmc::vacant(std::int32_t site, int slot, const Move& m) const {
  if (slot == m.slot) {
    if (site == m.filled) return false;
    if (site == m.emptied) return true;
  }
  return present_[std::size_t(site) * 2 + std::size_t(slot)] == 0;
}

// Every energy term that holds the vacancy (site, slot), in the state changed by move m.
double DefectKmc::terms_with(std::int32_t site, int slot, const Move& m) const {
  const auto& nb = lattice_.chalcogen_neighbours;
  double e = -spec_.bind_dopant_eV * dopant_neighbours_[std::size_t(site)];
  if (vacant(site, 1 - slot, m)) e -= spec_.bind_double_eV;
  const auto& around = nb[std::size_t(site)];
  for (int d = 0; d < 6; ++d)
    if (around[std::size_t(d)] >= 0 && vacant(around[std::size_t(d)], slot, m)) e -= spec_.bind_vacancy_eV;
  if (spec_.line_eV != 0) {
    for (int d = 0; d < 3; ++d) {  // the site in the middle of a row of three
      const std::int32_t a = around[std::size_t(d)], b = around[std::size_t(d + 3)];
      if (a >= 0 && b >= 0 && vacant(a, slot, m) && vacant(b, slot, m)) e -= spec_.line_eV;
    }
    for (int d = 0; d < 6; ++d) {  // the site at the end of a row of three
      const std::int32_t a = around[std::size_t(d)];
      if (a < 0) continue;
      const std::int32_t b = nb[std::size_t(a)][std::size_t(d)];
      if (b >= 0 && vacant(a, slot, m) && vacant(b, slot, m)) e -= spec_.line_eV;
    }
  }
  return e;
}

double DefectKmc::hop_energy_change(std::int32_t site, int slot, int direction) const {
  const std::int32_t to = lattice_.chalcogen_neighbours[std::size_t(site)][std::size_t(direction)];
  if (to < 0) return std::numeric_limits<double>::quiet_NaN();
  // No term holds both ends (before the move `to` is present, after it `site` is), so the change is
  // the terms of the vacancy at its new place less those at its old one.
  return terms_with(to, slot, Move{site, to, slot}) - terms_with(site, slot, Move{});
}

double DefectKmc::energy() const {
  const auto& nb = lattice_.chalcogen_neighbours;
  double e = 0;
  for (std::size_t i = 0; i < lattice_.chalcogens(); ++i) {
    const auto s = std::int32_t(i);
    if (!present(s, 0) && !present(s, 1)) e -= spec_.bind_double_eV;
    for (int slot = 0; slot < 2; ++slot) {
      if (present(s, slot)) continue;
      e -= spec_.bind_dopant_eV * dopant_neighbours_[i];
      for (int d = 0; d < 3; ++d) {
        const std::int32_t a = nb[i][std::size_t(d)], b = nb[i][std::size_t(d + 3)];
        if (a >= 0 && !present(a, slot)) e -= spec_.bind_vacancy_eV;
        if (a >= 0 && b >= 0 && !present(a, slot) && !present(b, slot)) e -= spec_.line_eV;
      }
    }
  }
  return e;
}

double DefectKmc::sputter_rate(std::int32_t site, int slot) const {
  if (!present(site, slot)) return 0;
  double sigma = spec_.sputter_barn * kBarnA2 * (slot == 1 ? 1.0 : spec_.sputter_entrance_ratio);
  if (dopant_neighbours_[std::size_t(site)] > 0) sigma *= spec_.sputter_dopant_ratio;
  return sigma * spec_.dose_e_per_A2;
}

double DefectKmc::hop_rate(std::int32_t site, int slot, int direction) const {
  if (present(site, slot) || spec_.hop_rate_per_frame == 0) return 0;
  const std::int32_t to = lattice_.chalcogen_neighbours[std::size_t(site)][std::size_t(direction)];
  if (to < 0 || !present(to, slot)) return 0;
  const double de = hop_energy_change(site, slot, direction);
  return spec_.hop_rate_per_frame * (de <= 0 ? 1.0 : std::exp(-de / spec_.kT_eV));
}

void DefectKmc::set_rate(std::size_t channel, double rate) {
  std::size_t k = leaves_ + channel;
  if (tree_[k] == rate) return;  // most channels near a change stay closed (0 -> 0)
  tree_[k] = rate;
  for (k /= 2; k >= 1; k /= 2) tree_[k] = tree_[2 * k] + tree_[2 * k + 1];
}

std::size_t DefectKmc::pick(double target) const {
  std::size_t k = 1;
  while (k < leaves_) {
    if (target < tree_[2 * k] || tree_[2 * k + 1] <= 0) {
      k = 2 * k;
    } else {
      target -= tree_[2 * k];
      k = 2 * k + 1;
    }
  }
  return k - leaves_;
}

// A change at a site alters the rates of the vacancies up to three hops away (a hop's energy looks
// at the neighbours of both ends and, for lines, one site further): refresh every channel there.
void DefectKmc::refresh_rates_near(std::int32_t a, std::int32_t b) {
  ++stamp_now_;
  ring_.clear();
  for (std::int32_t s : {a, b})
    if (s >= 0 && stamp_[std::size_t(s)] != stamp_now_) {
      stamp_[std::size_t(s)] = stamp_now_;
      ring_.push_back(s);
    }
  for (int depth = 0; depth <= 3; ++depth) {
    for (std::int32_t s : ring_)
      for (int slot = 0; slot < 2; ++slot) {
        const std::size_t base = (std::size_t(s) * 2 + std::size_t(slot)) * kChannels;
        set_rate(base, sputter_rate(s, slot));
        for (int d = 0; d < 6; ++d) set_rate(base + 1 + std::size_t(d), hop_rate(s, slot, d));
      }
    if (depth == 3) break;
    next_.clear();
    for (std::int32_t s : ring_)
      for (std::int32_t n : lattice_.chalcogen_neighbours[std::size_t(s)])
        if (n >= 0 && stamp_[std::size_t(n)] != stamp_now_) {
          stamp_[std::size_t(n)] = stamp_now_;
          next_.push_back(n);
        }
    ring_.swap(next_);
  }
}

std::vector<KmcVacancy> DefectKmc::snapshot() const {
  std::vector<KmcVacancy> v;
  v.reserve(std::size_t(vacancies_));
  for (std::size_t k = 0; k < present_.size(); ++k)
    if (!present_[k]) v.push_back(KmcVacancy{vacancy_id_[k], std::int32_t(k / 2), std::int8_t(k % 2)});
  return v;
}

KmcTrajectory DefectKmc::run() {
  KmcTrajectory out;
  out.first_vacancy_id = first_id_;
  out.initial_vacancies = vacancies_;
  out.frames.push_back(snapshot());
  rng::Stream g(rng::key(spec_.seed, trajectory));
  const double end = spec_.frames - 1;
  double t = 0;
  int next_frame = 1;
  while (next_frame < spec_.frames) {
    const double total = tree_[1];
    const double u = g.uniform();
    const double dt = total > 0 ? -std::log1p(-u) / total : std::numeric_limits<double>::infinity();
    out.vacancy_frames += double(vacancies_) * (std::min(t + dt, end) - t);
    while (next_frame < spec_.frames && t + dt > next_frame) {
      out.frames.push_back(snapshot());
      ++next_frame;
    }
    if (next_frame >= spec_.frames) break;
    t += dt;
    const std::size_t channel = pick(g.uniform() * total);
    const std::size_t k = channel / kChannels;  // site * 2 + slot
    const auto site = std::int32_t(k / 2);
    const int slot = int(k % 2), kind = int(channel % kChannels);
    KmcEvent e;
    e.time_frames = t;
    e.slot = std::int8_t(slot);
    if (kind == 0) {
      e.kind = KmcEventKind::sputter;
      e.to = site;
      present_[k] = 0;
      vacancy_id_[k] = e.vacancy = next_id_++;
      ++vacancies_;
      refresh_rates_near(site, -1);
    } else {
      const std::int32_t to = lattice_.chalcogen_neighbours[std::size_t(site)][std::size_t(kind - 1)];
      const std::size_t kt = std::size_t(to) * 2 + std::size_t(slot);
      e.kind = KmcEventKind::hop;
      e.from = site;
      e.to = to;
      e.vacancy = vacancy_id_[k];
      present_[k] = 1;
      present_[kt] = 0;
      vacancy_id_[kt] = vacancy_id_[k];
      vacancy_id_[k] = -1;
      refresh_rates_near(site, to);
    }
    out.events.push_back(e);
  }
  return out;
}

}  // namespace tmdflow::sim
