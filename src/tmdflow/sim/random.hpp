#pragma once
// The simulation's random numbers are par's counter-based ones (par/random.hpp).
#include "tmdflow/par/random.hpp"

namespace tmdflow::sim {
namespace rng = tmdflow::par::rng;
}  // namespace tmdflow::sim
