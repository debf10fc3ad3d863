#pragma once
// The ledger of a campaign: a JSON-lines file (CAMPAIGN/ledger.jsonl), one record appended per event
// -- an input done, failed, or found stale when planning -- never rewritten. The last record of an
// input's key is its state. Records carry what decides whether a product is still good: the input's
// size and modification time when it was read, and the configuration hash of the workflow that made
// the product. See docs/CAMPAIGNS.md.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "tmdflow/campaign/manifest.hpp"

namespace tmdflow::campaign {

enum class State { missing, done, failed, stale };
const char* state_name(State s);

struct Record {
  std::string key;       // the input's key (manifest.hpp)
  std::string input;     // its path when the record was written
  State state = State::missing;
  std::uint64_t size = 0;      // bytes of the input file
  std::int64_t mtime_ns = 0;   // its modification time, ns since the epoch
  std::string config;    // configuration hash of the campaign's workflow (16 hex digits)
  std::string product;   // the product file, relative to the campaign folder
  int exit_code = 0;     // tmdflow's exit code (failed)
  std::string error;     // the error message (failed), or why it is stale
  double seconds = 0;    // wall time of the task's work on this input
  std::string task;      // who wrote it: "slurm 1234_7", "local rank 1", "plan"
  std::string time;      // UTC, ISO 8601
};

/// Size and modification time of an input file (the FILE of FILE:/group). Throws IoError.
struct FileStamp {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
};
FileStamp stamp(const std::string& input);

/// One JSON line (no newline) and back; from_json throws InputError on a malformed line.
std::string to_json(const Record& r);
Record from_json(const std::string& line);

/// Appends one record as one write() to a file opened with O_APPEND, under an fcntl lock (so that
/// array tasks on several nodes of a shared file system never interleave), then fsyncs. Throws IoError.
void append(const std::string& ledger, const Record& r);

/// The last record of each key. A line that is not a complete record (a writer killed mid-line) is
/// skipped and counted in `torn`. A missing ledger is an empty one.
std::map<std::string, Record> latest(const std::string& ledger, int* torn = nullptr);

/// What a plan makes of an input, from its last record, its file now and the configuration hash.
struct Verdict {
  State state = State::missing;  // done: nothing to do; else: to do
  std::string why;               // for stale and failed: what changed, or the error
};
Verdict judge(const std::optional<Record>& last, const FileStamp& now, const std::string& config_hash, bool product_exists);

/// Current UTC time, ISO 8601 ("2026-05-01T12:00:00Z").
std::string utc_now();

}  // namespace tmdflow::campaign
