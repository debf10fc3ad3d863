// Training and inference throughput of tmdflow's network families in LibTorch C++, one thread,
// to compare with the same models in PyTorch (bench_models_torch.py, same arguments; run.sh
// prints the ratios). Training step: forward, MSE loss against a fixed random target, backward,
// Adam step. Inference: eval mode under InferenceMode, the same batch.
// usage: tmdflow_bench_models SECONDS NAME:SPEC:SIZE:BATCH ...
//   e.g. tmdflow_bench_models 3 "resnet18q:resnet layout=18 width=16:64:32"
// prints: RESULT impl=libtorch model=NAME train_samples_per_s=X infer_samples_per_s=Y
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

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

// Runs `step` until `seconds` have passed (at least 3 times, after 2 untimed warm-ups): calls per second.
template <class F>
double rate(double seconds, F step) {
  for (int i = 0; i < 2; ++i) step();
  int calls = 0;
  const double t0 = now();
  double t = t0;
  while (calls < 3 || t - t0 < seconds) {
    step();
    ++calls;
    t = now();
  }
  return calls / (t - t0);
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
    torch::manual_seed(0);
    auto net = learn::make_network(c.spec);
    const std::int64_t channels = std::stoll(net->spec().params.at("in_channels"));
    const torch::Tensor x = torch::randn({c.batch, channels, c.size, c.size});
    torch::Tensor target;
    {
      torch::NoGradGuard no_grad;
      net->eval();
      target = torch::randn_like(net->forward(x));
    }
    net->train();
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3));
    const double train = rate(seconds, [&] {
      adam.zero_grad();
      torch::mse_loss(net->forward(x), target).backward();
      adam.step();
    });
    net->eval();
    const double infer = rate(seconds, [&] {
      c10::InferenceMode no_autograd;
      net->forward(x);
    });
    std::printf("RESULT impl=libtorch model=%s train_samples_per_s=%.2f infer_samples_per_s=%.2f\n", c.name.c_str(),
                train * double(c.batch), infer * double(c.batch));
    std::fflush(stdout);
  }
  return 0;
}
