#pragma once
// Random choices of the cluster layer: par's counter-based draws keyed by (seed, purpose, global
// index...), never by rank, so a fit on N ranks makes the same choices as on one.
#include <cstdint>

#include "tmdflow/par/random.hpp"

namespace tmdflow::cluster::rng {

using namespace tmdflow::par::rng;  // key, uniform: the project's counter-based hash

/// What a draw is for: keeps the streams of different choices apart.
enum Purpose : std::uint64_t {
  nmf_components = 1,
  nmf_loadings = 2,
  kmeans_first_center = 3,
  kmeans_candidate = 4,
};

}  // namespace tmdflow::cluster::rng
