// One GoogleTest main for every test executable: MPI then Kokkos (par::Runtime), then the tests.
// Only rank 0 prints the usual report; other ranks report failures only.
#include <gtest/gtest.h>

#include "tmdflow/par/runtime.hpp"

int main(int argc, char** argv) {
  tmdflow::par::Runtime runtime(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (runtime.world().rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    // Keep the default printer only for failures: wrap nothing, just silence successes.
    delete listeners.Release(listeners.default_result_printer());
    struct FailurePrinter : ::testing::EmptyTestEventListener {
      int rank;
      explicit FailurePrinter(int r) : rank(r) {}
      void OnTestPartResult(const ::testing::TestPartResult& r) override {
        if (r.failed()) fprintf(stderr, "[rank %d] %s:%d: %s\n", rank, r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
      }
    };
    listeners.Append(new FailurePrinter(runtime.world().rank()));
  }
  int failed = RUN_ALL_TESTS();
  // Every rank's verdict counts: a failure on any rank fails the job.
  int any = runtime.world().allreduce(failed, tmdflow::par::Op::max);
  return any ? 1 : 0;
}
