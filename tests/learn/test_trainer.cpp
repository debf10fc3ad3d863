// The data-parallel trainer at 1 and 2 ranks:
//  * a small CNN learns a planted task -- the sub-pixel shift (dx, dy) of a lattice of Gaussian
//    atoms in a 16 x 16 patch -- to a validation RMSE below 0.15 px (shifts uniform in [-1, 1]:
//    0.58 px RMSE when guessing 0), in a few seconds;
//  * the world communicator and a one-rank communicator reach the same weights from the same
//    start (global batch 11: unequal shares 6 + 5 at 2 ranks, and a partial last batch of 9;
//    dihedral and noise augmentation with a label hook);
//  * a run interrupted in epoch 3 (a simulated SIGTERM) or stopped after N steps, resumed by a
//    fresh Trainer on a freshly initialised network, ends with the weights of an uninterrupted run;
//  * truncated, foreign and mismatched checkpoints are refused with one line naming the file;
//  * early stopping, and the thread report.
#include <gtest/gtest.h>

#include <cstdlib>
#include <torch/torch.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/timer.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "training_support.hpp"

namespace learn = tmdflow::learn;
using namespace tmdflow::learn_test;
using tmdflow::par::Comm;
using tmdflow::par::Runtime;

namespace {

constexpr std::int64_t kSide = 16;

// A square lattice (period 4 px) of Gaussian atoms shifted by (dx, dy), with a little noise.
void lattice_sample(std::int64_t i, float* pixels, double* labels, float*) {
  std::mt19937_64 gen(std::uint64_t(1000 + i));
  std::uniform_real_distribution<double> shift(-1.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.03);
  const double dx = shift(gen), dy = shift(gen);
  for (std::int64_t y = 0; y < kSide; ++y)
    for (std::int64_t x = 0; x < kSide; ++x) {
      double v = 0;
      for (int a = -1; a <= 5; ++a)
        for (int b = -1; b <= 5; ++b) {
          const double ay = 2 + 4 * a + dy, ax = 2 + 4 * b + dx;
          v += std::exp(-((y - ay) * (y - ay) + (x - ax) * (x - ax)) / (2 * 0.8 * 0.8));
        }
      pixels[y * kSide + x] = float(v + noise(gen));
    }
  labels[0] = dx;
  labels[1] = dy;
}

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new tmdflow::testing::ScratchDir();
    TrainsetSpec spec;
    spec.height = spec.width = kSide;
    spec.labels = {"dx", "dy"};
    spec.count = 640;
    spec.chunk = 8;
    write_trainset(Runtime::world_comm(), scratch_->file("shifts.h5"), spec, lattice_sample);
    spec.count = 72;
    spec.chunk = 5;
    write_trainset(Runtime::world_comm(), scratch_->file("small.h5"), spec, lattice_sample);
  }
  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }
  void TearDown() override { tmdflow::par::clear_interrupt_for_tests(); }

  static learn::TrainsetSource source(const std::string& name) {
    learn::TrainsetSource s;
    s.file = scratch_->file(name);
    s.labels = {"labels/dx", "labels/dy"};
    return s;
  }
  // The equality tests: 72 samples, 8 for validation, global batch 11 (5 full batches and one of
  // 9; at 2 ranks shares of 6 + 5 and 5 + 4), augmented with dihedral transforms (labels follow)
  // and noise.
  static learn::TrainsetStream small_data(const Comm& comm, std::int64_t batch = 11) {
    learn::StreamOptions o;
    o.global_batch = batch;
    o.validation_count = 8;
    o.seed = 5;
    o.augment.dihedral = true;
    o.augment.transform_target = [](const learn::Dihedral& d, std::vector<float>& t) {
      double dx = t[0], dy = t[1];
      d.map_vector(dx, dy);
      t = {float(dx), float(dy)};
    };
    o.augment.noise_probability = 0.5;
    o.augment.psnr_min_db = 25;
    return learn::TrainsetStream(source("small.h5"), o, comm.rank(), comm.size());
  }
  static learn::TrainerOptions small_trainer(std::int64_t epochs) {
    learn::TrainerOptions o;
    o.epochs = epochs;
    o.optimizer.learning_rate = 2e-3;
    o.schedule.kind = learn::ScheduleKind::cosine;
    o.schedule.warmup_steps = 3;
    o.progress = tmdflow::ProgressMode::off;
    return o;
  }
  static std::shared_ptr<TinyCnn> network(std::uint64_t init_seed, std::int64_t width = 4) {
    torch::manual_seed(init_seed);
    return std::make_shared<TinyCnn>(width, 2, kSide);
  }
  static std::string file(const std::string& name) { return scratch_->file(name); }

  static tmdflow::testing::ScratchDir* scratch_;
};
tmdflow::testing::ScratchDir* TrainerTest::scratch_ = nullptr;

