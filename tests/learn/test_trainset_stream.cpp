// Trainset streaming at 1 and 2 ranks: a chunked HDF5 trainset (chunks of 4 samples, 37 samples:
// chunks straddle batches and shares) gives every training sample exactly once per epoch, each
// with its own values and labels, never a validation sample; the split is fixed by the seed; the
// epoch order changes with the epoch and not with the rank count; map targets follow the dihedral
// augmentation of their image.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/learn/trainset_stream.hpp"
#include "training_support.hpp"

namespace learn = tmdflow::learn;
using namespace tmdflow::learn_test;
using tmdflow::par::Runtime;

namespace {

constexpr std::int64_t kStreamCount = 37, kStreamSide = 6;

// Pixel (y, x) of sample i holds i + (y * side + x) / 1000: the sample is recognisable after reading.
void make_sample(std::int64_t i, float* pixels, double* labels, float* map) {
  for (std::int64_t p = 0; p < kStreamSide * kStreamSide; ++p) {
    pixels[p] = float(i) + float(p) / 1000.0f;
    map[p] = pixels[p];
  }
  labels[0] = double(i);
  labels[1] = -2.0 * double(i);
}

learn::StreamOptions options(std::int64_t batch) {
  learn::StreamOptions o;
  o.global_batch = batch;
  o.validation_count = 6;
  o.seed = 42;
  o.normalisation = learn::Normalisation::none;
  return o;
}

class TrainsetStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = scratch_.file("trainset.h5");
    TrainsetSpec spec;
    spec.count = kStreamCount;
    spec.height = spec.width = kStreamSide;
    spec.chunk = 4;
    spec.labels = {"a", "b"};
    spec.maps = true;
    spec.emd_array = true;  // make-trainset's layout: the stream opens patches/data
    write_trainset(Runtime::world_comm(), path_, spec, make_sample);
  }
  learn::TrainsetSource source() const {
    learn::TrainsetSource s;
    s.file = path_;
    s.labels = {"labels/a", "labels/b"};
    return s;
  }
  tmdflow::testing::ScratchDir scratch_;
  std::string path_;
};

TEST_F(TrainsetStreamTest, EveryTrainingSampleExactlyOncePerEpoch) {
  const auto& comm = Runtime::world_comm();
  learn::TrainsetStream stream(source(), options(5), comm.rank(), comm.size());
  ASSERT_EQ(stream.size(), kStreamCount);
  ASSERT_EQ(stream.validation_size(), 6);
  ASSERT_EQ(stream.train_size(), kStreamCount - 6);
  EXPECT_EQ(stream.batches_per_epoch(), 7);  // 31 = 6 * 5 + 1: the last batch holds one sample

  std::vector<std::vector<std::int64_t>> orders;
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::int64_t> seen(kStreamCount, 0);
    std::int64_t global = 0;
    for (std::int64_t b = 0; b < stream.batches_per_epoch(); ++b) {
      const learn::Batch batch = stream.train_batch(epoch, b);
      global += batch.global_count;
      ASSERT_EQ(batch.inputs.size(), std::size_t(batch.count * kStreamSide * kStreamSide));
      for (std::int64_t k = 0; k < batch.count; ++k) {
        const std::int64_t i = batch.indices[std::size_t(k)];
        ++seen[std::size_t(i)];
        EXPECT_FLOAT_EQ(batch.inputs[std::size_t(k * kStreamSide * kStreamSide + 7)], float(i) + 0.007f) << "sample " << i;
        EXPECT_FLOAT_EQ(batch.targets[std::size_t(2 * k)], float(i));
        EXPECT_FLOAT_EQ(batch.targets[std::size_t(2 * k + 1)], -2.0f * float(i));
      }
    }
    EXPECT_EQ(global, stream.train_size());
    comm.allreduce_inplace(seen.data(), seen.size(), tmdflow::par::Op::sum);
    const auto& val = stream.validation_indices();
    for (std::int64_t i = 0; i < kStreamCount; ++i) {
      const bool is_val = std::binary_search(val.begin(), val.end(), i);
      EXPECT_EQ(seen[std::size_t(i)], is_val ? 0 : 1) << "sample " << i << " in epoch " << epoch;
    }
    // The global order, as a single rank would read it, is the concatenation of the shares.
    learn::TrainsetStream single(source(), options(5), 0, 1);
    std::vector<std::int64_t> order;
    for (std::int64_t b = 0; b < single.batches_per_epoch(); ++b) {
      const auto part = single.train_batch_indices(epoch, b);
      order.insert(order.end(), part.begin(), part.end());
      std::vector<std::int64_t> mine = stream.train_batch_indices(epoch, b);
      const auto all = comm.allgather(std::int64_t(mine.size()));
      std::int64_t offset = 0;
      for (int r = 0; r < comm.rank(); ++r) offset += all[std::size_t(r)];
      for (std::size_t k = 0; k < mine.size(); ++k) EXPECT_EQ(mine[k], part[std::size_t(offset) + k]);
    }
    orders.push_back(order);
  }
  EXPECT_NE(orders[0], orders[1]) << "the order must change with the epoch";
}

