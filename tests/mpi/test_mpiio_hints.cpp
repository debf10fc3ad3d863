// Site settings of parallel files (io/mpiio_hints.hpp): the hints of TMDFLOW_MPIIO_HINTS reach the
// file's MPI-IO driver, TMDFLOW_HDF5_ALIGNMENT places large datasets at multiples of it, and
// malformed values are usage errors naming the variable. At 1 and 2 ranks.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdlib>

#include "common/testing.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/io/h5.hpp"
#include "tmdflow/io/mpiio_hints.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;

namespace {

// Sets an environment variable for the scope of a test.
struct Env {
  std::string name;
  Env(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
  ~Env() { unsetenv(name.c_str()); }
};

}  // namespace

TEST(MpiioHints, ParsesEntriesAndRefusesMalformedOnes) {
  const auto h = io::parse_mpiio_hints(" striping_factor=8, romio_cb_write = enable ,,");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0], (std::pair<std::string, std::string>{"striping_factor", "8"}));
  EXPECT_EQ(h[1], (std::pair<std::string, std::string>{"romio_cb_write", "enable"}));
  for (const char* bad : {"striping_factor", "=8", "cb_nodes="}) {
    try {
      io::parse_mpiio_hints(bad);
      FAIL() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("TMDFLOW_MPIIO_HINTS"), std::string::npos) << e.what();
    }
  }
  Env a("TMDFLOW_HDF5_ALIGNMENT", "4k");
  EXPECT_THROW(io::hdf5_alignment_from_environment(), UsageError);
}

TEST(MpiioHints, ReachTheFileAndAlignItsDatasets) {
  const par::Comm& comm = par::Runtime::world_comm();
  tmdflow::testing::ScratchDir dir(comm);
  Env hints("TMDFLOW_MPIIO_HINTS", "cb_nodes=1,tmdflow_test_hint=42");
  Env align("TMDFLOW_HDF5_ALIGNMENT", "65536");
  const std::string path = dir.file("aligned.h5");
  haddr_t offset = 0;
  std::string seen;
  {
    io::h5::File f = io::h5::File::create(path, &comm);
    // The hints as the file's MPI-IO driver holds them.
    const hid_t fid = H5Iget_file_id(f.root().id());
    hid_t fapl = H5Fget_access_plist(fid);
    H5Fclose(fid);  // the reference H5Iget_file_id took
    MPI_Comm c = MPI_COMM_NULL;
    MPI_Info info = MPI_INFO_NULL;
    ASSERT_GE(H5Pget_fapl_mpio(fapl, &c, &info), 0);
    char value[64] = {0};
    int flag = 0;
    if (info != MPI_INFO_NULL) MPI_Info_get(info, "tmdflow_test_hint", sizeof value - 1, value, &flag);
    if (flag) seen = value;
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
    if (c != MPI_COMM_NULL) MPI_Comm_free(&c);
    H5Pclose(fapl);
    // A small dataset first, so that the large one would not start aligned by chance.
    f.root().write_vector("small", std::vector<double>(3, 1.0));
    io::h5::Dataset big = f.root().create_dataset("big", io::Dtype::f32, {1 << 19});  // 2 MiB
    std::vector<float> values(std::size_t(1 << 19) / std::size_t(comm.size()) + 1, 1.0f);
    const std::int64_t n = (1 << 19) / comm.size(), first = n * comm.rank();
    const std::int64_t count = comm.rank() + 1 == comm.size() ? (1 << 19) - first : n;
    big.write({first}, {count}, values.data());
    offset = H5Dget_offset(big.id());
  }
  EXPECT_EQ(seen, "42") << "TMDFLOW_MPIIO_HINTS did not reach the file's MPI-IO info";
  EXPECT_NE(offset, HADDR_UNDEF);
  EXPECT_EQ(offset % 65536, 0u) << "the 2 MiB dataset starts at " << offset;
}
