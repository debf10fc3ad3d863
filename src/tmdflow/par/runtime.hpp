#pragma once
// RAII start and end of a tmdflow process: MPI first, then Kokkos; Kokkos is finalised before MPI.
// Also the job-wide failure policy (see failure.hpp) and the hooks that remove partial output
// when a rank has to abort the job.
#include <functional>
#include <string>

#include "tmdflow/par/comm.hpp"

namespace tmdflow::par {

class Runtime {
 public:
  Runtime(int& argc, char**& argv);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const Comm& world() const { return *world_; }
  static bool active();
  /// The runtime's world communicator; throws when no Runtime exists.
  static const Comm& world_comm();

 private:
  Comm* world_ = nullptr;
};

/// Registers a clean-up action (e.g. remove a temporary file) run by `abort_job` on this rank.
/// Returns an id for `remove_abort_hook`.
int add_abort_hook(std::function<void()> hook);
void remove_abort_hook(int id);

/// Ends the whole job from this rank: runs the abort hooks, then MPI_Abort (or exit with one rank).
[[noreturn]] void abort_job(int exit_code);

}  // namespace tmdflow::par
