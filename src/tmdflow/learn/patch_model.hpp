#pragma once
// The model seen by patch inference: a batch of samples in, a few values per sample out. The
// interface is free of LibTorch so that stages and other layers include it without torch's slow
// headers; learn/torch_model.hpp adapts torch modules and TorchScript files to it.
#include <cstdint>
#include <string>
#include <vector>

namespace tmdflow::learn {

/// Shape of one sample fed to a model: (channels, height, width), float32, row-major.
struct SampleShape {
  std::int64_t channels = 1, height = 0, width = 0;
  std::int64_t size() const { return channels * height * width; }
  /// "(1, 5, 6)"
  std::string describe() const;
};

/// What a model returned for a batch: its shape (leading axis: the samples) and values, row-major.
struct ModelOutput {
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

class PatchModel {
 public:
  virtual ~PatchModel() = default;
  /// Values the model returns per sample of this shape (the C of the output maps). May run the
  /// model on one sample to find out.
  virtual std::int64_t output_channels(const SampleShape& sample) = 0;
  /// Runs the model on n samples stored contiguously as float[n][channels][height][width].
  virtual ModelOutput forward(const float* batch, std::int64_t n, const SampleShape& sample) = 0;
  /// Names the model in messages ("TorchScript model /path/m.pt").
  virtual std::string name() const = 0;
};

/// Runs `model` on n samples and copies its values into out[n][channels]. Throws InputError
/// naming the model, the expected and the found shape when the output does not hold n samples of
/// `channels` values each (trailing axes are flattened: (n, C, 1, 1) is accepted).
void run_checked(PatchModel& model, const float* batch, std::int64_t n, const SampleShape& sample,
                 std::int64_t channels, float* out);

}  // namespace tmdflow::learn
