#include "tmdflow/par/runtime.hpp"

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <cstdlib>

#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"
#include "tmdflow/par/interrupt.hpp"

namespace tmdflow::par {
namespace {
Runtime* g_runtime = nullptr;
}  // namespace

Runtime::Runtime(int& argc, char**& argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // Started without a launcher (one process, an MPI "singleton"): no messages ever leave the
    // process, so Open MPI is spared probing for network transports (0.2 s per start). Under
    // mpiexec or srun, and when the user sets it, the choice is left alone.
    const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_RANK") ||
                          std::getenv("SLURM_PROCID");
    if (!launched) {
      setenv("OMPI_MCA_pml", "ob1", 0);
      // Nor does it need a daemon (orted, which a singleton otherwise starts to be able to spawn
      // processes tmdflow never spawns) or the PCI and I/O devices of the topology (read from
      // /sys device by device, for network locality): 0.27 s -> 0.07 s per start.
      setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
      setenv("HWLOC_COMPONENTS", "-pci,-linuxio", 0);
    }
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  }
  // After MPI_Init: tmdflow's handlers take over SIGINT, SIGTERM and SIGHUP (see interrupt.hpp).
  install_interrupt_handlers();
  world_ = new Comm(MPI_COMM_WORLD);
  log::set_rank(world_->rank(), world_->size());
  if (!Kokkos::is_initialized()) {
    Kokkos::InitArguments args;
    args.disable_warnings = true;
    Kokkos::initialize(args);
  }
  g_runtime = this;
}

Runtime::~Runtime() {
  g_runtime = nullptr;
  delete world_;
  if (Kokkos::is_initialized()) Kokkos::finalize();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool Runtime::active() { return g_runtime != nullptr; }

const Comm& Runtime::world_comm() {
  if (!g_runtime) throw Error("tmdflow runtime not initialised (no par::Runtime)", ExitCode::failure);
  return g_runtime->world();
}

void abort_job(int exit_code) {
  emergency_unlink_all();  // this rank's temporary files (par/interrupt.hpp)
  int initialized = 0, finalized = 0, size = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  }
  std::_Exit(exit_code);
}

}  // namespace tmdflow::par
