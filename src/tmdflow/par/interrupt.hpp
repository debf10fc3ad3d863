#pragma once
// Clean interruption of a job by SIGINT (Ctrl-C), SIGTERM (what Slurm and mpiexec send) or SIGHUP.
//
// A signal only raises a flag. The ranks notice it at the next agreement (par::agree, which every
// rank reaches at the same point of the work), throw the same `Interrupted` error and unwind as after
// any other failure: partial products are removed through the normal path (files closed, temporary
// groups unlinked) and the process exits with 128 + the signal number (130, 143, 129). A rank that
// does not reach an agreement within a grace period (stuck in a collective whose partner died, or
// in a long computation) ends hard and exits with the same code. A second signal ends hard at once.
// The temporary files registered with `add_emergency_unlink` are unlinked at the first signal
// (an open file stays usable until closed), so that even a SIGKILL soon after leaves none.
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::par {

/// The error every rank throws once an interruption has been agreed.
class Interrupted : public Error {
 public:
  explicit Interrupted(int signal_number);
  int signal_number() const { return signal_; }

 private:
  int signal_;
};

/// "SIGINT", "SIGTERM", ... ("signal N" otherwise).
std::string signal_name(int signal_number);

/// Installs the handlers and starts the grace watchdog (par::Runtime does this once).
void install_interrupt_handlers();

/// The signal that interrupted this process, or 0.
int interrupted_by();

/// Throws Interrupted when this process has been interrupted. Only for work that is local to
/// this rank or runs on one rank: with several ranks use an agreement (par::agree) instead, so
/// that every rank stops at the same point.
void throw_if_interrupted();

/// Files removed when the process has to end hard (kept in a fixed table readable without locks).
/// Returns an id for remove_emergency_unlink, or -1 when the table is full.
int add_emergency_unlink(const std::string& path);
void remove_emergency_unlink(int id);
/// Unlinks every registered file (async-signal-safe).
void emergency_unlink_all() noexcept;

/// For tests: raises the flag as a signal would (no handler involved), and lowers it again.
void simulate_interrupt(int signal_number);
void clear_interrupt_for_tests();

}  // namespace tmdflow::par
