#pragma once
// Small per-rank tables joined on every rank: the rows of rank 0, then rank 1's, ... (the order of
// a block partition of the work, so the result does not depend on the rank count when each rank's
// rows are its block's in order). For results of a pass (detections, peaks), never for the data.
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "tmdflow/par/comm.hpp"

namespace tmdflow::par {

/// Every rank's `local` rows, concatenated in rank order, on every rank (collective).
template <class T>
std::vector<T> allgather_rows(const Comm& comm, const std::vector<T>& local) {
  static_assert(std::is_trivially_copyable_v<T>);
  const std::vector<std::int64_t> counts = comm.allgather(std::int64_t(local.size()));
  std::vector<std::int64_t> offsets(counts.size() + 1, 0);
  for (std::size_t r = 0; r < counts.size(); ++r) offsets[r + 1] = offsets[r] + counts[r];
  std::vector<T> all(std::size_t(offsets.back()));
  for (int r = 0; r < comm.size(); ++r) {
    // One broadcast per rank: tables are small, and MPI_Allgatherv's int counts cap them at 2 GiB.
    if (r == comm.rank() && !local.empty()) std::copy(local.begin(), local.end(), all.begin() + offsets[std::size_t(r)]);
    if (counts[std::size_t(r)] > 0) comm.bcast(all.data() + offsets[std::size_t(r)], std::size_t(counts[std::size_t(r)]), r);
  }
  return all;
}

}  // namespace tmdflow::par
