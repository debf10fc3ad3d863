// Benchmark of the sliding-window sampler (learn/window_sampler.hpp): windows per second through
// the sampler (collective reads of an image stack in a parallel HDF5 file, windows cut into
// reused batch buffers, the model, collective writes of the maps) against the bare forward pass
// of the same model on batches of the same size built beforehand, in the same run on the same
// ranks (goal: ratio >= 0.9). The model is a small CNN defined here (3 convolutions of 16-32
// channels with ReLU and pooling, global mean, linear head), run under InferenceMode with one
// LibTorch thread per rank. An optional line measures a second, finer pass over the boundaries.
// Usage (under mpiexec -n N):
//   tmdflow_bench_window_sampler [SIZE WINDOW STRIDE BATCH REPEATS SCRATCH_DIR]
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tmdflow/core/timer.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/learn/torch_model.hpp"
#include "tmdflow/learn/window_sampler.hpp"
#include "tmdflow/par/partition.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;

namespace {

struct SmallCnnImpl : torch::nn::Module {
  SmallCnnImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1)));
    conv3 = register_module("conv3", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 32, 3).padding(1)));
    head = register_module("head", torch::nn::Linear(32, 4));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
    y = torch::max_pool2d(torch::relu(conv2->forward(y)), 2);
    y = torch::relu(conv3->forward(y)).mean({2, 3});
    return head->forward(y);
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(SmallCnn);

// CPU seconds of this process: steadier than wall time on cores shared with other jobs.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

std::int64_t arg(int argc, char** argv, int i, std::int64_t fallback) { return argc > i ? std::atoll(argv[i]) : fallback; }

// A lattice of blobs with a brighter half: the model's output changes across the middle.
float pixel(std::int64_t y, std::int64_t x, std::int64_t size) {
  const float lattice = float((y % 12 < 6) == (x % 12 < 6));
  return lattice + (x > size / 2 ? 2.0f : 0.0f) + 0.001f * float((y * 7919 + x * 104729) % 1000);
}

}  // namespace

