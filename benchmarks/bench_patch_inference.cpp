// Benchmark of sliding-window inference: windows per second of the patch-inference runner against
// the model alone, measured in the same run on the same ranks and the same batches:
//   model alone - the torch module called directly on batches cut beforehand (the ceiling),
//   in memory   - infer_window_rows on this rank's window rows (cutting, batching, checking),
//   HDF5        - infer_image_dataset on an image in a parallel HDF5 file (reads and writes too).
// A small CNN (conv 3x3 x2, ReLU, mean, linear) stands in for a trained model; LibTorch uses one
// thread per rank. Usage (under mpiexec -n N):
//   tmdflow_bench_patch_inference [HEIGHT WIDTH WINDOW STRIDE BATCH REPEATS SCRATCH_DIR]
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/patch_inference.hpp"
#include "tmdflow/learn/torch_model.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;

namespace {

struct SmallCnnImpl : torch::nn::Module {
  SmallCnnImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).stride(2)));
    head = register_module("head", torch::nn::Linear(8, 4));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return head->forward(torch::relu(conv2->forward(torch::relu(conv1->forward(x)))).mean({2, 3}));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(SmallCnn);

std::int64_t arg(int argc, char** argv, int i, std::int64_t fallback) { return argc > i ? std::atoll(argv[i]) : fallback; }

}  // namespace

int main(int argc, char** argv) {
  par::Runtime runtime(argc, argv);
  const par::Comm& comm = runtime.world();
  const std::int64_t height = arg(argc, argv, 1, 1024), width = arg(argc, argv, 2, 1024);
  const std::int64_t window = arg(argc, argv, 3, 32), stride = arg(argc, argv, 4, 8);
  const std::int64_t batch = arg(argc, argv, 5, 256);
  const int repeats = int(arg(argc, argv, 6, 3));
  const std::string scratch = argc > 7 ? argv[7] : std::filesystem::temp_directory_path().string();
  try {
    learn::PatchInferenceOptions options;
    options.windows = {window, window, stride, stride, learn::Padding::none};
    options.batch_size = batch;
    options.show_progress = false;
    const learn::WindowGrid grid(options.windows, height, width);
    std::vector<float> image(std::size_t(height * width));
    for (std::int64_t i = 0; i < height * width; ++i) image[std::size_t(i)] = float((i * 7919) % 1000) / 1000.f;

    torch::manual_seed(0);
    SmallCnn cnn;
    auto model = learn::TorchModel::from_module(cnn, "small-cnn", learn::TorchModelOptions{4, 1, "cpu"});
    const par::Range rows = par::block_partition(grid.map_rows(), comm.size(), comm.rank());
    const std::int64_t mine = rows.size() * grid.map_cols(), total = grid.windows_count();

    // Baseline batches: this rank's windows, cut once, outside the timing.
    std::vector<torch::Tensor> batches;
    for (std::int64_t start = 0; start < mine; start += batch) {
      const std::int64_t n = std::min(batch, mine - start);
      torch::Tensor b = torch::empty({n, 1, window, window});
      float* p = b.data_ptr<float>();
      for (std::int64_t k = 0; k < n; ++k) {
        const std::int64_t i = rows.begin + (start + k) / grid.map_cols(), j = (start + k) % grid.map_cols();
        for (std::int64_t dy = 0; dy < window; ++dy)
          for (std::int64_t dx = 0; dx < window; ++dx)
            *p++ = image[std::size_t(grid.image_row(i, dy) * width + grid.image_col(j, dx))];
      }
      batches.push_back(b);
    }

    const std::string path = comm.bcast_string(scratch + "/tmdflow_bench_patch_" + std::to_string(::getpid()) + ".h5", 0);
    {
      io::h5::File f = io::h5::File::create(path, &comm);
      io::h5::Dataset d = f.root().create_dataset("image", io::Dtype::f32, {height, width}, {std::min<std::int64_t>(height, 64), width});
      const par::Range mine_rows = par::block_partition(height, comm.size(), comm.rank());
      d.write<float>({mine_rows.begin, 0}, {mine_rows.size(), width}, image.data() + mine_rows.begin * width);
    }

    double t_model = 1e30, t_memory = 1e30, t_hdf5 = 1e30;
    const par::Range need = grid.image_rows_for(rows);
    for (int r = 0; r < repeats + 1; ++r) {  // the first round warms caches and is not counted
      comm.barrier();
      Stopwatch t;
      {
        c10::InferenceMode no_autograd;
        for (const auto& b : batches) cnn->forward(b);
      }
      const double model_s = comm.allreduce(t.seconds(), par::Op::max);
      comm.barrier();
      t.reset();
      learn::infer_window_rows(*model, grid, rows, {image.data() + need.begin * width, need.begin, need.size(), width}, 4, options);
      const double memory_s = comm.allreduce(t.seconds(), par::Op::max);
      io::h5::File f = io::h5::File::open(path, io::h5::Mode::readwrite, &comm);
      comm.barrier();
      t.reset();
      learn::infer_image_dataset(comm, *model, f.root().open_dataset("image"), f.root(), "maps_" + std::to_string(r), options);
      f.close();
      const double hdf5_s = comm.allreduce(t.seconds(), par::Op::max);
      if (r == 0) continue;
      t_model = std::min(t_model, model_s);
      t_memory = std::min(t_memory, memory_s);
      t_hdf5 = std::min(t_hdf5, hdf5_s);
    }
    if (comm.is_root()) {
      std::filesystem::remove(path);
      const double w = double(total);
      std::printf("patch inference: image %lldx%lld, window %lld, stride %lld, %lld windows, batch %lld, %d rank(s), best of %d\n",
                  (long long)height, (long long)width, (long long)window, (long long)stride, (long long)total,
                  (long long)batch, comm.size(), repeats);
      std::printf("  model alone (pre-cut batches):  %10.0f windows/s\n", w / t_model);
      std::printf("  runner, in memory:              %10.0f windows/s  = %.3f x model alone\n", w / t_memory, t_model / t_memory);
      std::printf("  runner, parallel HDF5:          %10.0f windows/s  = %.3f x model alone\n", w / t_hdf5, t_model / t_hdf5);
      std::printf("RESULT ranks=%d windows_per_s_hdf5=%.1f ratio_to_model=%.4f\n", comm.size(), w / t_hdf5, t_model / t_hdf5);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_patch_inference: %s\n", e.what());
    par::abort_job(1);
  }
  return 0;
}
