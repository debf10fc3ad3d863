#pragma once
// The MPI communicator of a job. MPI appears in tmdflow's public interfaces only through this
// class (and par/ helpers); library code asks it for rank, size and small reductions.
#include <mpi.h>

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

  template <class T>
  T allreduce(T value, Op op) const {
    static_assert(std::is_arithmetic_v<T>);
    T out{};
    MPI_Allreduce(&value, &out, 1, mpi_type<T>(), mpi_op(op), comm_);
    return out;
  }
  template <class T>
  void allreduce_inplace(T* data, std::size_t n, Op op) const {
    static_assert(std::is_arithmetic_v<T>);
    // MPI counts are int: reduce huge arrays in pieces.
    const std::size_t piece = std::size_t(1) << 28;
    for (std::size_t off = 0; off < n; off += piece) {
      const int cnt = int(std::min(piece, n - off));
      MPI_Allreduce(MPI_IN_PLACE, data + off, cnt, mpi_type<T>(), mpi_op(op), comm_);
    }
  }
  template <class T>
  void bcast(T* data, std::size_t n, int root) const {
    MPI_Bcast(data, int(n * sizeof(T)), MPI_BYTE, root, comm_);
  }
  std::string bcast_string(const std::string& s, int root) const;
  /// Every rank's value, on every rank.
  template <class T>
  std::vector<T> allgather(T value) const {
    std::vector<T> out(size_);
    MPI_Allgather(&value, int(sizeof(T)), MPI_BYTE, out.data(), int(sizeof(T)), MPI_BYTE, comm_);
    return out;
  }

 private:
  MPI_Comm comm_;
  MPI_Comm agree_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = 0, size_ = 1;
};

}  // namespace tmdflow::par
