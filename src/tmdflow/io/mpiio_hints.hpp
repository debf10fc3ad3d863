#pragma once
// Settings of parallel HDF5 files for a site's parallel file system, from the environment (so that a
// job script sets them once for every product; slurm/README.md, "Site notes"):
//   TMDFLOW_MPIIO_HINTS="key=value,key=value"  MPI-IO hints passed to every parallel file, e.g.
//       "striping_factor=8,striping_unit=4194304,romio_cb_write=enable,cb_nodes=4" (ROMIO's names;
//       an MPI-IO layer ignores the hints it does not know)
//   TMDFLOW_HDF5_ALIGNMENT=BYTES  every dataset of at least 1 MiB starts at a multiple of BYTES in the
//       file (the stripe size on Lustre: no stripe shared by the writes of two ranks)
#include <mpi.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tmdflow::io {

/// "key=value,key=value" as pairs; UsageError naming TMDFLOW_MPIIO_HINTS for an entry without '='
/// or with an empty key or value.
std::vector<std::pair<std::string, std::string>> parse_mpiio_hints(const std::string& text);

/// An MPI_Info holding the hints of TMDFLOW_MPIIO_HINTS (MPI_INFO_NULL when unset or empty).
class MpiioHints {
 public:
  MpiioHints();
  ~MpiioHints();
  MpiioHints(const MpiioHints&) = delete;
  MpiioHints& operator=(const MpiioHints&) = delete;
  MPI_Info get() const { return info_; }

 private:
  MPI_Info info_ = MPI_INFO_NULL;
};

/// TMDFLOW_HDF5_ALIGNMENT in bytes, 0 when unset; UsageError unless a positive integer.
std::uint64_t hdf5_alignment_from_environment();

}  // namespace tmdflow::io
