#pragma once
// An autoencoder trained on samples held in memory (stage site-instability: the atom-centred
// patches of one stack), data-parallel over the ranks: weights broadcast from rank 0, each rank
// its own samples, every rank the same number of steps per epoch (ceil(total / batch)), each step
// its share of the global batch (in proportion to its samples, cycling through a shuffled order)
// and one gradient allreduce weighted by the samples of the step (data_parallel.hpp), Adam.
// Deterministic for a seed and rank count. For a trainset in a file use Trainer (trainer.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "tmdflow/learn/autoencoder.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn {

struct InMemoryFit {
  int epochs = 30;
  int batch = 256;            // global
  double learning_rate = 3e-3;
  std::uint64_t seed = 1;
  std::string progress_label = "autoencoder";
};

/// Trains on this rank's `count` samples of 1 x size x size floats (row-major, `samples`); returns
/// the last epoch's mean squared reconstruction error over all ranks' samples.
double fit_autoencoder(const par::Comm& comm, Autoencoder& net, const std::vector<float>& samples, std::int64_t count, std::int64_t size,
                       const InMemoryFit& options);

/// The latent vectors of this rank's samples (count x latent, row-major), in eval mode.
std::vector<float> encode_samples(Autoencoder& net, const std::vector<float>& samples, std::int64_t count, std::int64_t size, std::int64_t latent);

}  // namespace tmdflow::learn
