// A program outside tmdflow's tree that uses the installed library: opens a datacube with
// tmdflow::io (MPI, Kokkos and parallel HDF5 through tmdflow::par) and prints what the test
// compares with h5py: the shape, the product that holds it and the sum of its counts.
#include <cstdio>
#include <exception>
#include <vector>

#include "tmdflow/io/datacube.hpp"
#include "tmdflow/io/dtype.hpp"
#include "tmdflow/par/runtime.hpp"

int main(int argc, char** argv) {
  tmdflow::par::Runtime runtime(argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer FILE.h5[:/group]\n");
    return 2;
  }
  try {
    const auto reader = tmdflow::io::DatacubeReader::open(argv[1], &runtime.world());
    const auto& meta = reader.meta();
    std::vector<double> row(static_cast<std::size_t>(meta.scan_cols() * meta.pattern_pixels()));
    double sum = 0;
    for (std::int64_t r = 0; r < meta.scan_rows(); ++r) {
      reader.read_rows(r, 1, row.data());
      for (double v : row) sum += v;
    }
    if (runtime.world().is_root()) {
      std::printf("shape %lld %lld %lld %lld\n", static_cast<long long>(meta.shape[0]), static_cast<long long>(meta.shape[1]),
                  static_cast<long long>(meta.shape[2]), static_cast<long long>(meta.shape[3]));
      std::printf("dtype %s\n", tmdflow::io::dtype_name(meta.dtype).c_str());
      std::printf("product %s\n", reader.product() ? reader.product()->schema.c_str() : "none");
      std::printf("sum %.17g\n", sum);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
