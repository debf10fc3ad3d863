#pragma once
// Data parallelism over MPI ranks: identical weights by broadcast, and one MPI_Allreduce per step
// over a flat buffer of every gradient, weighted by the ranks' sample counts so that the result
// is the gradient of the mean loss over the GLOBAL batch, whatever the shares.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn {

/// Copies the tensors into one flat float32 tensor, and back.
torch::Tensor flatten_tensors(const std::vector<torch::Tensor>& tensors);
void unflatten_into(const torch::Tensor& flat, const std::vector<torch::Tensor>& tensors);

class GradientSync {
 public:
  /// `parameters`: float32 tensors, the same list (names, shapes, order) on every rank.
  GradientSync(const par::Comm& comm, std::vector<torch::Tensor> parameters);

  /// Collective: every rank takes rank `root`'s values of the parameters.
  void broadcast_parameters(int root = 0);
  /// Collective: each rank's gradients are those of the mean loss over its `local_count` samples
  /// (undefined or unused: zero); afterwards every rank holds
  /// sum_r local_count_r * grad_r / global_count, the gradient of the mean over all samples.
  void allreduce_gradients(std::int64_t local_count, std::int64_t global_count);
  /// Collective: floating-point buffers (e.g. BatchNorm running statistics) to their mean over ranks.
  static void average_buffers(const par::Comm& comm, const std::vector<torch::Tensor>& buffers);

 private:
  const par::Comm& comm_;
  std::vector<torch::Tensor> parameters_;
  torch::Tensor flat_;  // reused every step
};

}  // namespace tmdflow::learn
