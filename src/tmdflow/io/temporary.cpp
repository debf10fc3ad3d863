#include "tmdflow/io/temporary.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tmdflow/core/error.hpp"

namespace fs = std::filesystem;

namespace tmdflow::io {
namespace {

constexpr const char* kTmpInfix = ".tmp-";
constexpr const char* kLockSuffix = ".lock";

// Field 22 of /proc/PID/stat: the start time in clock ticks since boot (0 when unknown).
unsigned long long start_ticks_of(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

std::string temporary_name(const std::string& target) {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", unsigned(rd()));
  return target + kTmpInfix + buf;
}

std::string lock_name(const std::string& temporary) { return temporary + kLockSuffix; }

void write_lock(const std::string& temporary) {
  const std::string path = lock_name(temporary);
  std::ofstream f(path, std::ios::out | std::ios::trunc);
  const long pid = long(::getpid());
  f << "tmdflow temporary output " << temporary << "\nhost " << host_name() << "\npid " << pid << "\nstart " << start_ticks_of(pid)
    << "\n";
  f.close();
  if (!f) throw IoError(path + ": cannot write the lock of a temporary output: " + std::strerror(errno));
}

bool read_lock(const std::string& lock, LockOwner& owner) {
  std::ifstream f(lock);
  if (!f) return false;
  std::string line, key;
  bool host = false, pid = false;
  while (std::getline(f, line)) {
    std::istringstream s(line);
    s >> key;
    if (key == "host") host = bool(s >> owner.host);
    else if (key == "pid") pid = bool(s >> owner.pid);
    else if (key == "start") s >> owner.start_ticks;
  }
  return host && pid && owner.pid > 0;
}

bool provably_dead(const LockOwner& owner) {
  if (owner.host != host_name()) return false;  // another machine: nothing to ask
  if (::kill(pid_t(owner.pid), 0) != 0 && errno == ESRCH) return true;
  // A process with that pid runs: the same one only if it started at the recorded time.
  const unsigned long long now = start_ticks_of(owner.pid);
  return owner.start_ticks != 0 && now != 0 && now != owner.start_ticks;
}

std::vector<std::string> remove_stale_temporaries(const std::string& target, std::vector<std::string>* removed) {
  std::vector<std::string> notes;
  const fs::path tp(target);
  const fs::path dir = tp.parent_path().empty() ? fs::path(".") : tp.parent_path();
  const std::string prefix = tp.filename().string() + kTmpInfix;
  std::error_code ec;
  std::vector<fs::path> temps;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && !ends_with(name, kLockSuffix)) temps.push_back(tp.parent_path() / name);
  }
  for (const auto& temp : temps) {
    const std::string t = temp.string(), lock = lock_name(t);
    LockOwner owner;
    if (!read_lock(lock, owner)) {
      notes.push_back("left " + t + ": it has no lock naming its writer, so it may belong to a running job; remove it by hand if none is");
      continue;
    }
    if (!provably_dead(owner)) {
      notes.push_back("left " + t + ": written by pid " + std::to_string(owner.pid) + " on host " + owner.host +
                      (owner.host == host_name() ? ", which is still running" : ", which this run cannot check; remove it by hand if no job runs there"));
      continue;
    }
    std::error_code rm;
    fs::remove(temp, rm);
    fs::remove(lock, rm);
    notes.push_back("removed the stale temporary file " + t + " (its writer, pid " + std::to_string(owner.pid) + " on " + owner.host +
                    ", no longer runs)");
    if (removed) removed->push_back(t);
  }
  // Locks whose temporary file is gone (the writer died between the two removals).
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !ends_with(name, kLockSuffix)) continue;
    const std::string lock = (tp.parent_path() / name).string();
    const std::string temp = lock.substr(0, lock.size() - std::strlen(kLockSuffix));
    LockOwner owner;
    std::error_code rm;
    if (!fs::exists(temp) && read_lock(lock, owner) && provably_dead(owner)) fs::remove(lock, rm);
  }
  return notes;
}

}  // namespace tmdflow::io
