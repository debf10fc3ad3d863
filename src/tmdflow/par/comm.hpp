#pragma once
// The MPI communicator of a job. MPI appears in tmdflow's public interfaces only through this
// class (and par/ helpers); library code asks it for rank, size and small reductions.
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace tmdflow::par {

/// MPI datatype of a C++ arithmetic type: the one traits table of tmdflow.
template <class T>
MPI_Datatype mpi_type();

enum class Op { sum, min, max };
MPI_Op mpi_op(Op op);

/// How a rank waits for the others (docs/ARCHITECTURE.md, "Parallel model"):
/// `poll` (the default) tests the request for a short spin (1 ms: balanced ranks meet within it),
/// then sleeps between tests in growing steps (0.1 to 1 ms), so that a rank waiting on a slower
/// one gives its core to whatever else runs there (another rank, another user's job);
/// `spin` tests without pause (MPI_Wait), the lowest latency on cores nobody else wants.
/// Chosen by TMDFLOW_WAIT=poll|spin; read once.
enum class WaitMode { poll, spin };
WaitMode wait_mode();
/// Completes `request` as `wait_mode()` says (or as `mode` says).
void wait(MPI_Request& request);
void wait(MPI_Request& request, WaitMode mode);

/// Constructing a Comm is collective: it also makes the private communicator on which ranks
/// agree about failures (par/failure.hpp), so that agreement never mixes with other messages.
class Comm {
 public:
  /// Non-owning wrapper (e.g. MPI_COMM_WORLD).
  explicit Comm(MPI_Comm c = MPI_COMM_WORLD);
  /// An owning duplicate: collectives on it never mix with another library's messages.
  Comm dup() const;
  ~Comm();
  Comm(Comm&& o) noexcept;
  Comm& operator=(Comm&& o) noexcept;
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  MPI_Comm get() const { return comm_; }
  /// The private communicator used by par::agree.
  MPI_Comm agreement() const { return agree_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  void barrier() const;

  // Collectives are the nonblocking ones completed by par::wait: the same results, but a rank
  // that waits does not hold its core.
  template <class T>
  T allreduce(T value, Op op) const {
    static_assert(std::is_arithmetic_v<T>);
    T out{};
    MPI_Request r;
    MPI_Iallreduce(&value, &out, 1, mpi_type<T>(), mpi_op(op), comm_, &r);
    wait(r);
    return out;
  }
  template <class T>
  void allreduce_inplace(T* data, std::size_t n, Op op) const {
    static_assert(std::is_arithmetic_v<T>);
    // MPI counts are int: reduce huge arrays in pieces.
    const std::size_t piece = std::size_t(1) << 28;
    for (std::size_t off = 0; off < n; off += piece) {
      const int cnt = int(std::min(piece, n - off));
      MPI_Request r;
      MPI_Iallreduce(MPI_IN_PLACE, data + off, cnt, mpi_type<T>(), mpi_op(op), comm_, &r);
      wait(r);
    }
  }
  template <class T>
  void bcast(T* data, std::size_t n, int root) const {
    // MPI counts are int: broadcast huge arrays in pieces.
    const std::size_t bytes = n * sizeof(T), piece = std::size_t(1) << 30;
    auto* p = reinterpret_cast<unsigned char*>(data);
    for (std::size_t off = 0; off < bytes; off += piece) {
      MPI_Request r;
      MPI_Ibcast(p + off, int(std::min(piece, bytes - off)), MPI_BYTE, root, comm_, &r);
      wait(r);
    }
  }
  std::string bcast_string(const std::string& s, int root) const;
  /// Every rank's value, on every rank.
  template <class T>
  std::vector<T> allgather(T value) const {
    std::vector<T> out(size_);
    MPI_Request r;
    MPI_Iallgather(&value, int(sizeof(T)), MPI_BYTE, out.data(), int(sizeof(T)), MPI_BYTE, comm_, &r);
    wait(r);
    return out;
  }

 private:
  MPI_Comm comm_;
  MPI_Comm agree_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = 0, size_ = 1;
};

}  // namespace tmdflow::par
