#include "tmdflow/par/comm.hpp"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "tmdflow/core/error.hpp"

namespace tmdflow::par {

template <> MPI_Datatype mpi_type<char>() { return MPI_CHAR; }
template <> MPI_Datatype mpi_type<signed char>() { return MPI_SIGNED_CHAR; }
template <> MPI_Datatype mpi_type<unsigned char>() { return MPI_UNSIGNED_CHAR; }
template <> MPI_Datatype mpi_type<short>() { return MPI_SHORT; }
template <> MPI_Datatype mpi_type<unsigned short>() { return MPI_UNSIGNED_SHORT; }
template <> MPI_Datatype mpi_type<int>() { return MPI_INT; }
template <> MPI_Datatype mpi_type<unsigned>() { return MPI_UNSIGNED; }
template <> MPI_Datatype mpi_type<long>() { return MPI_LONG; }
template <> MPI_Datatype mpi_type<unsigned long>() { return MPI_UNSIGNED_LONG; }
template <> MPI_Datatype mpi_type<long long>() { return MPI_LONG_LONG; }
template <> MPI_Datatype mpi_type<unsigned long long>() { return MPI_UNSIGNED_LONG_LONG; }
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

MPI_Op mpi_op(Op op) {
  switch (op) {
    case Op::sum: return MPI_SUM;
    case Op::min: return MPI_MIN;
    case Op::max: return MPI_MAX;
  }
  return MPI_SUM;
}

WaitMode wait_mode() {
  static const WaitMode mode = [] {
    const char* v = std::getenv("TMDFLOW_WAIT");
    if (!v || !*v || std::strcmp(v, "poll") == 0) return WaitMode::poll;
    if (std::strcmp(v, "spin") == 0) return WaitMode::spin;
    throw ConfigError(std::string("TMDFLOW_WAIT: expected poll or spin, found '") + v + "'");
  }();
  return mode;
}

void wait(MPI_Request& request) { wait(request, wait_mode()); }

void wait(MPI_Request& request, WaitMode mode) {
  if (mode == WaitMode::spin) {
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    return;
  }
  // Spin first, for up to 1 ms: ranks of balanced work meet within that (the waits of an NMF or
  // k-means iteration are tens to hundreds of microseconds), and a sleep costs at least the
  // kernel's timer slack (50 us) of latency; with a 50 us spin the twist-domain workflow was 3-5 %
  // slower on exclusive cores (issue #20). Longer waits (a slower rank, rank 0 writing, a core
  // shared with another job) sleep between tests, 0.1 ms doubling to 1 ms: the waiting rank gives
  // its core away and answers at most 1 ms (plus a wake-up) late.
  constexpr auto kSpin = std::chrono::microseconds(1000);
  constexpr long kFirstSleepNs = 100'000, kLongestSleepNs = 1'000'000;
  int done = 0;
  const auto spin_end = std::chrono::steady_clock::now() + kSpin;
  do {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
  } while (std::chrono::steady_clock::now() < spin_end);
  long sleep_ns = kFirstSleepNs;
  for (;;) {
    timespec ts{0, sleep_ns};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    sleep_ns = std::min(2 * sleep_ns, kLongestSleepNs);
  }
}

Comm::Comm(MPI_Comm c) : comm_(c) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Comm_dup(comm_, &agree_);
}

Comm Comm::dup() const {
  MPI_Comm d;
  MPI_Comm_dup(comm_, &d);
  Comm out(d);
  out.owned_ = true;
  return out;
}

Comm::~Comm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (agree_ != MPI_COMM_NULL) MPI_Comm_free(&agree_);
  if (owned_) MPI_Comm_free(&comm_);
}

Comm::Comm(Comm&& o) noexcept
    : comm_(o.comm_), agree_(o.agree_), owned_(o.owned_), rank_(o.rank_), size_(o.size_) {
  o.owned_ = false;
  o.agree_ = MPI_COMM_NULL;
}

Comm& Comm::operator=(Comm&& o) noexcept {
  if (this != &o) {
    if (agree_ != MPI_COMM_NULL) MPI_Comm_free(&agree_);
    if (owned_) MPI_Comm_free(&comm_);
    comm_ = o.comm_;
    agree_ = o.agree_;
    owned_ = o.owned_;
    rank_ = o.rank_;
    size_ = o.size_;
    o.owned_ = false;
    o.agree_ = MPI_COMM_NULL;
  }
  return *this;
}

void Comm::barrier() const {
  MPI_Request r;
  MPI_Ibarrier(comm_, &r);
  wait(r);
}

std::string Comm::bcast_string(const std::string& s, int root) const {
  std::uint64_t n = s.size();
  bcast(&n, 1, root);
  std::string out(n, '\0');
  if (rank_ == root) out = s;
  if (n) bcast(out.data(), n, root);
  return out;
}

}  // namespace tmdflow::par
