#pragma once
// Per-pattern inference over a 4D-STEM datacube: each diffraction pattern (Qx, Qy) is one sample
// (1, Qx, Qy) of a PatchModel, and its C output values form maps (C, Rx, Ry) over the scan.
// It is a PatternAnalysis (io/pattern_pass.hpp), so it shares one read of the datacube with
// virtual detectors and other per-pattern analyses; its outputs are per scan position, so ranks
// never merge them: each writes its own scan rows.
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/io/pattern_pass.hpp"
#include "tmdflow/learn/patch_model.hpp"

namespace tmdflow::learn {

struct PatternInferenceOptions {
  std::int64_t batch_size = 64;  // patterns per model call
  io::PassOptions pass;          // block size (0: one batch) and progress of the pass when run alone
};

class PatternInference : public io::PatternAnalysis {
 public:
  /// The model must outlive the analysis.
  PatternInference(PatchModel& model, PatternInferenceOptions options = {});

  void prepare(const io::DatacubeMeta& meta, const io::Shard& shard) override;
  void process(const io::PatternBlock& block) override;
  /// Checks that every rank's model gave the same number of values per pattern.
  void merge(const par::Comm& comm) override;

  /// Collective: writes this rank's rows of the maps into a new float32 dataset `name` of `out`
  /// with shape (C, Rx, Ry), chunked in tiles of at most (1, 256, 256).
  void write(const par::Comm& comm, const io::h5::Group& out, const std::string& name) const;

  std::int64_t channels() const { return channels_; }
  const io::Shard& shard() const { return shard_; }
  /// This rank's maps on the host: (C, shard patterns), row-major in scan order.
  const std::vector<float>& local_maps() const { return maps_; }

 private:
  PatchModel& model_;
  PatternInferenceOptions options_;
  io::Shard shard_;
  std::int64_t scan_rows_ = 0, channels_ = 0;
  SampleShape sample_;
  std::vector<float> maps_, batch_, out_;
};

/// Collective: one pass over the datacube running `model` on every pattern; writes the maps
/// (C, Rx, Ry) as dataset `name` of `out` and returns their shape.
std::vector<std::int64_t> infer_datacube_patterns(const par::Comm& comm, PatchModel& model, const io::DatacubeReader& reader,
                                                  const io::h5::Group& out, const std::string& name,
                                                  const PatternInferenceOptions& options = {});

}  // namespace tmdflow::learn
