#pragma once
// RAII start and end of a tmdflow process: MPI first, then Kokkos; Kokkos is finalised before MPI.
// Also the job-wide failure policy (see failure.hpp): a rank that has to end the job first removes
// its temporary files (par/interrupt.hpp, add_emergency_unlink).
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

/// Ends the whole job from this rank: removes this rank's temporary files, then MPI_Abort (or exit
/// with one rank).
[[noreturn]] void abort_job(int exit_code);

}  // namespace tmdflow::par
