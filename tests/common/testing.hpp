#pragma once
// Helpers shared by the tests: scratch folders (one name agreed by all ranks), paths of the
// project, the shared data and the built executable, and running a command.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tmdflow/par/comm.hpp"
#include "tmdflow/par/runtime.hpp"

namespace tmdflow::testing {

inline std::string source_dir() { return TMDFLOW_SOURCE_DIR; }
inline std::string shared_data(const std::string& rel) { return std::string(TMDFLOW_SHARED_DATA) + "/" + rel; }
inline std::string tmdflow_binary() { return TMDFLOW_BINARY; }
inline std::string test_python() { return TMDFLOW_TEST_PYTHON; }

/// A scratch folder, the same on every rank (made by rank 0), removed at the end of the test.
class ScratchDir {
 public:
  explicit ScratchDir(const par::Comm& comm = par::Runtime::world_comm()) : comm_(comm) {
    std::string name;
    if (comm.is_root()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "tmdflow-test-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) std::abort();
      name = tmpl;
    }
    path_ = comm.bcast_string(name, 0);
  }
  ~ScratchDir() {
    comm_.barrier();
    if (comm_.is_root() && !std::getenv("TMDFLOW_KEEP_TEST_FILES")) std::filesystem::remove_all(path_);
  }
  std::string path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  const par::Comm& comm_;
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

/// Runs a shell command (on this rank only) and captures its output and exit code.
inline CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace tmdflow::testing