TEST_F(TrainerTest, LearnsTheSubPixelShiftOfALattice) {
  const auto& comm = Runtime::world_comm();
  learn::StreamOptions so;
  so.global_batch = 32;
  so.validation_count = 128;
  learn::TrainsetStream data(source("shifts.h5"), so, comm.rank(), comm.size());
  learn::TrainerOptions o;
  o.epochs = 15;
  o.optimizer.kind = learn::OptimizerKind::adamw;
  o.optimizer.learning_rate = 4e-3;
  o.optimizer.weight_decay = 1e-4;
  o.schedule.kind = learn::ScheduleKind::cosine;
  o.schedule.warmup_steps = 16;
  o.schedule.final_fraction = 0.05;
  o.progress = tmdflow::ProgressMode::off;
  o.metrics = [](const torch::Tensor& p, const torch::Tensor& t) {
    return std::map<std::string, double>{{"squared_error_px2", (p - t).pow(2).sum(1).mean().item<double>()}};
  };
  auto net = network(1, 8);
  tmdflow::Stopwatch clock;
  learn::Trainer trainer(comm, net, data, learn::mse_loss(), o);
  const learn::TrainingResult r = trainer.fit();
  ASSERT_TRUE(r.completed);
  ASSERT_EQ(r.history.size(), 15u);
  const double rmse = std::sqrt(r.history.back().metrics.at("squared_error_px2"));
  if (comm.is_root())
    std::printf("  planted shift: validation RMSE %.3f px after %zu epochs (%.1f s, %.0f samples/s)\n", rmse, r.history.size(),
                clock.seconds(), r.history.back().samples_per_s);
  EXPECT_LT(rmse, 0.15);
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
}

TEST_F(TrainerTest, WorldAndOneRankReachTheSameWeights) {
  const auto& world = Runtime::world_comm();
  auto run = [&](const Comm& comm) {
    learn::TrainsetStream data = small_data(comm);
    auto net = network(3);
    learn::Trainer trainer(comm, net, data, learn::mse_loss(), small_trainer(2));
    const auto r = trainer.fit();
    return std::make_pair(weights_of(*net), r.history.back().validation_loss);
  };
  const auto [w_world, val_world] = run(world);
  Comm self(MPI_COMM_SELF);
  const auto [w_self, val_self] = run(self);
  const double diff = max_abs_difference(w_world, w_self);
  const double scale = w_self.abs().max().item<double>();
  if (world.is_root()) std::printf("  %d rank(s) vs 1: max |weight difference| %.3g (largest weight %.3g)\n", world.size(), diff, scale);
  EXPECT_LE(diff, 1e-5 * std::max(1.0, scale));
  EXPECT_NEAR(val_world, val_self, 1e-5 * std::max(1.0, val_self));
  // Every rank holds the same weights.
  torch::Tensor root_w = w_world.clone();
  world.bcast(root_w.data_ptr<float>(), std::size_t(root_w.numel()), 0);
  EXPECT_EQ(max_abs_difference(root_w, w_world), 0.0);
}

TEST_F(TrainerTest, InterruptedInEpochThreeAndResumedEndsAsUninterrupted) {
  const auto& comm = Runtime::world_comm();
  const std::string ckpt = file("interrupted.ckpt");
  learn::TrainsetStream data = small_data(comm);
  ASSERT_EQ(data.batches_per_epoch(), 6);

  auto reference = network(11);
  learn::Trainer(comm, reference, data, learn::mse_loss(), small_trainer(4)).fit();

  // SIGTERM (simulated) during the first training step of epoch 3 (the 13th): every rank stops at
  // the step's agreement and the trainer writes its checkpoint.
  int training_calls = 0;
  learn::Loss interrupting = [&](const torch::Tensor& p, const torch::Tensor& t) {
    if (p.requires_grad() && ++training_calls == 13) tmdflow::par::simulate_interrupt(SIGTERM);
    return learn::mse_loss()(p, t);
  };
  auto first = network(11);
  auto o = small_trainer(4);
  o.checkpoint = ckpt;
  learn::Trainer interrupted(comm, first, data, interrupting, o);
  try {
    interrupted.fit();
    ADD_FAILURE() << "the simulated SIGTERM did not stop the run";
  } catch (const tmdflow::Error& e) {  // par::Interrupted with one rank, the agreement's CollectiveError with several
    EXPECT_EQ(e.code(), tmdflow::ExitCode::terminate) << e.what();
  }
  tmdflow::par::clear_interrupt_for_tests();
  ASSERT_TRUE(std::filesystem::exists(ckpt));

  auto second = network(99);  // other initial weights: all must come from the checkpoint
  learn::Trainer resumed(comm, second, data, learn::mse_loss(), o);
  EXPECT_EQ(resumed.resume(ckpt).history.size(), 4u);
  EXPECT_EQ(resumed.state().global_step, 24);
  EXPECT_EQ(max_abs_difference(weights_of(*second), weights_of(*reference)), 0.0);

  // Stopped after 9 steps (mid epoch 2) and resumed: the same.
  auto third = network(11);
  o.checkpoint = file("stopped.ckpt");
  o.stop_after_steps = 9;
  const auto partial = learn::Trainer(comm, third, data, learn::mse_loss(), o).fit();
  EXPECT_FALSE(partial.completed);
  EXPECT_EQ(partial.steps, 9);
  auto fourth = network(98);
  o.stop_after_steps = 0;
  learn::Trainer(comm, fourth, data, learn::mse_loss(), o).resume(o.checkpoint);
  EXPECT_EQ(max_abs_difference(weights_of(*fourth), weights_of(*reference)), 0.0);
}

