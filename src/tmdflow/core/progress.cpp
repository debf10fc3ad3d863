#include "tmdflow/core/progress.hpp"
#include "tmdflow/core/error.hpp"
#include "tmdflow/core/log.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace tmdflow {

ProgressMode progress_mode_from_env() {
  const char* v = std::getenv("TMDFLOW_PROGRESS");
  if (!v) return ProgressMode::automatic;
  if (std::strcmp(v, "bar") == 0) return ProgressMode::bar;
  if (std::strcmp(v, "log") == 0) return ProgressMode::log;
  if (std::strcmp(v, "off") == 0) return ProgressMode::off;
  return ProgressMode::automatic;
}

ProgressMode parse_progress_mode(const std::string& v, const std::string& what) {
  if (v == "bar") return ProgressMode::bar;
  if (v == "log") return ProgressMode::log;
  if (v == "off") return ProgressMode::off;
  if (v == "auto" || v.empty()) return ProgressMode::automatic;
  throw UsageError(what + ": expected bar, log, off or auto, found '" + v + "'");
}

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) / 60) % 60);
  }
  return buf;
}

static std::string format_rate(double r) {
  char buf[32];
  if (r >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", r / 1e6);
  else if (r >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", r / 1e3);
  else if (r >= 10) std::snprintf(buf, sizeof buf, "%.0f", r);
  else std::snprintf(buf, sizeof buf, "%.2f", r);
  return buf;
}

ProgressBar::ProgressBar(std::string label, std::uint64_t total, std::string unit, ProgressMode mode,
                         double log_interval_s)
    : label_(std::move(label)), total_(total), unit_(std::move(unit)), mode_(mode), log_interval_s_(log_interval_s) {
  if (mode_ == ProgressMode::automatic) {
    ProgressMode env = progress_mode_from_env();
    if (env != ProgressMode::automatic) mode_ = env;
    else mode_ = isatty(STDERR_FILENO) ? ProgressMode::bar : ProgressMode::log;
    // --quiet (warnings and errors only) also silences progress unless TMDFLOW_PROGRESS asks.
    if (env == ProgressMode::automatic && log::level() > log::Level::info) mode_ = ProgressMode::off;
  }
  // Log lines: the first after a second (a long step says at once that it runs; a short one prints
  // only its final line), then one per interval.
  if (mode_ == ProgressMode::log) last_render_s_ = std::min(0.0, 1.0 - log_interval_s_);
}

ProgressBar::~ProgressBar() {
  if (!finished_ && mode_ == ProgressMode::bar && done_ > 0) std::fputc('\n', stderr);
}

std::string ProgressBar::format_line(const std::string& label, std::uint64_t done, std::uint64_t total,
                                     const std::string& unit, double elapsed, int bar_width) {
  std::ostringstream s;
  s << label << ' ';
  const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
  if (total > 0) {
    const double frac = std::min(1.0, double(done) / double(total));
    if (bar_width > 0) {
      const int filled = int(frac * bar_width);
      s << '[';
      for (int i = 0; i < bar_width; ++i) s << (i < filled ? '=' : (i == filled ? '>' : ' '));
      s << "] ";
    }
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3.0f%%", 100.0 * frac);
    s << pct << ' ' << done << '/' << total << ' ' << unit;
    s << ", " << format_rate(rate) << ' ' << unit << "/s";
    if (done < total && rate > 0) s << ", ETA " << format_duration(double(total - done) / rate);
    else s << ", " << format_duration(elapsed);
  } else {
    s << done << ' ' << unit << ", " << format_rate(rate) << ' ' << unit << "/s, " << format_duration(elapsed);
  }
  return s.str();
}

void ProgressBar::update(std::uint64_t done) {
  done_ = done;
  if (mode_ == ProgressMode::off || finished_) return;
  const double now = clock_.seconds();
  const double interval = mode_ == ProgressMode::bar ? 0.2 : log_interval_s_;
  if (now - last_render_s_ < interval) return;
  last_render_s_ = now;
  render(false);
}

void ProgressBar::render(bool final) {
  const double elapsed = clock_.seconds();
  if (mode_ == ProgressMode::bar) {
    std::string line = format_line(label_, done_, total_, unit_, elapsed, 30);
    std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), final ? "\n" : "");
  } else {
    std::string line = format_line(label_, done_, total_, unit_, elapsed, 0);
    std::fprintf(stderr, "tmdflow: %s\n", line.c_str());
  }
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (finished_) return;
  if (mode_ != ProgressMode::off) render(true);
  finished_ = true;
}

}  // namespace tmdflow
