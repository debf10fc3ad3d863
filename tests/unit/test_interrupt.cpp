// Interruption and temporary outputs: the interruption flag and its error, the emergency unlink
// table, and the locks that let a later run prove a temporary file dead.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/testing.hpp"
#include "tmdflow/io/temporary.hpp"
#include "tmdflow/par/failure.hpp"
#include "tmdflow/par/interrupt.hpp"

using namespace tmdflow;
namespace fs = std::filesystem;

namespace {

void touch(const std::string& path) { std::ofstream(path) << "partial"; }

// A pid that no process has now: a child that has exited and been reaped.
long dead_pid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return long(child);
}

void write_lock_as(const std::string& temp, const std::string& host, long pid, unsigned long long start) {
  std::ofstream(io::lock_name(temp)) << "tmdflow temporary output " << temp << "\nhost " << host << "\npid " << pid << "\nstart " << start << "\n";
}

}  // namespace

TEST(Interrupt, FlagThrowsWithTheShellsExitCode) {
  const par::Comm self(MPI_COMM_SELF);
  EXPECT_EQ(par::interrupted_by(), 0);
  EXPECT_NO_THROW(par::throw_if_interrupted());
  par::simulate_interrupt(SIGTERM);
  try {
    par::throw_if_interrupted();
    ADD_FAILURE() << "no Interrupted thrown";
  } catch (const par::Interrupted& e) {
    EXPECT_EQ(int(e.code()), 143);
    EXPECT_EQ(e.signal_number(), SIGTERM);
    EXPECT_NE(std::string(e.what()).find("interrupted (SIGTERM)"), std::string::npos) << e.what();
  }
  // The first signal is the one reported.
  par::simulate_interrupt(SIGINT);
  EXPECT_EQ(par::interrupted_by(), SIGTERM);
  par::clear_interrupt_for_tests();
  par::simulate_interrupt(SIGINT);
  try {
    par::agree(self, nullptr);  // one rank: the agreement itself throws
    ADD_FAILURE() << "agree did not stop an interrupted rank";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.code()), 130);
  }
  par::clear_interrupt_for_tests();
  EXPECT_NO_THROW(par::agree(self, nullptr));
  EXPECT_EQ(par::signal_name(SIGHUP), "SIGHUP");
}

TEST(Interrupt, EmergencyUnlinkRemovesOnlyRegisteredFiles) {
  const par::Comm self(MPI_COMM_SELF);
  tmdflow::testing::ScratchDir dir(self);
  const std::string a = dir.file("a.h5.tmp-1"), b = dir.file("b.h5.tmp-2");
  touch(a);
  touch(b);
  const int ia = par::add_emergency_unlink(a);
  const int ib = par::add_emergency_unlink(b);
  ASSERT_GE(ia, 0);
  ASSERT_GE(ib, 0);
  par::remove_emergency_unlink(ib);
  par::emergency_unlink_all();
  EXPECT_FALSE(fs::exists(a));
  EXPECT_TRUE(fs::exists(b));
  par::remove_emergency_unlink(ia);
}

TEST(TemporaryOutputs, LockNamesThisProcess) {
  const par::Comm self(MPI_COMM_SELF);
  tmdflow::testing::ScratchDir dir(self);
  const std::string temp = io::temporary_name(dir.file("out.h5"));
  EXPECT_EQ(temp.rfind(dir.file("out.h5.tmp-"), 0), 0u) << temp;
  io::write_lock(temp);
  io::LockOwner me;
  ASSERT_TRUE(io::read_lock(io::lock_name(temp), me));
  EXPECT_EQ(me.host, io::host_name());
  EXPECT_EQ(me.pid, long(getpid()));
  EXPECT_GT(me.start_ticks, 0u);
  EXPECT_FALSE(io::provably_dead(me));  // this process runs
  io::LockOwner gone = me;
  gone.pid = dead_pid();
  EXPECT_TRUE(io::provably_dead(gone));
  io::LockOwner reused = me;  // our pid, but a process started at another time: the pid was reused
  reused.start_ticks = me.start_ticks + 12345;
  EXPECT_TRUE(io::provably_dead(reused));
  io::LockOwner elsewhere = gone;
  elsewhere.host = "another-node-" + io::host_name();
  EXPECT_FALSE(io::provably_dead(elsewhere));  // nothing to ask on another machine
  io::LockOwner unreadable;
  EXPECT_FALSE(io::read_lock(dir.file("no-such.lock"), unreadable));
}

TEST(TemporaryOutputs, StaleFilesRemovedOnlyWhenProvablyDead) {
  const par::Comm self(MPI_COMM_SELF);
  tmdflow::testing::ScratchDir dir(self);
  const std::string target = dir.file("out.h5");
  const std::string dead = target + ".tmp-00000001", live = target + ".tmp-00000002", foreign = target + ".tmp-00000003",
                    unlocked = target + ".tmp-00000004", other = dir.file("other.h5.tmp-00000005");
  for (const auto& t : {dead, live, foreign, unlocked, other}) touch(t);
  io::LockOwner me;
  io::write_lock(live);
  ASSERT_TRUE(io::read_lock(io::lock_name(live), me));
  write_lock_as(dead, io::host_name(), dead_pid(), 1);
  write_lock_as(foreign, "node-elsewhere", 42, 7);
  write_lock_as(other, io::host_name(), dead_pid(), 1);
  const std::string orphan_lock = io::lock_name(target + ".tmp-00000006");  // its file already gone
  write_lock_as(target + ".tmp-00000006", io::host_name(), dead_pid(), 1);
  std::vector<std::string> removed;
  const auto notes = io::remove_stale_temporaries(target, &removed);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], dead);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(io::lock_name(dead)));
  EXPECT_FALSE(fs::exists(orphan_lock));
  for (const auto& kept : {live, foreign, unlocked, other}) EXPECT_TRUE(fs::exists(kept)) << kept;
  ASSERT_EQ(notes.size(), 4u);
  std::string all;
  for (const auto& n : notes) all += n + "\n";
  EXPECT_NE(all.find("removed the stale temporary file " + dead), std::string::npos) << all;
  EXPECT_NE(all.find("still running"), std::string::npos) << all;
  EXPECT_NE(all.find("node-elsewhere"), std::string::npos) << all;
  EXPECT_NE(all.find("no lock"), std::string::npos) << all;
}
