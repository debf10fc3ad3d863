#pragma once
// One progress bar for the whole job: every rank counts its own work, rank 0 shows the global
// count (sum over ranks) with rate and ETA. Ranks send their count to rank 0 at most a few times
// per second with non-blocking messages on a private communicator, so counting never waits.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tmdflow/core/progress.hpp"
#include "tmdflow/par/comm.hpp"

namespace tmdflow::par {

class Progress {
 public:
  /// Collective. `global_total` is the job's total count (0 if unknown).
  Progress(const Comm& comm, std::string label, std::uint64_t global_total, std::string unit,
           ProgressMode mode = ProgressMode::automatic);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Adds n to this rank's count (cheap; never blocks).
  void advance(std::uint64_t n = 1);
  /// Collective: waits for every rank's final count and prints the final line on rank 0.
  void finish();
  /// The global count as rank 0 last saw it (rank 0 only; for tests).
  std::uint64_t seen_total() const;

 private:
  void poll_root();
  void send_update(bool final);

  Comm comm_;
  std::uint64_t local_ = 0;
  std::vector<std::uint64_t> counts_;  // rank 0: last count of every rank
  std::unique_ptr<ProgressBar> bar_;
  double last_send_s_ = -1e9;
  Stopwatch clock_;
  MPI_Request pending_ = MPI_REQUEST_NULL;
  std::uint64_t send_buffer_ = 0;
  bool finished_ = false;
};

}  // namespace tmdflow::par
