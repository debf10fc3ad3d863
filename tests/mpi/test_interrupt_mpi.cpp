// An interruption seen by one rank stops every rank at the same agreement, with the same error.
#include <gtest/gtest.h>
#include <signal.h>

#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"
#include "tmdflow/par/runtime.hpp"

using namespace tmdflow;

TEST(InterruptMpi, OneRanksSignalStopsEveryRankAtTheNextAgreement) {
  const par::Comm& world = par::Runtime::world_comm();
  const int last = world.size() - 1;
  // Work before the signal: agreements pass.
  EXPECT_NO_THROW(par::interruption_point(world));
  if (world.rank() == last) par::simulate_interrupt(SIGTERM);
  int code = 0;
  std::string message;
  try {
    par::interruption_point(world);
  } catch (const Error& e) {
    code = int(e.code());
    message = e.what();
  }
  par::clear_interrupt_for_tests();
  EXPECT_EQ(code, 143) << "rank " << world.rank();
  EXPECT_NE(message.find("interrupted (SIGTERM)"), std::string::npos) << message;
  // Every rank agrees on the outcome and goes on together afterwards.
  EXPECT_EQ(world.allreduce(code, par::Op::min), 143);
  EXPECT_NO_THROW(par::interruption_point(world));
}
