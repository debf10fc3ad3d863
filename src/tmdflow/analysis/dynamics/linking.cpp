#include "tmdflow/analysis/dynamics/linking.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "tmdflow/analysis/dynamics/assignment.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::analysis::dynamics {

void validate(const LinkSpec& s) {
  if (!(s.max_displacement > 0 && std::isfinite(s.max_displacement)))
    throw ConfigError("max-displacement-A: expected a positive distance, found " + str::number(s.max_displacement));
  if (s.max_gap < 0 || s.max_gap > 1000) throw ConfigError("max-gap: expected 0 to 1000 frames, found " + std::to_string(s.max_gap));
}

namespace {

struct OpenTrack {
  std::int64_t id = 0, last_frame = 0;
  double x = 0, y = 0;
  int species = 0;
};

/// Union-find over tracks (0..n-1) and detections (n..n+m-1).
struct Groups {
  std::vector<int> parent;
  explicit Groups(int n) : parent(std::size_t(n)) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int a) {
    while (parent[std::size_t(a)] != a) a = parent[std::size_t(a)] = parent[std::size_t(parent[std::size_t(a)])];
    return a;
  }
  void join(int a, int b) { parent[std::size_t(find(a))] = find(b); }
};

}  // namespace

std::vector<std::int64_t> link_tracks(const std::vector<LinkDetection>& detections, const LinkSpec& spec) {
  validate(spec);
  const double gate2 = spec.max_displacement * spec.max_displacement;
  const double penalty = spec.gap_penalty >= 0 ? spec.gap_penalty : 0.25 * gate2;
  std::map<std::int64_t, std::vector<int>> by_frame;
  for (std::size_t k = 0; k < detections.size(); ++k) {
    if (detections[k].frame < 0) throw InputError("link_tracks: expected frames >= 0, found " + std::to_string(detections[k].frame));
    by_frame[detections[k].frame].push_back(int(k));
  }
  std::vector<std::int64_t> track(detections.size(), -1);
  std::vector<OpenTrack> open;
  std::int64_t next_id = 0;
  for (const auto& [frame_key, members] : by_frame) {
    const std::int64_t frame = frame_key;  // a plain variable: lambdas may not capture structured bindings (C++17)
    // Tracks still open for this frame.
    open.erase(std::remove_if(open.begin(), open.end(), [&](const OpenTrack& t) { return frame - t.last_frame > spec.max_gap + 1; }), open.end());
    const int n = int(open.size()), m = int(members.size());
    // Candidate pairs, and the groups they connect.
    auto pairs = std::vector<std::vector<std::pair<int, double>>>(std::size_t(n));
    Groups groups(n + m);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) {
        const LinkDetection& d = detections[std::size_t(members[std::size_t(j)])];
        const OpenTrack& t = open[std::size_t(i)];
        if (d.species != t.species) continue;
        const double r2 = (d.x - t.x) * (d.x - t.x) + (d.y - t.y) * (d.y - t.y);
        if (r2 >= gate2) continue;
        pairs[std::size_t(i)].push_back({j, r2 + penalty * double(frame - t.last_frame - 1)});
        groups.join(i, n + j);
      }
    std::vector<int> linked_track(std::size_t(m), -1);  // per detection: the open track it continues
    std::map<int, std::pair<std::vector<int>, std::vector<int>>> components;  // root -> (tracks, detections)
    for (int i = 0; i < n; ++i)
      if (!pairs[std::size_t(i)].empty()) components[groups.find(i)].first.push_back(i);
    for (int j = 0; j < m; ++j) {
      const auto it = components.find(groups.find(n + j));
      if (it != components.end()) it->second.second.push_back(j);
    }
    for (const auto& [root, parts] : components) {
      const auto& [rows, cols] = parts;
      // Columns: the group's detections, then one "stays unlinked" column per track.
      const int R = int(rows.size()), C = int(cols.size()) + R;
      const double forbidden = 4 * (gate2 + penalty * (spec.max_gap + 1)) + 1;
      std::vector<double> cost(std::size_t(R) * C, forbidden);
      std::map<int, int> column_of;
      for (int c = 0; c < int(cols.size()); ++c) column_of[cols[std::size_t(c)]] = c;
      for (int r = 0; r < R; ++r) {
        for (const auto& [j, c] : pairs[std::size_t(rows[std::size_t(r)])]) cost[std::size_t(r) * C + std::size_t(column_of[j])] = c;
        cost[std::size_t(r) * C + cols.size() + std::size_t(r)] = gate2 + penalty * double(frame - open[std::size_t(rows[std::size_t(r)])].last_frame - 1);
      }
      const std::vector<int> pick = solve_assignment(cost, R, C);
      for (int r = 0; r < R; ++r)
        if (pick[std::size_t(r)] < int(cols.size()) && cost[std::size_t(r) * C + std::size_t(pick[std::size_t(r)])] < forbidden)
          linked_track[std::size_t(cols[std::size_t(pick[std::size_t(r)])])] = rows[std::size_t(r)];
    }
    for (int j = 0; j < m; ++j) {
      const int k = members[std::size_t(j)];
      const LinkDetection& d = detections[std::size_t(k)];
      if (linked_track[std::size_t(j)] >= 0) {
        OpenTrack& t = open[std::size_t(linked_track[std::size_t(j)])];
        track[std::size_t(k)] = t.id;
        t.last_frame = frame, t.x = d.x, t.y = d.y;
      }
    }
    for (int j = 0; j < m; ++j) {
      const int k = members[std::size_t(j)];
      if (track[std::size_t(k)] >= 0) continue;
      const LinkDetection& d = detections[std::size_t(k)];
      track[std::size_t(k)] = next_id;
      open.push_back({next_id++, frame, d.x, d.y, d.species});
    }
  }
  return track;
}

}  // namespace tmdflow::analysis::dynamics
