#include "tmdflow/par/comm.hpp"

#include <cstdint>

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

void Comm::barrier() const { MPI_Barrier(comm_); }

std::string Comm::bcast_string(const std::string& s, int root) const {
  std::uint64_t n = s.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_);
  std::string out(n, '\0');
  if (rank_ == root) out = s;
  if (n) MPI_Bcast(out.data(), int(n), MPI_CHAR, root, comm_);
  return out;
}

}  // namespace tmdflow::par