int main(int argc, char** argv) {
  par::Runtime runtime(argc, argv);
  const par::Comm& comm = runtime.world();
  const std::int64_t size = arg(argc, argv, 1, 1024), window = arg(argc, argv, 2, 64), stride = arg(argc, argv, 3, 16);
  const std::int64_t batch = arg(argc, argv, 4, 64);
  const int repeats = int(arg(argc, argv, 5, 2));
  const std::string scratch = argc > 6 ? argv[6] : std::filesystem::temp_directory_path().string();
  try {
    learn::WindowSamplerOptions options;
    options.inference.windows = {window, window, stride, stride, learn::Padding::none};
    options.inference.batch_size = batch;
    options.inference.show_progress = false;
    const learn::WindowGrid grid(options.inference.windows, size, size);
    std::vector<float> image(std::size_t(size * size));
    for (std::int64_t y = 0; y < size; ++y)
      for (std::int64_t x = 0; x < size; ++x) image[std::size_t(y * size + x)] = pixel(y, x, size);

    torch::manual_seed(0);
    SmallCnn cnn;
    cnn->eval();
    auto model = learn::TorchModel::from_module(cnn, "small-cnn", learn::TorchModelOptions{4, 1, "cpu"});
    // This rank's windows as the sampler shards them (one image: a block of window rows).
    const par::Range rows = par::block_partition(grid.map_rows(), comm.size(), comm.rank());
    const std::int64_t mine = rows.size() * grid.map_cols(), total = grid.windows_count();

    // Baseline batches: the same windows in batches of the same size, cut once, outside the timing.
    std::vector<torch::Tensor> batches;
    for (std::int64_t start = 0; start < mine; start += batch) {
      const std::int64_t n = std::min(batch, mine - start);
      torch::Tensor b = torch::empty({n, 1, window, window});
      float* p = b.data_ptr<float>();
      for (std::int64_t k = 0; k < n; ++k) {
        const std::int64_t i = rows.begin + (start + k) / grid.map_cols(), j = (start + k) % grid.map_cols();
        for (std::int64_t dy = 0; dy < window; ++dy)
          for (std::int64_t dx = 0; dx < window; ++dx) *p++ = image[std::size_t(grid.image_row(i, dy) * size + grid.image_col(j, dx))];
      }
      batches.push_back(b);
    }

    const std::string path = comm.bcast_string(scratch + "/tmdflow_bench_sampler_" + std::to_string(::getpid()) + ".h5", 0);
    {
      io::h5::File f = io::h5::File::create(path, &comm);
      io::h5::Dataset d = f.root().create_dataset("images", io::Dtype::f32, {1, size, size}, {1, size, size});
      const par::Range mine_rows = par::block_partition(size, comm.size(), comm.rank());
      d.write<float>({0, mine_rows.begin, 0}, {1, mine_rows.size(), size}, image.data() + mine_rows.begin * size);
    }

    double t_model = 1e30, t_sampler = 1e30, t_fine = 1e30, cpu_model = 1e30, cpu_sampler = 1e30;
    learn::WindowSamplerResult fine_result;
    float threshold = 0;
    for (int r = 0; r < repeats + 1; ++r) {  // the first round warms caches and is not counted
      comm.barrier();
      Stopwatch t;
      double cpu0 = cpu_seconds();
      {
        c10::InferenceMode no_autograd;
        for (const auto& b : batches) cnn->forward(b);
      }
      const double model_s = comm.allreduce(t.seconds(), par::Op::max);
      const double model_cpu = comm.allreduce(cpu_seconds() - cpu0, par::Op::max);
      io::h5::File f = io::h5::File::open(path, io::h5::Mode::readwrite, &comm);
      io::h5::Dataset images = f.root().open_dataset("images");
      comm.barrier();
      t.reset();
      cpu0 = cpu_seconds();
      learn::sample_image_stack(comm, *model, images, f.root().create_group("coarse_" + std::to_string(r)), options);
      const double sampler_s = comm.allreduce(t.seconds(), par::Op::max);
      const double sampler_cpu = comm.allreduce(cpu_seconds() - cpu0, par::Op::max);
      // Coarse pass plus a fine pass at stride / 4 where the output changes most (the boundary of
      // the bright half): the threshold is a third of the largest step between neighbouring
      // windows of the coarse maps just written (an untrained model's outputs have no set scale).
      if (r == 0) {
        const std::vector<float> coarse = f.root().open_dataset("coarse_0/maps").read_all<float>();
        const std::int64_t nx = grid.map_cols();
        float largest = 0;
        for (std::size_t k = 1; k < coarse.size(); ++k)
          if (std::int64_t(k) % nx != 0) largest = std::max(largest, std::abs(coarse[k] - coarse[k - 1]));
        threshold = largest / 3;
      }
      learn::WindowSamplerOptions refined = options;
      refined.fine_stride_y = refined.fine_stride_x = std::max<std::int64_t>(1, stride / 4);
      refined.refine = learn::refine_where_changes(threshold);
      comm.barrier();
      t.reset();
      fine_result = learn::sample_image_stack(comm, *model, images, f.root().create_group("fine_" + std::to_string(r)), refined);
      const double fine_s = comm.allreduce(t.seconds(), par::Op::max);
      images = io::h5::Dataset();
      f.close();
      if (r == 0) continue;
      t_model = std::min(t_model, model_s);
      t_sampler = std::min(t_sampler, sampler_s);
      t_fine = std::min(t_fine, fine_s);
      cpu_model = std::min(cpu_model, model_cpu);
      cpu_sampler = std::min(cpu_sampler, sampler_cpu);
    }
    if (comm.is_root()) {
      std::filesystem::remove(path);
      const double w = double(total), wf = double(total + fine_result.refined_windows);
      std::printf("window sampler: image %lldx%lld, window %lld, stride %lld, %lld windows, batch %lld, %d rank(s), best of %d\n",
                  (long long)size, (long long)size, (long long)window, (long long)stride, (long long)total, (long long)batch,
                  comm.size(), repeats);
      std::printf("  bare forward (pre-built batches):   %9.0f windows/s\n", w / t_model);
      std::printf("  sampler (parallel HDF5 in and out): %9.0f windows/s  = %.3f x bare forward (goal >= 0.9: %s)\n", w / t_sampler,
                  t_model / t_sampler, t_model / t_sampler >= 0.9 ? "PASS" : "MISS");
      std::printf("  the same in CPU time (steadier on shared cores): %.3f x bare forward\n", cpu_model / cpu_sampler);
      std::printf("  with a fine pass at stride %lld over %lld boundary cells (+%lld windows): %9.0f windows/s\n",
                  (long long)std::max<std::int64_t>(1, stride / 4), (long long)fine_result.refined_cells,
                  (long long)fine_result.refined_windows, wf / t_fine);
      std::printf("RESULT ranks=%d windows_per_s_sampler=%.1f windows_per_s_model=%.1f ratio_to_model=%.4f cpu_ratio_to_model=%.4f\n",
                  comm.size(), w / t_sampler, w / t_model, t_model / t_sampler, cpu_model / cpu_sampler);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_window_sampler: %s\n", e.what());
    par::abort_job(1);
  }
  return 0;
}
