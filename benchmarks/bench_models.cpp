// Training and inference throughput of tmdflow's network families in LibTorch C++, one thread,
// to compare with the same models in PyTorch (bench_models_torch.py, same arguments; run.sh
// prints the ratios). Training step: forward, MSE loss against a fixed random target, backward,
// Adam step. Inference: eval mode under InferenceMode, the same batch.
// usage: tmdflow_bench_models SECONDS NAME:SPEC:SIZE:BATCH ...
//   e.g. tmdflow_bench_models 3 "resnet18q:resnet layout=18 width=16:64:32"
// Each model runs twice: weights in the default NCHW layout (impl=libtorch-nchw) and channels-last,
// tmdflow's fast path (impl=libtorch, learn/memory_format.hpp).
// prints: RESULT impl=libtorch model=NAME train_samples_per_s=X infer_samples_per_s=Y
//         train_samples_per_cpu_s=X' infer_samples_per_cpu_s=Y' (from the median CPU time of one
//         step of this process: the per-core rate, robust to other processes on the same cores)
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "tmdflow/learn/memory_format.hpp"
#include "tmdflow/learn/network.hpp"

namespace learn = tmdflow::learn;

namespace {

struct Case {
  std::string name;
  learn::NetworkSpec spec;
  std::int64_t size = 64, batch = 32;
};

Case parse_case(const std::string& arg) {
  std::vector<std::string> parts;
  std::stringstream s(arg);
  for (std::string part; std::getline(s, part, ':');) parts.push_back(part);
  if (parts.size() != 4) {
    std::fprintf(stderr, "bench_models: expected NAME:SPEC:SIZE:BATCH, found '%s'\n", arg.c_str());
    std::exit(2);
  }
  Case c;
  c.name = parts[0];
  std::stringstream words(parts[1]);
  words >> c.spec.family;
  for (std::string kv; words >> kv;) {
    const auto eq = kv.find('=');
    c.spec.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  c.size = std::atoll(parts[2].c_str());
  c.batch = std::atoll(parts[3].c_str());
  return c;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// CPU seconds of this process: on cores shared with other work, the cost of a step itself.
double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

struct Rate {
  double wall = 0, cpu = 0;  // calls per second of wall time; per second of the median call's CPU time
};

// Runs `step` until `seconds` have passed (at least 5 times, after 2 untimed warm-ups). The median
// of the CPU time of the calls stands for the cost of one: robust to other work on the cores.
template <class F>
Rate rate(double seconds, F step) {
  for (int i = 0; i < 2; ++i) step();
  std::vector<double> cpu;
  const double t0 = now();
  double t = t0;
  while (cpu.size() < 5 || t - t0 < seconds) {
    const double c0 = cpu_now();
    step();
    cpu.push_back(cpu_now() - c0);
    t = now();
  }
  std::nth_element(cpu.begin(), cpu.begin() + std::ptrdiff_t(cpu.size() / 2), cpu.end());
  return {double(cpu.size()) / (t - t0), 1 / cpu[cpu.size() / 2]};
}

void measure(const Case& c, bool channels_last, double seconds) {
  torch::manual_seed(0);
  auto net = learn::make_network(c.spec);
  const auto& params = net->spec().params;  // image-to-image families (the style translator) take one channel
  const std::int64_t channels = params.count("in_channels") ? std::stoll(params.at("in_channels")) : 1;
  if (channels_last) learn::use_channels_last(*net);  // the input stays NCHW, as a data loader gives it
  const torch::Tensor x = torch::randn({c.batch, channels, c.size, c.size});
  torch::Tensor target;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    target = torch::randn_like(net->forward(x));
  }
  net->train();
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
  const Rate train = rate(seconds, [&] {
    adam.zero_grad();
    torch::mse_loss(net->forward(x), target).backward();
    adam.step();
  });
  net->eval();
  const Rate infer = rate(seconds, [&] {
    c10::InferenceMode no_autograd;
    net->forward(x);
  });
  const double b = double(c.batch);
  std::printf("RESULT impl=%s model=%s train_samples_per_s=%.2f infer_samples_per_s=%.2f "
              "train_samples_per_cpu_s=%.2f infer_samples_per_cpu_s=%.2f\n",
              channels_last ? "libtorch" : "libtorch-nchw", c.name.c_str(), train.wall * b, infer.wall * b,
              train.cpu * b, infer.cpu * b);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tmdflow_bench_models SECONDS NAME:SPEC:SIZE:BATCH ...\n");
    return 2;
  }
  at::set_num_threads(1);
  const double seconds = std::atof(argv[1]);
  for (int i = 2; i < argc; ++i) {
    const Case c = parse_case(argv[i]);
    for (const bool channels_last : {false, true}) measure(c, channels_last, seconds);
  }
  return 0;
}
