#pragma once
// What every fuzz target shares: a scratch folder in memory for the files the readers open, and
// the rule of what counts as a failure. A reader given any bytes may refuse them only with one
// of tmdflow's typed errors (usage, configuration, input, I/O) carrying a one-line message; an
// untyped error, any other exception (std::out_of_range from a stray .at(), std::bad_alloc from a
// size read from the file), a sanitizer report, a hang or a leak is a bug, and the fuzzer stops
// on it with the input that caused it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "tmdflow/core/error.hpp"

namespace tmdflow::fuzz {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "tmdflow fuzz: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void check(bool ok, const std::string& what) {
  if (!ok) fail("broken invariant: " + what);
}

/// Runs `body`; an input that a reader refuses the way a user would be told is no failure.
template <class Body>
void expect_only_typed_errors(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    const std::string m = e.what();
    // TMDFLOW_FUZZ_VERBOSE=1 prints each refusal (to check that seeds are read as intended).
    static const bool verbose = std::getenv("TMDFLOW_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "refused: %s\n", m.c_str());
    if (e.code() == ExitCode::failure) fail("untyped tmdflow error (a bug by its own words): " + m);
    if (m.empty() || m.find('\n') != std::string::npos) fail("error message not one line: '" + m + "'");
  }
}

/// A folder of this process under /dev/shm (tmpfs: no disk I/O per input), removed at exit.
class Scratch {
 public:
  static Scratch& get() {
    static Scratch s;
    return s;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  /// Writes `bytes` to the file `name` in the folder (replacing it) and returns its path.
  std::string write(const std::string& name, std::string_view bytes) const {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.close();
    if (!out) fail("cannot write the scratch file " + p);
    return p;
  }
  void remove(const std::string& name) const {
    std::error_code ec;
    std::filesystem::remove(dir_ / name, ec);
  }

 private:
  Scratch() {
    // run.sh names a folder it removes afterwards (a crash skips this destructor).
    const char* named = std::getenv("TMDFLOW_FUZZ_SCRATCH");
    std::filesystem::path base = named && *named ? std::filesystem::path(named)
                                 : std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                             : std::filesystem::temp_directory_path();
    dir_ = base / ("tmdflow-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
};

}  // namespace tmdflow::fuzz
