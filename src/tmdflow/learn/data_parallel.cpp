#include "tmdflow/learn/data_parallel.hpp"

#include "tmdflow/core/error.hpp"

namespace tmdflow::learn {
namespace {

std::int64_t total_numel(const std::vector<torch::Tensor>& tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.numel();
  return n;
}

}  // namespace

torch::Tensor flatten_tensors(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  torch::Tensor flat = torch::empty({total_numel(tensors)}, torch::kFloat);
  std::int64_t off = 0;
  for (const auto& t : tensors) {
    flat.narrow(0, off, t.numel()).copy_(t.detach().reshape({-1}));
    off += t.numel();
  }
  return flat;
}

void unflatten_into(const torch::Tensor& flat, const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  if (flat.numel() != total_numel(tensors))
    throw InputError("weights: expected " + std::to_string(total_numel(tensors)) + " values, found " + std::to_string(flat.numel()));
  std::int64_t off = 0;
  for (const auto& t : tensors) {
    t.copy_(flat.narrow(0, off, t.numel()).view_as(t));
    off += t.numel();
  }
}

GradientSync::GradientSync(const par::Comm& comm, std::vector<torch::Tensor> parameters)
    : comm_(comm), parameters_(std::move(parameters)) {
  for (const auto& p : parameters_)
    if (p.scalar_type() != torch::kFloat || !p.device().is_cpu())
      throw ConfigError("data-parallel training: expected float32 parameters on the CPU, found " + std::string(p.toString()));
  flat_ = torch::zeros({total_numel(parameters_)}, torch::kFloat);
}

void GradientSync::broadcast_parameters(int root) {
  torch::Tensor flat = flatten_tensors(parameters_);
  comm_.bcast(flat.data_ptr<float>(), std::size_t(flat.numel()), root);
  unflatten_into(flat, parameters_);
}

void GradientSync::allreduce_gradients(std::int64_t local_count, std::int64_t global_count) {
  torch::NoGradGuard no_grad;
  // Scale by the local count before the sum, divide by the global count after: unequal shares
  // (the last batch of an epoch, batches smaller than the rank count) weigh what they hold.
  const float weight = float(local_count);
  std::int64_t off = 0;
  for (auto& p : parameters_) {
    torch::Tensor part = flat_.narrow(0, off, p.numel());
    if (p.grad().defined() && local_count > 0) part.copy_(p.grad().reshape({-1})).mul_(weight);
    else part.zero_();
    off += p.numel();
  }
  if (comm_.size() > 1) comm_.allreduce_inplace(flat_.data_ptr<float>(), std::size_t(flat_.numel()), par::Op::sum);
  flat_.div_(float(std::max<std::int64_t>(global_count, 1)));
  off = 0;
  for (auto& p : parameters_) {
    torch::Tensor part = flat_.narrow(0, off, p.numel()).view_as(p);
    if (p.grad().defined()) p.mutable_grad().copy_(part);
    else p.mutable_grad() = part.clone();
    off += p.numel();
  }
}

void GradientSync::average_buffers(const par::Comm& comm, const std::vector<torch::Tensor>& buffers) {
  if (comm.size() == 1) return;
  std::vector<torch::Tensor> floating;
  for (const auto& b : buffers)
    if (b.scalar_type() == torch::kFloat) floating.push_back(b);
  if (floating.empty()) return;
  torch::Tensor flat = flatten_tensors(floating);
  comm.allreduce_inplace(flat.data_ptr<float>(), std::size_t(flat.numel()), par::Op::sum);
  flat.div_(float(comm.size()));
  unflatten_into(flat, floating);
}

}  // namespace tmdflow::learn