TEST_F(TrainsetStreamTest, ValidationSplitFixedBySeedAndDisjoint) {
  const auto& comm = Runtime::world_comm();
  learn::TrainsetStream a(source(), options(4), comm.rank(), comm.size());
  learn::TrainsetStream b(source(), options(4), 0, 1);
  EXPECT_EQ(a.validation_indices(), b.validation_indices());
  auto other = options(4);
  other.seed = 43;
  learn::TrainsetStream c(source(), other, 0, 1);
  EXPECT_NE(a.validation_indices(), c.validation_indices());
  std::vector<std::int64_t> both;
  std::set_intersection(a.validation_indices().begin(), a.validation_indices().end(), a.training_indices().begin(),
                        a.training_indices().end(), std::back_inserter(both));
  EXPECT_TRUE(both.empty());
  // Validation batches: every validation sample once, over the ranks.
  std::vector<std::int64_t> seen(kStreamCount, 0);
  for (std::int64_t v = 0; v < a.validation_batches(); ++v)
    for (std::int64_t i : a.validation_batch(v).indices) ++seen[std::size_t(i)];
  comm.allreduce_inplace(seen.data(), seen.size(), tmdflow::par::Op::sum);
  for (std::int64_t i : a.validation_indices()) EXPECT_EQ(seen[std::size_t(i)], 1);
  EXPECT_EQ(std::accumulate(seen.begin(), seen.end(), std::int64_t(0)), 6);
}

TEST_F(TrainsetStreamTest, MapTargetsFollowTheDihedralTransformAndNormalisationIsPerSample) {
  const auto& comm = Runtime::world_comm();
  learn::TrainsetSource src = source();
  src.labels.clear();
  src.target_map = "maps";
  auto o = options(8);
  o.augment.dihedral = true;
  o.normalisation = learn::Normalisation::per_sample;
  learn::TrainsetStream stream(src, o, comm.rank(), comm.size());
  ASSERT_EQ(stream.target_kind(), learn::TargetKind::map);
  int changed = 0;
  for (std::int64_t b = 0; b < stream.batches_per_epoch(); ++b) {
    const learn::Batch batch = stream.train_batch(0, b);
    for (std::int64_t k = 0; k < batch.count; ++k) {
      const float* in = batch.inputs.data() + k * kStreamSide * kStreamSide;
      const float* map = batch.targets.data() + k * kStreamSide * kStreamSide;
      double mean = 0, var = 0, map_mean = 0;
      for (int p = 0; p < kStreamSide * kStreamSide; ++p) mean += in[p], map_mean += map[p];
      mean /= kStreamSide * kStreamSide;
      map_mean /= kStreamSide * kStreamSide;
      for (int p = 0; p < kStreamSide * kStreamSide; ++p) var += (in[p] - mean) * (in[p] - mean);
      EXPECT_NEAR(mean, 0.0, 1e-5);
      EXPECT_NEAR(var / (kStreamSide * kStreamSide), 1.0, 1e-4);
      // The map held the raw image: after the same transform, it is the image up to the normalisation.
      const double sd = std::sqrt(1.0 / 12.0 * ((kStreamSide * kStreamSide) * (kStreamSide * kStreamSide) - 1)) / 1000.0;
      for (int p = 0; p < kStreamSide * kStreamSide; ++p) ASSERT_NEAR(in[p], (map[p] - map_mean) / sd, 2e-2) << "pixel " << p;
      if (std::abs(map[1] - map[0] - 0.001f) > 1e-5f) ++changed;
    }
  }
  EXPECT_GT(comm.allreduce(changed, tmdflow::par::Op::sum), 5) << "the dihedral augmentation should move pixels";
}

