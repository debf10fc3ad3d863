#pragma once
// A trainset streamed from HDF5 batch by batch, so that it need not fit in memory.
//
// Data order (the same on every rank, whatever the rank count):
//  * validation split: a permutation of all N samples keyed by (seed, "validation"); its first
//    n_val entries (sorted) are the validation set, the rest (sorted) the training set; fixed for
//    a seed, disjoint;
//  * epoch e: a Fisher-Yates permutation `perm` of the training set keyed by (seed, e); global batch
//    b holds perm[b*B .. min((b+1)*B, n_train)); rank r of R reads the contiguous part
//    block_partition(batch size, R, r) of it;
//  * each rank reads only its own samples: their indices sorted and coalesced into runs of
//    consecutive indices, one hyperslab read per run (HDF5's chunk cache serves chunks of several
//    samples; a chunk of one sample, as make-trainset writes, is one read).
// Training samples are augmented (augment.hpp, keyed by (seed, epoch, index)), then normalised.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tmdflow/learn/augment.hpp"
#include "tmdflow/learn/sample.hpp"

namespace tmdflow::learn {

/// Where the samples are.
struct TrainsetSource {
  std::string file;
  /// The product group: "/trainset" for make-trainset's product.
  std::string group = "/trainset";
  /// Inputs (N, H, W) or (N, C, H, W), any numeric dtype (read as float). A path relative to the
  /// group; an EMD array group stands for its "data" dataset.
  std::string inputs = "patches";
  /// Regression targets: scalar label datasets (N), e.g. {"labels/slip_a", "labels/slip_b"}: K values.
  std::vector<std::string> labels;
  /// Or map targets (N, H, W): per-pixel class indices or one map, or (N, C, H, W): C maps (e.g.
  /// heat maps of C classes). Exactly one of labels / map / computed targets.
  std::string target_map;
  /// Or regression targets the caller computed from the trainset (e.g. lattice fractions from
  /// Cartesian labels): N rows of `computed_width` values, row-major.
  std::vector<double> computed_targets;
  std::int64_t computed_width = 0;
};

enum class Normalisation {
  none,
  per_sample,  // each channel of each sample to mean 0, standard deviation 1 (after augmentation)
  fixed,       // (x - mean) / sd with the given values
};

struct StreamOptions {
  std::int64_t global_batch = 32;
  /// Validation set: `validation_count` samples when >= 0, else round(fraction * N).
  double validation_fraction = 0.1;
  std::int64_t validation_count = -1;
  std::uint64_t seed = 1;
  /// Drop the last, partial batch of an epoch.
  bool drop_last = false;
  Normalisation normalisation = Normalisation::per_sample;
  double mean = 0.0, sd = 1.0;  // for Normalisation::fixed
  /// Training samples only; validation samples are never augmented.
  AugmentOptions augment;
};

class TrainsetStream {
 public:
  /// Opens the file (serial, read-only, on every rank) and checks shapes: InputError naming file,
  /// dataset, expected and found; ConfigError for bad options.
  TrainsetStream(TrainsetSource source, StreamOptions options, int rank, int ranks);
  ~TrainsetStream();
  TrainsetStream(TrainsetStream&&) noexcept;
  TrainsetStream& operator=(TrainsetStream&&) noexcept;

  std::int64_t size() const;             // N
  std::int64_t train_size() const;
  std::int64_t validation_size() const;
  std::int64_t batches_per_epoch() const;
  std::int64_t validation_batches() const;
  const StreamOptions& options() const;
  const TrainsetSource& source() const;
  int rank() const;
  int ranks() const;
  /// Sample shape as stored (before a crop).
  std::int64_t channels() const;
  std::int64_t height() const;
  std::int64_t width() const;
  TargetKind target_kind() const;
  std::int64_t target_values() const;  // K, or target_channels * height * width
  /// Planes of a map target (1 for (N, H, W) maps, C for (N, C, H, W)); K for labels.
  std::int64_t target_channels() const;

  /// Global indices of the training set and of the validation set (sorted).
  const std::vector<std::int64_t>& training_indices() const;
  const std::vector<std::int64_t>& validation_indices() const;
  /// The global indices of batch `batch` of `epoch` that this rank reads, in batch order.
  std::vector<std::int64_t> train_batch_indices(std::int64_t epoch, std::int64_t batch) const;
  /// This rank's share of training batch `batch` of `epoch`, augmented and normalised.
  Batch train_batch(std::int64_t epoch, std::int64_t batch);
  /// This rank's share of validation batch `batch` (fixed order), normalised; centre-cropped to
  /// the augmentation's crop size when there is one.
  Batch validation_batch(std::int64_t batch);
  /// Samples by global index (no augmentation, normalised): for inspection and tests.
  Batch read(const std::vector<std::int64_t>& indices);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The epoch's permutation of 0..n-1 keyed by (seed, stream, epoch): the same on every platform.
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream, std::int64_t epoch);

}  // namespace tmdflow::learn
