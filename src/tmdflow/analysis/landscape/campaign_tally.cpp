#include "tmdflow/analysis/landscape/campaign_tally.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tmdflow/core/error.hpp"

namespace tmdflow::analysis {

namespace {
// The pair table is dense (U x U): a landscape cut into more basins than this is noise, which
// --min-depth-meV merges.
constexpr int kMaxUnfoldedBasins = 512;
}  // namespace

CampaignTally::CampaignTally(const sim::LabelSymmetry& symmetry, Basins folded, Basins unfolded, SlipHistogram fractions,
                             std::optional<SlipHistogram> tedgen, double min_confidence)
    : symmetry_(symmetry),
      folded_(std::move(folded)),
      unfolded_(std::move(unfolded)),
      fractions_(std::move(fractions)),
      tedgen_(std::move(tedgen)),
      min_confidence_(min_confidence) {
  if (symmetry_.size != 2 || symmetry_.maps.empty() || symmetry_.maps.size() > 2)
    throw ConfigError("campaign statistics: expected a bilayer slip symmetry of at most 2 members, found " + symmetry_.what);
  if (unfolded_.count() > kMaxUnfoldedBasins)
    throw ConfigError("min-depth-meV: the landscape falls into " + std::to_string(unfolded_.count()) + " basins, expected at most " +
                      std::to_string(kMaxUnfoldedBasins) + " (raise the depth below which basins merge)");
  basin_count_.assign(std::size_t(folded_.count()), 0.0);
  pair_count_.assign(std::size_t(unfolded_.count()) * std::size_t(unfolded_.count()), 0.0);
}

std::array<std::int32_t, 2> CampaignTally::basin_pair(double slip_a, double slip_b) const {
  std::array<std::int32_t, 2> pair{};
  for (std::size_t g = 0; g < 2; ++g) {
    const auto s = equivalent_slip(symmetry_, std::min(g, symmetry_.maps.size() - 1), slip_a, slip_b);
    pair[g] = unfolded_.at(s[0], s[1]);
  }
  if (pair[0] > pair[1]) std::swap(pair[0], pair[1]);
  return pair;
}

ImageTally CampaignTally::add_image(const std::vector<CampaignWindow>& windows) {
  ImageTally t;
  t.basin_count.assign(std::size_t(folded_.count()), 0);
  t.window_basin.assign(windows.size(), -1);
  double confidence_sum = 0;
  std::int64_t confidence_count = 0;
  const double member_weight = 1.0 / double(symmetry_.maps.size());
  for (std::size_t w = 0; w < windows.size(); ++w) {
    const CampaignWindow& x = windows[w];
    if (!std::isfinite(x.slip_a) || !std::isfinite(x.slip_b)) {
      ++t.missing;
      continue;
    }
    if (std::isfinite(x.confidence)) {
      confidence_sum += x.confidence;
      ++confidence_count;
      if (x.confidence < min_confidence_) {
        ++t.low_confidence;
        continue;
      }
    }
    ++t.kept;
    const std::int32_t b = folded_.at(x.slip_a, x.slip_b);
    t.window_basin[w] = b;
    ++t.basin_count[std::size_t(b)];
    basin_count_[std::size_t(b)] += 1;
    const auto pair = basin_pair(x.slip_a, x.slip_b);
    pair_count_[std::size_t(pair[0]) * std::size_t(unfolded_.count()) + std::size_t(pair[1])] += 1;
    // In fractions the image cannot tell the members of the class apart: each gets its share.
    for (std::size_t g = 0; g < symmetry_.maps.size(); ++g) {
      const auto s = equivalent_slip(symmetry_, g, x.slip_a, x.slip_b);
      fractions_.add(s[0], s[1], member_weight);
    }
    if (tedgen_ && !tedgen_->add(x.da_A, x.db_A)) totals_[3] += 1;
  }
  totals_[0] += double(t.kept), totals_[1] += double(t.low_confidence), totals_[2] += double(t.missing);
  t.mean_confidence = confidence_count > 0 ? confidence_sum / double(confidence_count) : std::numeric_limits<double>::quiet_NaN();
  return t;
}

std::vector<double> CampaignTally::counts() const {
  std::vector<double> all;
  for (const auto* v : {&basin_count_, &pair_count_, &fractions_.counts, &totals_}) all.insert(all.end(), v->begin(), v->end());
  if (tedgen_) all.insert(all.end(), tedgen_->counts.begin(), tedgen_->counts.end());
  return all;
}

void CampaignTally::set_counts(const std::vector<double>& all) {
  std::size_t at = 0;
  auto take = [&](std::vector<double>& v) {
    std::copy(all.begin() + std::ptrdiff_t(at), all.begin() + std::ptrdiff_t(at + v.size()), v.begin());
    at += v.size();
  };
  if (all.size() != counts().size())
    throw Error("campaign statistics: expected " + std::to_string(counts().size()) + " counts, found " + std::to_string(all.size()),
                ExitCode::failure);
  take(basin_count_);
  take(pair_count_);
  take(fractions_.counts);
  take(totals_);
  if (tedgen_) take(tedgen_->counts);
}

}  // namespace tmdflow::analysis