void expect_refused(const std::function<void()>& fn, const std::string& path, const std::string& word) {
  try {
    fn();
    ADD_FAILURE() << "accepted: " << path;
  } catch (const tmdflow::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(word), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST_F(TrainerTest, CorruptForeignAndMismatchedCheckpointsAreRefused) {
  const auto& comm = Runtime::world_comm();
  learn::TrainsetStream data = small_data(comm);
  auto o = small_trainer(1);
  o.checkpoint = file("good.ckpt");
  o.stop_after_steps = 1;
  learn::Trainer(comm, network(1), data, learn::mse_loss(), o).fit();
  o.stop_after_steps = 0;

  const std::string truncated = file("truncated.ckpt"), garbage = file("garbage.ckpt");
  if (comm.is_root()) {
    const auto size = std::filesystem::file_size(o.checkpoint);
    std::filesystem::copy_file(o.checkpoint, truncated);
    std::filesystem::resize_file(truncated, size / 2);
    std::ofstream(garbage) << "not a checkpoint at all";
  }
  comm.barrier();
  expect_refused([&] { learn::Trainer(comm, network(1), data, learn::mse_loss(), o).resume(truncated); }, truncated, "truncated");
  expect_refused([&] { learn::Trainer(comm, network(1), data, learn::mse_loss(), o).resume(garbage); }, garbage, "truncated");
  expect_refused([&] { learn::Trainer(comm, network(1, 6), data, learn::mse_loss(), o).resume(o.checkpoint); }, o.checkpoint,
                 "test-cnn");
  learn::TrainsetStream other_batch = small_data(comm, 16);
  expect_refused([&] { learn::Trainer(comm, network(1), other_batch, learn::mse_loss(), o).resume(o.checkpoint); }, o.checkpoint,
                 "global batch");
  EXPECT_THROW(learn::Trainer(comm, network(1), data, learn::mse_loss(), o).resume(file("missing.ckpt")), tmdflow::Error);
}

TEST_F(TrainerTest, EarlyStoppingAfterPatienceEpochsWithoutImprovement) {
  const auto& comm = Runtime::world_comm();
  learn::TrainsetStream data = small_data(comm);
  auto o = small_trainer(10);
  o.optimizer.learning_rate = 1e-9;  // nothing improves by min_delta
  o.schedule.kind = learn::ScheduleKind::constant;
  o.patience = 2;
  o.min_delta = 1.0;
  std::vector<std::int64_t> seen;
  o.on_epoch = [&](const learn::EpochRecord& r) { seen.push_back(r.epoch); };
  const auto r = learn::Trainer(comm, network(2), data, learn::mse_loss(), o).fit();
  EXPECT_TRUE(r.stopped_early);
  EXPECT_EQ(r.history.size(), 3u);
  EXPECT_EQ(r.best_epoch, 0);
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 2}));
}

TEST(Threads, SettingsFollowTheRanksAndReportBlasAndOneDnn) {
  const auto& comm = Runtime::world_comm();
  const int before = learn::current_thread_settings().intra_op_threads;
  const learn::ThreadSettings s = learn::configure_threads(comm);
  EXPECT_GE(s.intra_op_threads, 1);
  EXPECT_EQ(s.ranks_on_node, comm.size());  // the test launcher runs on one node
  EXPECT_LE(s.intra_op_threads, std::max(1, s.cores_available));
  const std::string line = s.summary();
  EXPECT_NE(line.find("BLAS: "), std::string::npos) << line;
  EXPECT_NE(line.find("oneDNN: "), std::string::npos) << line;
  EXPECT_NE(s.blas, "unknown") << "libtorch links a BLAS: /proc/self/maps should show it";
  if (comm.is_root()) std::printf("  %s\n", line.c_str());
  learn::configure_threads(comm, before);
}

TEST(Threads, AllocatorKeepsFreedMemoryUnlessTheUserChose) {
  const char* saved = std::getenv("TMDFLOW_MALLOC");
  const std::string kept = learn::keep_freed_memory();
  if (!std::getenv("GLIBC_TUNABLES") && !std::getenv("MALLOC_MMAP_THRESHOLD_") && !std::getenv("MALLOC_TRIM_THRESHOLD_") && !saved) {
    EXPECT_NE(kept.find("MB from the heap"), std::string::npos) << kept;
  }
  EXPECT_EQ(learn::current_thread_settings().allocator, kept);
  EXPECT_NE(learn::current_thread_settings().summary().find(kept), std::string::npos);
  ::setenv("TMDFLOW_MALLOC", "default", 1);
  EXPECT_NE(learn::keep_freed_memory().find("glibc defaults"), std::string::npos);
  if (saved) ::setenv("TMDFLOW_MALLOC", saved, 1);
  else ::unsetenv("TMDFLOW_MALLOC");
  learn::keep_freed_memory();
}

}  // namespace
