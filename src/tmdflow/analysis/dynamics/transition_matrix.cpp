#include "tmdflow/analysis/dynamics/transition_matrix.hpp"

#include <cmath>
#include <limits>

#include "tmdflow/analysis/dynamics/bootstrap.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/numeric.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::analysis::dynamics {

namespace {

void check_states(const std::vector<std::vector<int>>& sequences, int states) {
  for (std::size_t s = 0; s < sequences.size(); ++s)
    for (std::size_t k = 0; k < sequences[s].size(); ++k)
      if (sequences[s][k] < -1 || sequences[s][k] >= states)
        throw InputError("transition sequences: expected states -1.." + std::to_string(states - 1) + ", found " +
                         std::to_string(sequences[s][k]) + " in sequence " + std::to_string(s) + " at frame " + std::to_string(k));
}

template <class F>
void for_each_step(const std::vector<int>& seq, F&& f) {
  for (std::size_t k = 0; k + 1 < seq.size(); ++k)
    if (seq[k] >= 0 && seq[k + 1] >= 0) f(k, seq[k], seq[k + 1]);
}

std::vector<double> row_normalised(const std::vector<std::int64_t>& counts, int states) {
  std::vector<double> p(counts.size(), kNaN);
  for (int i = 0; i < states; ++i) {
    std::int64_t row = 0;
    for (int j = 0; j < states; ++j) row += counts[std::size_t(i * states + j)];
    if (row > 0)
      for (int j = 0; j < states; ++j) p[std::size_t(i * states + j)] = double(counts[std::size_t(i * states + j)]) / double(row);
  }
  return p;
}
}  // namespace

void validate(const TransitionSpec& s) {
  if (s.states < 1) throw ConfigError("transition matrix: states: expected at least 1, found " + std::to_string(s.states));
  if (s.bootstrap < 0) throw ConfigError("bootstrap: expected 0 or more replicates, found " + std::to_string(s.bootstrap));
  if (!(s.confidence > 0 && s.confidence < 1)) throw ConfigError("confidence: expected a value in (0, 1), found " + str::number(s.confidence));
}

std::vector<std::int64_t> transition_counts(const std::vector<std::vector<int>>& sequences, int states) {
  check_states(sequences, states);
  std::vector<std::int64_t> c(std::size_t(states) * std::size_t(states), 0);
  for (const auto& seq : sequences) for_each_step(seq, [&](std::size_t, int i, int j) { ++c[std::size_t(i * states + j)]; });
  return c;
}

std::vector<std::int64_t> transition_counts_per_step(const std::vector<std::vector<int>>& sequences, int states, int steps) {
  check_states(sequences, states);
  const std::size_t cc = std::size_t(states) * std::size_t(states);
  std::vector<std::int64_t> c(std::size_t(std::max(steps, 0)) * cc, 0);
  for (const auto& seq : sequences)
    for_each_step(seq, [&](std::size_t k, int i, int j) {
      if (k < std::size_t(std::max(steps, 0))) ++c[k * cc + std::size_t(i * states + j)];
    });
  return c;
}

TransitionEstimate estimate_transitions(const std::vector<std::vector<int>>& sequences, const TransitionSpec& spec) {
  validate(spec);
  const int C = spec.states;
  const std::size_t cc = std::size_t(C) * std::size_t(C);
  TransitionEstimate e;
  e.states = C;
  // Per-sequence counts: a bootstrap replicate sums those of the drawn sequences.
  std::vector<std::vector<std::int64_t>> per;
  for (const auto& seq : sequences) {
    auto c = transition_counts({seq}, C);
    std::int64_t n = 0;
    for (auto v : c) n += v;
    if (n > 0) per.push_back(std::move(c));
  }
  e.sequences = std::int64_t(per.size());
  e.counts.assign(cc, 0);
  for (const auto& c : per)
    for (std::size_t k = 0; k < cc; ++k) e.counts[k] += c[k];
  e.row_counts.assign(std::size_t(C), 0);
  for (int i = 0; i < C; ++i)
    for (int j = 0; j < C; ++j) e.row_counts[std::size_t(i)] += e.counts[std::size_t(i * C + j)];
  e.probability = row_normalised(e.counts, C);
  e.lower.assign(cc, kNaN);
  e.upper.assign(cc, kNaN);
  if (spec.bootstrap == 0 || per.empty()) return e;

  std::vector<std::vector<double>> samples(cc);
  std::vector<std::int64_t> sum(cc);
  for (int b = 0; b < spec.bootstrap; ++b) {
    std::fill(sum.begin(), sum.end(), 0);
    for (std::size_t s : bootstrap_draw(per.size(), spec.seed, std::uint64_t(b)))
      for (std::size_t k = 0; k < cc; ++k) sum[k] += per[s][k];
    const auto p = row_normalised(sum, C);
    for (std::size_t k = 0; k < cc; ++k)
      if (!std::isnan(p[k])) samples[k].push_back(p[k]);  // a replicate without steps in a row says nothing of it
  }
  const double tail = (1 - spec.confidence) / 2;
  for (std::size_t k = 0; k < cc; ++k) {
    if (std::isnan(e.probability[k])) continue;
    e.lower[k] = quantile(samples[k], tail);
    e.upper[k] = quantile(samples[k], 1 - tail);
  }
  return e;
}

}  // namespace tmdflow::analysis::dynamics
