#include "tmdflow/learn/autoencoder_fit.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "tmdflow/learn/data_parallel.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/progress.hpp"

namespace tmdflow::learn {

double fit_autoencoder(const par::Comm& comm, Autoencoder& net, const std::vector<float>& samples, std::int64_t local, std::int64_t P,
                       const InMemoryFit& o) {
  GradientSync sync(comm, net.parameters());
  sync.broadcast_parameters();
  torch::optim::Adam adam(net.parameters(), torch::optim::AdamOptions(o.learning_rate));
  std::vector<float> copy(samples);  // from_blob wants a mutable buffer
  const torch::Tensor data = torch::from_blob(copy.data(), {local, 1, P, P}, torch::kFloat32);
  const std::int64_t total = comm.allreduce(local, par::Op::sum);
  const std::int64_t steps = std::max<std::int64_t>(1, (total + o.batch - 1) / o.batch);
  const std::int64_t share = local > 0 ? std::max<std::int64_t>(1, (o.batch * local + total - 1) / std::max<std::int64_t>(total, 1)) : 0;
  std::mt19937_64 rng(o.seed * 1000003ULL + std::uint64_t(comm.rank()));
  std::vector<std::int64_t> order(static_cast<std::size_t>(local), 0);
  std::iota(order.begin(), order.end(), 0);
  par::Progress progress(comm, o.progress_label, std::uint64_t(o.epochs), "epochs");
  double loss_mean = 0;
  net.train();
  for (int e = 0; e < o.epochs; ++e) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    std::int64_t cursor = 0;
    for (std::int64_t s = 0; s < steps; ++s) {
      adam.zero_grad();
      std::int64_t count = 0;
      if (share > 0) {
        std::vector<std::int64_t> pick;
        for (std::int64_t k = 0; k < share; ++k) pick.push_back(order[std::size_t((cursor + k) % local)]);
        cursor += share;
        const torch::Tensor x = data.index_select(0, torch::tensor(pick, torch::kInt64));
        torch::Tensor loss = torch::mse_loss(net.forward(x), x);
        loss.backward();
        count = share;
        loss_sum += loss.item<double>() * double(share);
      }
      sync.allreduce_gradients(count, comm.allreduce(count, par::Op::sum));
      adam.step();
    }
    loss_mean = comm.allreduce(loss_sum, par::Op::sum) / double(std::max<std::int64_t>(1, comm.allreduce(share, par::Op::sum) * steps));
    par::interruption_point(comm);
    progress.advance(comm.is_root() ? 1 : 0);
  }
  progress.finish();
  return loss_mean;
}

std::vector<float> encode_samples(Autoencoder& net, const std::vector<float>& samples, std::int64_t local, std::int64_t P, std::int64_t latent) {
  net.eval();
  std::vector<float> copy(samples);
  const torch::Tensor data = torch::from_blob(copy.data(), {local, 1, P, P}, torch::kFloat32);
  std::vector<float> z(std::size_t(local * latent));
  torch::NoGradGuard guard;
  for (std::int64_t b = 0; b < local; b += 1024) {
    const std::int64_t n = std::min<std::int64_t>(1024, local - b);
    const torch::Tensor out = net.encode(data.narrow(0, b, n)).contiguous();
    std::copy_n(out.data_ptr<float>(), std::size_t(n * latent), z.data() + std::size_t(b * latent));
  }
  return z;
}

}  // namespace tmdflow::learn
