#pragma once
// Counter-based random numbers of the cluster layer: every draw is a pure function of
// (seed, purpose, global index...), never of the rank, so a fit on N ranks makes the same choices
// as on one. SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014) chained over the keys.
#include <Kokkos_Core.hpp>

#include <cstdint>

namespace tmdflow::cluster::rng {

KOKKOS_INLINE_FUNCTION constexpr std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Hash of a seed and three keys (unused keys are 0).
KOKKOS_INLINE_FUNCTION constexpr std::uint64_t key(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0,
                                                   std::uint64_t c = 0) {
  std::uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ (a + 0x632be59bd9b4e019ULL));
  h = splitmix64(h ^ (b + 0x8cb92ba72f3d8dd7ULL));
  return splitmix64(h ^ (c + 0x1d8e4e27c47d124fULL));
}

/// Uniform in [0, 1) from a 64-bit key (53 random bits).
KOKKOS_INLINE_FUNCTION constexpr double uniform(std::uint64_t k) {
  return double(k >> 11) * (1.0 / 9007199254740992.0);
}

/// What a draw is for: keeps the streams of different choices apart.
enum Purpose : std::uint64_t {
  nmf_components = 1,
  nmf_loadings = 2,
  kmeans_first_center = 3,
  kmeans_candidate = 4,
};

}  // namespace tmdflow::cluster::rng