TEST_F(TrainsetStreamTest, BadShapesAndOptionsAreRefusedInOneLine) {
  learn::TrainsetSource src = source();
  src.labels = {"labels/a", "patches"};
  try {
    learn::TrainsetStream s(src, options(4), 0, 1);
    FAIL() << "a 3-D label dataset was accepted";
  } catch (const tmdflow::InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path_), std::string::npos) << m;
    EXPECT_NE(m.find("patches"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  // A sample holding NaN is refused when read, by its index.
  TrainsetSpec spec;
  spec.count = 8;
  spec.height = spec.width = kStreamSide;
  spec.labels = {"a", "b"};
  const std::string bad = scratch_.file("nan.h5");
  write_trainset(Runtime::world_comm(), bad, spec, [](std::int64_t i, float* p, double* l, float* m) {
    make_sample(i, p, l, m);
    if (i == 3) p[5] = std::nanf("");
  });
  src = source();
  src.file = bad;
  learn::TrainsetStream with_nan(src, options(4), 0, 1);
  try {
    with_nan.read({2, 3});
    FAIL() << "a NaN sample was accepted";
  } catch (const tmdflow::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("sample 3"), std::string::npos) << e.what();
  }
  src = source();
  src.inputs = "missing";
  EXPECT_THROW(learn::TrainsetStream(src, options(4), 0, 1), tmdflow::InputError);
  auto o = options(4);
  o.validation_count = kStreamCount;
  EXPECT_THROW(learn::TrainsetStream(source(), o, 0, 1), tmdflow::ConfigError);
}

}  // namespace

namespace {

TEST_F(TrainsetStreamTest, ComputedTargetsFollowTheirSamples) {
  // Targets the caller computed (3 per sample) in place of label datasets: each sample carries
  // its own row, in any batch and on any rank.
  learn::TrainsetSource src = source();
  src.labels.clear();
  for (std::int64_t i = 0; i < kStreamCount; ++i)
    for (double v : {double(i), 0.5 * double(i), -1.0}) src.computed_targets.push_back(v);
  src.computed_width = 3;
  const auto& comm = Runtime::world_comm();
  learn::TrainsetStream s(src, options(5), comm.rank(), comm.size());
  EXPECT_EQ(s.target_values(), 3);
  for (std::int64_t b = 0; b < s.batches_per_epoch(); ++b) {
    const learn::Batch batch = s.train_batch(1, b);
    ASSERT_EQ(batch.target_values, 3);
    for (std::int64_t k = 0; k < batch.count; ++k) {
      const double i = double(batch.indices[std::size_t(k)]);
      EXPECT_EQ(batch.targets[std::size_t(3 * k)], float(i));
      EXPECT_EQ(batch.targets[std::size_t(3 * k + 1)], float(0.5 * i));
      EXPECT_EQ(batch.targets[std::size_t(3 * k + 2)], -1.0f);
      EXPECT_NEAR(batch.inputs[std::size_t(k * kStreamSide * kStreamSide)], i, 1e-6);  // the sample's own pixels
    }
  }
  src.computed_targets.pop_back();
  EXPECT_THROW(learn::TrainsetStream(src, options(5), comm.rank(), comm.size()), tmdflow::InputError);
  src.labels = {"labels/a"};
  EXPECT_THROW(learn::TrainsetStream(src, options(5), comm.rank(), comm.size()), tmdflow::ConfigError);
}

}  // namespace
