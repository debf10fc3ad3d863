#include "tmdflow/par/progress.hpp"

#include <chrono>
#include <numeric>
#include <thread>

#include "tmdflow/par/interrupt.hpp"

namespace tmdflow::par {
namespace {
constexpr int kTagUpdate = 101;
constexpr int kTagFinal = 102;
constexpr double kSendInterval = 0.25;
}  // namespace

Progress::Progress(const Comm& comm, std::string label, std::uint64_t total, std::string unit, ProgressMode mode)
    : comm_(comm.dup()) {
  if (comm_.is_root()) {
    counts_.assign(comm_.size(), 0);
    bar_ = std::make_unique<ProgressBar>(std::move(label), total, std::move(unit), mode);
  }
}

Progress::~Progress() {
  if (finished_) return;
  // Unwinding after an error: drop what is in flight without waiting for anyone.
  if (pending_ != MPI_REQUEST_NULL) MPI_Request_free(&pending_);
  if (comm_.is_root()) {
    int flag = 1;
    while (flag) {
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_.get(), &flag, &st);
      if (flag) {
        std::uint64_t v;
        MPI_Recv(&v, 1, MPI_UINT64_T, st.MPI_SOURCE, st.MPI_TAG, comm_.get(), MPI_STATUS_IGNORE);
      }
    }
  }
}

void Progress::poll_root() {
  int flag = 1;
  while (flag) {
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, kTagUpdate, comm_.get(), &flag, &st);
    if (flag) {
      std::uint64_t v;
      MPI_Recv(&v, 1, MPI_UINT64_T, st.MPI_SOURCE, kTagUpdate, comm_.get(), MPI_STATUS_IGNORE);
      counts_[st.MPI_SOURCE] = std::max(counts_[st.MPI_SOURCE], v);
    }
  }
}

void Progress::send_update(bool final) {
  if (pending_ != MPI_REQUEST_NULL) {
    if (final) {
      MPI_Wait(&pending_, MPI_STATUS_IGNORE);
    } else {
      int done = 0;
      MPI_Test(&pending_, &done, MPI_STATUS_IGNORE);
      if (!done) return;
    }
  }
  send_buffer_ = local_;
  if (final) {
    MPI_Send(&send_buffer_, 1, MPI_UINT64_T, 0, kTagFinal, comm_.get());
  } else {
    MPI_Isend(&send_buffer_, 1, MPI_UINT64_T, 0, kTagUpdate, comm_.get(), &pending_);
  }
}

void Progress::advance(std::uint64_t n) {
  // One rank: any point of its work is a safe place to stop (with several, the agreements are).
  if (comm_.size() == 1) throw_if_interrupted();
  local_ += n;
  const double now = clock_.seconds();
  if (comm_.is_root()) {
    counts_[0] = local_;
    if (comm_.size() > 1 && now - last_send_s_ >= 0.05) {
      last_send_s_ = now;
      poll_root();
    }
    bar_->update(std::accumulate(counts_.begin(), counts_.end(), std::uint64_t(0)));
  } else if (now - last_send_s_ >= kSendInterval) {
    last_send_s_ = now;
    send_update(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!comm_.is_root()) {
    send_update(true);
    return;
  }
  counts_[0] = local_;
  int remaining = comm_.size() - 1;
  while (remaining > 0) {
    poll_root();
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, kTagFinal, comm_.get(), &flag, &st);
    if (flag) {
      std::uint64_t v;
      MPI_Recv(&v, 1, MPI_UINT64_T, st.MPI_SOURCE, kTagFinal, comm_.get(), MPI_STATUS_IGNORE);
      counts_[st.MPI_SOURCE] = v;
      --remaining;
    } else {
      bar_->update(std::accumulate(counts_.begin(), counts_.end(), std::uint64_t(0)));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  poll_root();  // updates sent before the final message (non-overtaking within a tag pair is not guaranteed)
  bar_->update(std::accumulate(counts_.begin(), counts_.end(), std::uint64_t(0)));
  bar_->finish();
}

std::uint64_t Progress::seen_total() const {
  return std::accumulate(counts_.begin(), counts_.end(), std::uint64_t(0));
}

}  // namespace tmdflow::par
