#pragma once
// Thread settings of a training or inference process: torch's intra-op threads from the cores this
// rank owns, OpenMP's passive waiting (spinning OpenMP threads run 5-10x slower when other processes
// share the cores), and a one-line report of the BLAS and convolution kernels that LibTorch uses.
// No torch headers here: stages and apps may include it.
#include <string>

namespace tmdflow::par {
class Comm;
}

namespace tmdflow::learn {

/// Call first in main(), before MPI, Kokkos or any OpenMP code runs. When the user has not set
/// OMP_WAIT_POLICY, sets it to PASSIVE; libgomp reads it once, when it is loaded (before main), so
/// the process then re-executes itself (execv of /proc/self/exe with the same argv) to start with
/// it. Returns normally when nothing had to change or when re-executing is impossible.
void prefer_passive_omp_wait(char** argv);

/// Call early in main() of a process that runs LibTorch. LibTorch's CPU allocator caches nothing:
/// every tensor of a forward pass is malloc'ed and freed, and glibc serves blocks above its mmap
/// threshold (at most 32 MB by default) with fresh mappings and gives freed heap tops back, so the
/// next pass page-faults all of its memory in again (measured: a third of style-translate's time in
/// the kernel's page-fault handler, benchmarks/run.sh "allocator"). Raises the mmap threshold to the
/// largest glibc accepts (256 MB where it can, else 32 MB) and the trim threshold to 1 GB, so freed
/// blocks are reused. Leaves glibc's defaults when the user set MALLOC_MMAP_THRESHOLD_,
/// MALLOC_TRIM_THRESHOLD_ or a glibc.malloc tunable (GLIBC_TUNABLES), or TMDFLOW_MALLOC=default
/// (the benchmark's baseline). Returns what it did, for
/// ThreadSettings::summary ("" when nothing).
std::string keep_freed_memory();

struct ThreadSettings {
  int cores_available = 1;  // CPUs in this process's affinity mask
  int ranks_on_node = 1;    // ranks sharing this node (MPI_Comm_split_type SHARED)
  bool bound = false;       // the launcher bound this rank to fewer CPUs than the node has
  int intra_op_threads = 1; // what torch was told
  std::string omp_wait_policy;  // OMP_WAIT_POLICY as the process started, "" when unset
  std::string blas;             // the BLAS library mapped into the process
  bool mkldnn_built = false;    // LibTorch built with oneDNN (mkldnn)
  bool mkldnn_enabled = false;  // and the user did not switch it off
  std::string allocator;        // keep_freed_memory's report
  /// "threads: 1 intra-op per rank (2 cores, 2 ranks on the node), OMP_WAIT_POLICY=PASSIVE;
  ///  BLAS: OpenBLAS (...); oneDNN: on"
  std::string summary() const;
};

/// Collective on `comm`. Sets torch's intra-op threads to `requested` when > 0, else to the cores
/// this rank owns: its affinity mask when the launcher bound it, else the node's available cores
/// divided by the ranks on the node (at least 1). Inter-op threads are left at torch's default.
ThreadSettings configure_threads(const par::Comm& comm, int requested = 0);

/// What configure_threads would report without changing anything (BLAS and oneDNN only; thread
/// fields show torch's current setting).
ThreadSettings current_thread_settings();

/// The BLAS mapped into this process, from /proc/self/maps: "OpenBLAS (pthread) /path" or
/// "reference BLAS /path" or "unknown".
std::string loaded_blas();

}  // namespace tmdflow::learn
