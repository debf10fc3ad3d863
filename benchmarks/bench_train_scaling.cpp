// Benchmark of data-parallel training: training samples per second of a small CNN at equal global
// batch, run once per rank count (run.sh runs it at 1 and 2 ranks and prints the speed-up; goal
// >= 1.8). The whole step is timed: reading the rank's share from an HDF5 trainset, normalising,
// forward, backward, the gradient allreduce and the optimiser step. Prints the thread, BLAS and
// oneDNN line. Usage (under mpiexec -n N):
//   tmdflow_bench_train_scaling [PATCH_PX GLOBAL_BATCH SAMPLES EPOCHS SCRATCH_DIR THREADS_PER_RANK]
// The last epoch is timed (the first warms caches and oneDNN's kernels). THREADS_PER_RANK: torch's
// intra-op threads (default 1: ranks = cores, so 1 vs 2 ranks is 1 vs 2 cores; 0: configure_threads'
// choice, the cores each rank owns).
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/data_parallel.hpp"
#include "tmdflow/learn/threads.hpp"
#include "tmdflow/learn/trainer.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;

namespace {

// The small CNN of the scaling goal: 4 convolutions 3x3 (16-32-64-64 channels, three with
// stride 2), ReLU, global mean, linear 64 -> 2 (about 70k parameters).
class SmallCnn : public learn::Network {
 public:
  SmallCnn() {
    namespace nn = torch::nn;
    c1 = register_module("c1", nn::Conv2d(nn::Conv2dOptions(1, 16, 3).padding(1)));
    c2 = register_module("c2", nn::Conv2d(nn::Conv2dOptions(16, 32, 3).stride(2).padding(1)));
    c3 = register_module("c3", nn::Conv2d(nn::Conv2dOptions(32, 64, 3).stride(2).padding(1)));
    c4 = register_module("c4", nn::Conv2d(nn::Conv2dOptions(64, 64, 3).stride(2).padding(1)));
    head = register_module("head", nn::Linear(64, 2));
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(c1->forward(x));
    x = torch::relu(c2->forward(x));
    x = torch::relu(c3->forward(x));
    x = torch::relu(c4->forward(x));
    return head->forward(x.mean({2, 3}));
  }
  learn::NetworkSpec spec() const override { return {"bench-cnn", {}}; }

 private:
  torch::nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr}, c4{nullptr};
  torch::nn::Linear head{nullptr};
};

void make_trainset(const par::Comm& comm, const std::string& path, std::int64_t n, std::int64_t px) {
  if (comm.is_root() && !std::filesystem::exists(path)) {
    const std::string tmp = path + ".tmp";
    {
      io::h5::File f = io::h5::File::create(tmp, nullptr);
      io::h5::Group g = f.root().create_group("trainset");
      torch::manual_seed(1);
      const torch::Tensor x = torch::rand({n, px, px});
      io::h5::Dataset d = g.create_dataset("patches", io::Dtype::f32, {n, px, px}, {1, px, px});
      d.write<float>({0, 0, 0}, {n, px, px}, x.data_ptr<float>(), io::h5::Xfer::independent);
      const torch::Tensor y = x.mean({1, 2}).to(torch::kDouble);
      std::vector<double> a(y.data_ptr<double>(), y.data_ptr<double>() + n);
      io::h5::Group lg = g.create_group("labels");
      lg.write_vector("a", a);
      lg.write_vector("b", a);
    }
    std::filesystem::rename(tmp, path);
  }
  comm.barrier();
}

}  // namespace

int main(int argc, char** argv) {
  learn::prefer_passive_omp_wait(argv);
  learn::keep_freed_memory();
  par::Runtime runtime(argc, argv);
  const par::Comm& comm = runtime.world();
  const std::int64_t px = argc > 1 ? std::stoll(argv[1]) : 64;
  const std::int64_t batch = argc > 2 ? std::stoll(argv[2]) : 64;
  const std::int64_t samples = argc > 3 ? std::stoll(argv[3]) : 1536;
  const std::int64_t epochs = argc > 4 ? std::stoll(argv[4]) : 2;
  const std::string dir = argc > 5 ? argv[5] : ".";
  const int threads_per_rank = argc > 6 ? std::stoi(argv[6]) : 1;
  const std::string file = dir + "/train_scaling_" + std::to_string(px) + "_" + std::to_string(samples) + ".h5";
  make_trainset(comm, file, samples, px);

  const learn::ThreadSettings threads = learn::configure_threads(comm, threads_per_rank);
  learn::TrainsetSource source;
  source.file = file;
  source.labels = {"labels/a", "labels/b"};
  learn::StreamOptions so;
  so.global_batch = batch;
  so.validation_count = 0;
  so.drop_last = true;
  learn::TrainsetStream data(source, so, comm.rank(), comm.size());
  torch::manual_seed(3);
  auto net = std::make_shared<SmallCnn>();
  learn::TrainerOptions to;
  to.epochs = epochs;
  to.optimizer.kind = learn::OptimizerKind::adam;
  to.progress = ProgressMode::off;
  learn::Trainer trainer(comm, net, data, learn::mse_loss(), to);
  const learn::TrainingResult r = trainer.fit();
  const double rate = r.history.back().samples_per_s;
  if (comm.is_root()) {
    std::printf("  %s\n", threads.summary().c_str());
    std::printf("  small CNN (16-32-64-64 conv, %lld params), %lld x %lld patches, global batch %lld, %lld samples an epoch, "
                "%d rank(s): %.1f samples/s (last of %lld epochs)\n",
                (long long)learn::flatten_tensors(net->parameters()).numel(), (long long)px, (long long)px, (long long)batch,
                (long long)(data.batches_per_epoch() * batch), comm.size(), rate, (long long)epochs);
    std::printf("RESULT ranks=%d samples_per_s_total=%.2f\n", comm.size(), rate);
  }
  return 0;
}
