#include "tmdflow/learn/patch_model.hpp"

#include <algorithm>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/strings.hpp"

namespace tmdflow::learn {

std::string SampleShape::describe() const { return str::shape_string({channels, height, width}); }

void run_checked(PatchModel& model, const float* batch, std::int64_t n, const SampleShape& sample, std::int64_t channels,
                 float* out) {
  if (n <= 0) return;
  ModelOutput result = model.forward(batch, n, sample);
  std::int64_t per_sample = 1;
  for (std::size_t a = 1; a < result.shape.size(); ++a) per_sample *= result.shape[a];
  const bool batch_axis_ok = !result.shape.empty() && result.shape[0] == n;
  if (!batch_axis_ok || per_sample != channels) {
    const std::string found = batch_axis_ok ? std::to_string(per_sample) + " values per sample"
                              : result.shape.empty() ? std::string("no batch axis")
                                                     : "a leading axis of " + std::to_string(result.shape[0]);
    throw InputError(model.name() + ": output of a batch of " + std::to_string(n) + " samples of shape " +
                     sample.describe() + ": expected shape (" + std::to_string(n) + ", " + std::to_string(channels) +
                     ") (" + std::to_string(channels) + " values per sample), found " + str::shape_string(result.shape) +
                     " (" + found + ")");
  }
  if (std::int64_t(result.values.size()) != n * channels)
    throw InputError(model.name() + ": output of shape " + str::shape_string(result.shape) + " holds " +
                     std::to_string(result.values.size()) + " values, expected " + std::to_string(n * channels));
  std::copy(result.values.begin(), result.values.end(), out);
}

}  // namespace tmdflow::learn
