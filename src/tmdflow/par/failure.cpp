#include "tmdflow/par/failure.hpp"

#include <chrono>
#include <cstdlib>
#include <new>
#include <thread>

#include "tmdflow/core/log.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "tmdflow/par/runtime.hpp"

namespace tmdflow::par {

std::string describe(std::exception_ptr e, ExitCode* code) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& x) {
    if (code) *code = x.code();
    return x.what();
  } catch (const std::bad_alloc&) {
    if (code) *code = ExitCode::failure;
    return "out of memory";
  } catch (const std::exception& x) {
    if (code) *code = ExitCode::failure;
    return x.what();
  } catch (...) {
    if (code) *code = ExitCode::failure;
    return "unknown error";
  }
}

void inject_fault(const Comm& comm, const char* site) {
  const char* v = std::getenv("TMDFLOW_INJECT_FAULT");
  if (!v) return;
  const std::string spec(v), want = std::string(site) + ":" + std::to_string(comm.rank());
  if (spec == want)
    throw IoError("injected fault at '" + std::string(site) + "' on rank " + std::to_string(comm.rank()) +
                  " (TMDFLOW_INJECT_FAULT)");
  // "SITE:RANK:stall": this rank waits (a minute, or until a signal) while the others go on into
  // the next collective -- how the tests place a kill inside a collective write.
  if (spec == want + ":stall") {
    log::write(log::Level::info, "stalling at '" + std::string(site) + "' (TMDFLOW_INJECT_FAULT)", true);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!interrupted_by() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

double agreement_timeout_s() {
  if (const char* v = std::getenv("TMDFLOW_AGREE_TIMEOUT")) {
    double t = std::atof(v);
    if (t > 0) return t;
  }
  return 60.0;
}

void agree(const Comm& comm, std::exception_ptr local_error) {
  // An interruption is a failure of the rank that saw the signal: every rank stops here together.
  if (!local_error && interrupted_by()) local_error = std::make_exception_ptr(Interrupted(interrupted_by()));
  if (comm.size() == 1) {
    if (local_error) std::rethrow_exception(local_error);
    return;
  }
  int mine = local_error ? comm.rank() : comm.size();
  int first = comm.size();
  MPI_Request req;
  MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm.agreement(), &req);
  if (!local_error) {
    wait(req);
  } else {
    // A failed rank waits a bounded time for the others: if they are stuck in a collective this
    // rank will never join, it ends the job rather than let it hang.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(agreement_timeout_s());
    int done = 0;
    while (!done) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ExitCode code = ExitCode::failure;
        std::string msg = describe(local_error, &code);
        log::write(log::Level::error, msg + " (the other ranks did not respond; ending the job)", true);
        abort_job(static_cast<int>(code));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (first == comm.size()) return;
  // A CollectiveError keeps its origin rank through nested agreements.
  ExitCode code = ExitCode::failure;
  std::string message;
  int origin = first;
  if (comm.rank() == first) {
    message = describe(local_error, &code);
    try {
      std::rethrow_exception(local_error);
    } catch (const CollectiveError& c) {
      origin = c.origin_rank();
    } catch (...) {
    }
  }
  int header[3] = {static_cast<int>(code), origin, int(message.size())};
  {
    MPI_Request r;
    MPI_Ibcast(header, 3, MPI_INT, first, comm.agreement(), &r);
    wait(r);
  }
  message.resize(size_t(header[2]));
  if (header[2] > 0) {
    MPI_Request r;
    MPI_Ibcast(message.data(), header[2], MPI_CHAR, first, comm.agreement(), &r);
    wait(r);
  }
  int code_int = header[0];
  origin = header[1];
  throw CollectiveError(message, static_cast<ExitCode>(code_int), origin);
}

}  // namespace tmdflow::par
