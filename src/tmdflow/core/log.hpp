#pragma once
// Minimal logging to stderr. By default only the root rank prints (set by par::Runtime);
// `all_ranks` messages carry a "[rank N]" prefix when the job has several ranks.
#include <sstream>
#include <string>

namespace tmdflow::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

void set_level(Level level);
Level level();
/// Called once by the runtime: this process's rank and the job size.
void set_rank(int rank, int size);
int rank();
int size();

void write(Level level, const std::string& message, bool all_ranks);

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  return s.str();
}
}  // namespace detail

template <class... Args>
void debug(const Args&... a) { if (level() <= Level::debug) write(Level::debug, detail::concat(a...), false); }
template <class... Args>
void info(const Args&... a) { if (level() <= Level::info) write(Level::info, detail::concat(a...), false); }
template <class... Args>
void warn(const Args&... a) { write(Level::warn, detail::concat(a...), false); }
/// A warning that any rank may emit (prefixed with its rank).
template <class... Args>
void warn_any_rank(const Args&... a) { write(Level::warn, detail::concat(a...), true); }

}  // namespace tmdflow::log
