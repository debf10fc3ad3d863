#pragma once
// Counter-based random numbers: every draw is a pure function of (seed, stream, index...), so a
// result is the same whatever the number of ranks and whichever rank makes which part (sim and
// cluster key their draws by global indices). SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA
// 2014) chained over the keys. Callable inside Kokkos kernels.
#include <Kokkos_Core.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace tmdflow::par::rng {

KOKKOS_INLINE_FUNCTION constexpr std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Hash of a seed and any number of keys.
KOKKOS_INLINE_FUNCTION constexpr std::uint64_t key(std::uint64_t seed) { return mix(seed); }
template <class... Rest>
KOKKOS_INLINE_FUNCTION constexpr std::uint64_t key(std::uint64_t seed, std::uint64_t k, Rest... rest) {
  return key(mix(seed ^ mix(k + 0x632be59bd9b4e019ULL)), static_cast<std::uint64_t>(rest)...);
}

/// Uniform in [0, 1) from a 64-bit key (53 random bits).
KOKKOS_INLINE_FUNCTION constexpr double uniform(std::uint64_t k) { return double(k >> 11) * (1.0 / 9007199254740992.0); }

/// A small generator (UniformRandomBitGenerator) for sequential draws from one key, e.g. to feed
/// std::poisson_distribution. Sequence depends only on the starting key.
class Stream {
 public:
  using result_type = std::uint64_t;
  explicit Stream(std::uint64_t start) : state_(start) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() { return mix(state_ += 0x9e3779b97f4a7c15ULL); }
  double uniform() { return rng::uniform((*this)()); }
  /// Standard normal (Box-Muller, one value per call).
  double normal() {
    double u1 = uniform();
    const double u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

}  // namespace tmdflow::par::rng
