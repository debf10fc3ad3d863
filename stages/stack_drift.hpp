#pragma once
// The drift of an image stack (track-defects, site-instability): each frame registered to the one
// before (analysis/dynamics/registration.hpp; frames binned to about 0.25 A per pixel unless `bin`
// says), the steps summed from frame 0. Ranks register blocks of frames; every rank gets all shifts.
#include <string>
#include <vector>

#include "tmdflow/analysis/dynamics/registration.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::stages {

struct StackDriftSpec {
  double pixel_A = 0;
  double max_drift_A = 1.5;  // per frame
  int bin = 0;               // 0: to about 0.25 A per pixel
};

/// Shift of each frame's content from frame 0, in pixels (frames entries; frame 0 is zero).
std::vector<analysis::dynamics::Shift> measure_stack_drift(const par::Comm& comm, const std::string& images, const StackDriftSpec& spec,
                                                           const std::string& progress_label);

}  // namespace tmdflow::stages
