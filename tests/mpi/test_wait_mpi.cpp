// Ranks that wait for a slower one (par::wait) give their core away: on a shared machine the
// spinning of a waiting rank takes time from whatever else runs on its core (issue #20).
#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <thread>

#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;

namespace {

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

/// CPU seconds and wall seconds that rank 0 spends in an allreduce that the last rank joins
/// `late_ms` late; every rank gets the sum.
std::pair<double, double> wait_for_late_rank(const par::Comm& world, par::WaitMode mode, int late_ms, int& sum) {
  world.barrier();
  if (world.rank() == world.size() - 1) std::this_thread::sleep_for(std::chrono::milliseconds(late_ms));
  const double c0 = thread_cpu_s();
  const auto w0 = std::chrono::steady_clock::now();
  int one = 1;
  MPI_Request r;
  MPI_Iallreduce(MPI_IN_PLACE, &one, 1, MPI_INT, MPI_SUM, world.get(), &r);
  par::wait(r, mode);
  sum = one;
  return {thread_cpu_s() - c0, std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count()};
}

}  // namespace

TEST(WaitMpi, APollingRankSleepsWhileItWaitsAndASpinningOneDoesNot) {
  const par::Comm& world = par::Runtime::world_comm();
  int sum = 0;
  const auto [poll_cpu, poll_wall] = wait_for_late_rank(world, par::WaitMode::poll, 300, sum);
  EXPECT_EQ(sum, world.size());
  const auto [spin_cpu, spin_wall] = wait_for_late_rank(world, par::WaitMode::spin, 300, sum);
  EXPECT_EQ(sum, world.size());
  if (world.size() < 2 || world.rank() == world.size() - 1) return;  // nobody waited
  ASSERT_GT(poll_wall, 0.25);
  ASSERT_GT(spin_wall, 0.25);
  // Polling: a spin of 1 ms, then a test every <= 1 ms, a few microseconds each.
  EXPECT_LT(poll_cpu, 0.1 * poll_wall) << "cpu " << poll_cpu << " s of " << poll_wall << " s waiting";
  // Spinning holds the core for as much of the wait as the scheduler gives it.
  EXPECT_GT(spin_cpu, 0.3 * spin_wall) << "cpu " << spin_cpu << " s of " << spin_wall << " s waiting";
  // Polling still answers promptly once the last rank arrives.
  EXPECT_LT(poll_wall, 0.3 + 0.06);
}

TEST(WaitMpi, CollectivesOfCommAgreeWithTheBlockingOnes) {
  const par::Comm& world = par::Runtime::world_comm();
  std::vector<double> v(1000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i) * (world.rank() + 1);
  world.allreduce_inplace(v.data(), v.size(), par::Op::sum);
  const double factor = world.size() * (world.size() + 1) / 2.0;
  for (std::size_t i = 0; i < v.size(); i += 97) EXPECT_DOUBLE_EQ(v[i], double(i) * factor);
  EXPECT_EQ(world.allreduce(world.rank(), par::Op::max), world.size() - 1);
  const auto all = world.allgather(world.rank() * 10);
  for (int r = 0; r < world.size(); ++r) EXPECT_EQ(all[std::size_t(r)], r * 10);
  std::vector<int> b(5, world.rank() == 0 ? 7 : 0);
  world.bcast(b.data(), b.size(), 0);
  EXPECT_EQ(b, std::vector<int>(5, 7));
  EXPECT_EQ(world.bcast_string(world.rank() == 0 ? "from rank 0" : "", 0), "from rank 0");
  world.barrier();
}
