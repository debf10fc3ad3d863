#pragma once
// One training sample and one rank's share of a batch, as plain arrays (no torch here: the data
// side of training -- streaming, augmentation, normalisation -- is unit-testable without it).
#include <cstdint>
#include <vector>

namespace tmdflow::learn {

/// What a target is: K regression values per sample, or a map with the input's height and width
/// (per-pixel class indices stored as float, or heat maps).
enum class TargetKind { values, map };

struct Sample {
  std::int64_t index = 0;  // global index in the trainset: keys its augmentation
  std::int64_t channels = 1, height = 0, width = 0;
  std::vector<float> input;   // (channels, height, width)
  TargetKind target_kind = TargetKind::values;
  std::int64_t target_channels = 1;  // planes of a map target: 1 (class indices or one map), or C maps
  std::vector<float> target;  // K values, or (target_channels, height, width)
};

/// This rank's part of one global batch. Inputs (count, channels, height, width); targets
/// (count, K), (count, height, width) or (count, C, height, width).
struct Batch {
  std::int64_t count = 0;         // samples on this rank (may be 0)
  std::int64_t global_count = 0;  // samples of the whole batch over all ranks
  std::int64_t channels = 1, height = 0, width = 0;
  TargetKind target_kind = TargetKind::values;
  std::int64_t target_channels = 1;  // planes of map targets
  std::int64_t target_values = 0;  // K for values; target_channels * height * width for maps
  std::vector<float> inputs;
  std::vector<float> targets;
  std::vector<std::int64_t> indices;  // global trainset index of each sample
};

}  // namespace tmdflow::learn
