#include "tmdflow/campaign/ledger.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tmdflow/core/error.hpp"

namespace tmdflow::campaign {

const char* state_name(State s) {
  switch (s) {
    case State::done: return "done";
    case State::failed: return "failed";
    case State::stale: return "stale";
    default: return "missing";
  }
}

namespace {

State parse_state(const std::string& s) {
  if (s == "done") return State::done;
  if (s == "failed") return State::failed;
  if (s == "stale") return State::stale;
  if (s == "missing") return State::missing;
  throw InputError("ledger record: state: expected done, failed, stale or missing, found '" + s + "'");
}

std::string file_part(const std::string& input) {
  const auto colon = input.find(":/");
  return colon == std::string::npos ? input : input.substr(0, colon);
}

}  // namespace

FileStamp stamp(const std::string& input) {
  struct stat st {};
  const std::string file = file_part(input);
  if (::stat(file.c_str(), &st) != 0) throw IoError(file + ": " + std::strerror(errno) + " (an input of the campaign)");
  return {std::uint64_t(st.st_size), std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::string to_json(const Record& r) {
  nlohmann::ordered_json j;
  j["key"] = r.key;
  j["input"] = r.input;
  j["state"] = state_name(r.state);
  j["size"] = r.size;
  j["mtime_ns"] = r.mtime_ns;
  j["config"] = r.config;
  j["product"] = r.product;
  j["exit"] = r.exit_code;
  j["error"] = r.error;
  j["seconds"] = r.seconds;
  j["task"] = r.task;
  j["time"] = r.time;
  // Invalid UTF-8 in a path or message is replaced, never an exception in the middle of a task.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Record from_json(const std::string& line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("ledger record: not JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("key") || !j.contains("state"))
    throw InputError("ledger record: expected an object with 'key' and 'state', found " + line.substr(0, 80));
  Record r;
  try {
    r.key = j.at("key").get<std::string>();
    r.input = j.value("input", "");
    r.state = parse_state(j.at("state").get<std::string>());
    r.size = j.value("size", std::uint64_t(0));
    r.mtime_ns = j.value("mtime_ns", std::int64_t(0));
    r.config = j.value("config", "");
    r.product = j.value("product", "");
    r.exit_code = j.value("exit", 0);
    r.error = j.value("error", "");
    r.seconds = j.value("seconds", 0.0);
    r.task = j.value("task", "");
    r.time = j.value("time", "");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("ledger record: ") + e.what());
  }
  return r;
}

void append(const std::string& ledger, const Record& r) {
  const std::string line = to_json(r) + "\n";
  const int fd = ::open(ledger.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(ledger + ": cannot open the ledger for appending: " + std::strerror(errno));
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  // A file system without locks (ENOLCK) still gets O_APPEND's single write.
  const bool locked = ::fcntl(fd, F_SETLKW, &lock) == 0;
  std::size_t done = 0;
  int err = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    done += std::size_t(n);
  }
  if (!err && ::fsync(fd) != 0 && errno != EINVAL) err = errno;
  if (locked) {
    lock.l_type = F_UNLCK;
    ::fcntl(fd, F_SETLK, &lock);
  }
  ::close(fd);
  if (err) throw IoError(ledger + ": cannot append a record: " + std::strerror(err));
}

std::map<std::string, Record> latest(const std::string& ledger, int* torn) {
  std::map<std::string, Record> out;
  if (torn) *torn = 0;
  std::ifstream in(ledger);
  if (!in) return out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    try {
      Record r = from_json(line);
      std::string key = r.key;
      out[key] = std::move(r);
    } catch (const InputError&) {
      if (torn) ++*torn;
    }
  }
  return out;
}

Verdict judge(const std::optional<Record>& last, const FileStamp& now, const std::string& config_hash, bool product_exists) {
  if (!last || last->state == State::missing) return {State::missing, ""};
  if (last->state == State::failed) return {State::failed, last->error};
  if (last->state == State::stale) return {State::stale, last->error};
  if (last->config != config_hash)
    return {State::stale, "configuration changed (" + last->config + " -> " + config_hash + ")"};
  if (last->size != now.size || last->mtime_ns != now.mtime_ns)
    return {State::stale, "input changed (size " + std::to_string(last->size) + " -> " + std::to_string(now.size) +
                              (last->mtime_ns != now.mtime_ns ? ", modified since" : "") + ")"};
  if (!product_exists) return {State::stale, "product missing (" + last->product + ")"};
  return {State::done, ""};
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace tmdflow::campaign
