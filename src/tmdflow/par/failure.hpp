#pragma once
// Failure policy of a job: no rank may hang waiting in a collective that a failed rank never joins.
//
//  * Work that may fail on some ranks only (reading a shard, computing a block) runs inside
//    `collectively(comm, fn)`: the ranks then agree; if any failed, every rank throws the same
//    CollectiveError carrying the message of the lowest failing rank, so it is reported once and
//    every rank unwinds (closing files, removing partial output) and exits with the same code.
//  * Any other exception that reaches main on a job with several ranks ends the job with
//    abort_job (after removing its temporary files): the job stops rather than hangs.
#include <exception>
#include <string>

#include "tmdflow/core/error.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::par {

class CollectiveError : public Error {
 public:
  CollectiveError(const std::string& message, ExitCode code, int origin_rank)
      : Error(message, code), origin_rank_(origin_rank) {}
  int origin_rank() const { return origin_rank_; }

 private:
  int origin_rank_;
};

/// Collective: if any rank passes a non-null error, all ranks throw the CollectiveError of the
/// lowest failing rank. Returns normally on every rank otherwise.
void agree(const Comm& comm, std::exception_ptr local_error);

/// Runs fn() (which must not call collectives) on every rank, then `agree`s.
template <class F>
void collectively(const Comm& comm, F&& fn) {
  std::exception_ptr err;
  try {
    fn();
  } catch (...) {
    err = std::current_exception();
  }
  agree(comm, err);
}

/// A point where every rank may stop together: an agreement with no local error, which throws on
/// every rank when any rank has been interrupted (par/interrupt.hpp). Collective; about 10 us.
inline void interruption_point(const Comm& comm) { agree(comm, nullptr); }

/// Fault injection for the tests of this policy: when the environment variable
/// TMDFLOW_INJECT_FAULT is "SITE:RANK" and matches, throws an IoError on that rank only.
/// Sites: "pattern-read" (after a block read of a pattern pass), "image-read" (after a tile read of an
/// image pass), "stage-run" (start of a stage's work),
/// "block-write" (before each collective block write of the simulation and synthesis stages).
/// "SITE:RANK:stall" makes that rank wait there instead (up to a minute, or until interrupted).
void inject_fault(const Comm& comm, const char* site);

/// Message and exit code of any exception.
std::string describe(std::exception_ptr e, ExitCode* code);

}  // namespace tmdflow::par
