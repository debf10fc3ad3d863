#pragma once
// Rendering of a job's progress: one bar with rate and ETA on a terminal, a log line every few
// seconds otherwise (batch jobs). This class only renders counts it is given; par::Progress
// gathers the count across ranks and feeds it here on rank 0.
#include <cstdint>
#include <string>

#include "tmdflow/core/timer.hpp"

namespace tmdflow {

enum class ProgressMode { automatic, bar, log, off };

/// TMDFLOW_PROGRESS=bar|log|off overrides the automatic choice (bar on a terminal, log otherwise).
ProgressMode progress_mode_from_env();
/// "bar", "log", "off" or "auto"; throws UsageError naming `what` (e.g. "--progress") otherwise.
ProgressMode parse_progress_mode(const std::string& value, const std::string& what);

class ProgressBar {
 public:
  /// `unit` names what is counted ("patterns", "images"); `total` may be 0 when unknown.
  ProgressBar(std::string label, std::uint64_t total, std::string unit,
              ProgressMode mode = ProgressMode::automatic, double log_interval_s = 5.0);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  /// New global count; renders at most every 0.2 s (bar) or `log_interval_s` (log).
  void update(std::uint64_t done);
  /// Final line with the total time and mean rate. Idempotent.
  void finish();

  /// The text of one status line, exposed for tests.
  static std::string format_line(const std::string& label, std::uint64_t done, std::uint64_t total,
                                 const std::string& unit, double elapsed_s, int bar_width);

 private:
  void render(bool final);

  std::string label_;
  std::uint64_t total_;
  std::string unit_;
  ProgressMode mode_;
  double log_interval_s_;
  std::uint64_t done_ = 0;
  Stopwatch clock_;
  double last_render_s_ = -1e9;
  bool finished_ = false;
};

/// "1h02m", "3m05s", "12.3s"
std::string format_duration(double seconds);

}  // namespace tmdflow
