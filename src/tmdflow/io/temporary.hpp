#pragma once
// Temporary output files and their locks. A product written into a new file goes to
// FILE.tmp-XXXXXXXX, renamed to FILE when complete. Beside it, FILE.tmp-XXXXXXXX.lock names the
// writer (host, pid and the process's start time), so that a later run can prove a temporary file
// dead -- its writer was killed (kill -9, a lost node) -- and remove it, or say why it cannot.
#include <string>
#include <vector>

namespace tmdflow::io {

/// "FILE.tmp-XXXXXXXX" with a random suffix.
std::string temporary_name(const std::string& target);
/// The lock file of a temporary file.
std::string lock_name(const std::string& temporary);

/// Creates the lock of `temporary` for this process. Throws IoError.
void write_lock(const std::string& temporary);

/// Who wrote a lock.
struct LockOwner {
  std::string host;
  long pid = 0;
  unsigned long long start_ticks = 0;  // the process's start time (/proc/PID/stat), 0 when unknown
};
/// Reads a lock; false when it cannot be read or parsed.
bool read_lock(const std::string& lock, LockOwner& owner);

/// True when the owner is provably not running: same host, and no process with that pid or one
/// started at another time (the pid was reused).
bool provably_dead(const LockOwner& owner);

/// Removes the temporary files (and locks) of `target` whose writers are provably dead. Returns
/// one line per file: what was removed, or what was left and why.
std::vector<std::string> remove_stale_temporaries(const std::string& target, std::vector<std::string>* removed = nullptr);

/// This machine's host name.
std::string host_name();

}  // namespace tmdflow::io
