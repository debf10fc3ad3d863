#include "tmdflow/learn/threads.hpp"

#include <sched.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

#include <ATen/Parallel.h>
#include <ATen/Context.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tmdflow/par/comm.hpp"

namespace tmdflow::learn {
namespace {

// The wait policy as the process started (before prefer_passive_omp_wait changed anything).
std::string g_initial_wait_policy = [] {
  const char* v = std::getenv("OMP_WAIT_POLICY");
  return std::string(v ? v : "");
}();

bool libgomp_loaded() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libgomp") != std::string::npos) return true;
  return false;
}

int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return int(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, CPU_COUNT(&set));
}

int ranks_on_this_node(const par::Comm& comm) {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm.get(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node);
  int n = 1;
  MPI_Comm_size(node, &n);
  MPI_Comm_free(&node);
  return n;
}

}  // namespace

namespace {
std::string& allocator_report() {
  static std::string report = "malloc: glibc defaults";
  return report;
}
}  // namespace

std::string keep_freed_memory() {
#if defined(__GLIBC__)
  if (const char* m = std::getenv("TMDFLOW_MALLOC"); m && std::string(m) == "default") return allocator_report() = "malloc: glibc defaults (TMDFLOW_MALLOC)";
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::string(tunables).find("glibc.malloc.") != std::string::npos) || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return allocator_report() = "malloc: the user's settings";
  std::size_t mmap = 256u << 20;
  while (mmap >= (32u << 20) && mallopt(M_MMAP_THRESHOLD, int(mmap)) != 1) mmap /= 2;
  const bool trim = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return allocator_report() = "malloc: blocks below " + std::to_string(mmap >> 20) + " MB from the heap" + (trim ? ", 1 GB kept when freed" : "");
#else
  return allocator_report() = "";
#endif
}

void prefer_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;  // the user's choice stands
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  // libgomp parsed the environment when it was loaded: only a fresh image sees the new value.
  if (argv && argv[0] && libgomp_loaded()) ::execv("/proc/self/exe", argv);
}

std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line, blas, openblas;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("libblas.so") != std::string::npos && blas.empty()) blas = path;
    if (path.find("libopenblas") != std::string::npos && openblas.empty()) openblas = path;
  }
  // libblas.so.3 is an alternatives link: which implementation it is shows in its real path.
  if (!blas.empty()) {
    if (blas.find("openblas") != std::string::npos) {
      const bool pthread = blas.find("pthread") != std::string::npos;
      return std::string("OpenBLAS") + (pthread ? " (pthread) " : " ") + blas;
    }
    if (blas.find("blis") != std::string::npos) return "BLIS " + blas;
    if (blas.find("mkl") != std::string::npos) return "MKL " + blas;
    return "reference BLAS " + blas;
  }
  if (!openblas.empty()) return "OpenBLAS " + openblas;
  return "unknown";
}

ThreadSettings current_thread_settings() {
  ThreadSettings s;
  s.cores_available = affinity_cores();
  s.intra_op_threads = at::get_num_threads();
  s.omp_wait_policy = g_initial_wait_policy;
  s.blas = loaded_blas();
  s.mkldnn_built = at::hasMKLDNN();
  s.mkldnn_enabled = s.mkldnn_built && at::globalContext().userEnabledMkldnn();
  s.allocator = allocator_report();
  return s;
}

ThreadSettings configure_threads(const par::Comm& comm, int requested) {
  ThreadSettings s = current_thread_settings();
  s.ranks_on_node = ranks_on_this_node(comm);
  const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
  s.bound = s.cores_available < hardware && s.ranks_on_node > 1;
  int threads = requested;
  if (threads <= 0) threads = s.bound ? s.cores_available : std::max(1, s.cores_available / s.ranks_on_node);
  at::set_num_threads(threads);
  s.intra_op_threads = at::get_num_threads();
  return s;
}

std::string ThreadSettings::summary() const {
  std::ostringstream o;
  o << "threads: " << intra_op_threads << " intra-op per rank (" << cores_available << " cores available, " << ranks_on_node
    << " rank" << (ranks_on_node == 1 ? "" : "s") << " on the node" << (bound ? ", bound" : "")
    << "), OMP_WAIT_POLICY=" << (omp_wait_policy.empty() ? "unset" : omp_wait_policy) << "; BLAS: " << blas
    << "; oneDNN: " << (mkldnn_enabled ? "on" : (mkldnn_built ? "off (disabled)" : "not built"));
  if (!allocator.empty()) o << "; " << allocator;
  return o.str();
}

}  // namespace tmdflow::learn
