#pragma once
// Typed errors of tmdflow. Every error says what was expected and what was found, and names the
// file and dataset when there is one. The exit code of the process follows the error's kind.
#include <stdexcept>
#include <string>

namespace tmdflow {

enum class ExitCode : int {
  ok = 0,
  failure = 1,   // an unexpected failure (a bug or a resource problem)
  usage = 2,     // bad command line: unknown option, missing argument, bad value
  config = 3,    // bad workflow file or parameter combination
  input = 4,     // input data of the wrong format, shape or content
  io = 5,        // a file could not be read or written
  // Interrupted by a signal: 128 + its number, as shells report it (par/interrupt.hpp).
  hangup = 129,     // SIGHUP
  interrupt = 130,  // SIGINT (Ctrl-C)
  terminate = 143,  // SIGTERM (Slurm's time limit, mpiexec's abort)
};

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, ExitCode code) : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

/// Wrong use of the command line (unknown option or stage, missing value).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& m) : Error(m, ExitCode::usage) {}
};

/// Invalid workflow or parameter (unknown key, value out of range, inconsistent options).
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& m) : Error(m, ExitCode::config) {}
};

/// Input data that do not match what the reader expects.
class InputError : public Error {
 public:
  explicit InputError(const std::string& m) : Error(m, ExitCode::input) {}
  /// "FILE: DATASET: WHAT: expected EXPECTED, found FOUND" (dataset omitted when empty).
  static InputError at(const std::string& file, const std::string& dataset, const std::string& what,
                       const std::string& expected, const std::string& found);
};

/// A failed read, write, open or rename.
class IoError : public Error {
 public:
  explicit IoError(const std::string& m) : Error(m, ExitCode::io) {}
};

/// Formats "FILE[:DATASET]: " as used at the start of every data error.
std::string where(const std::string& file, const std::string& dataset = "");

}  // namespace tmdflow
