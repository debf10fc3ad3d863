#include "tmdflow/core/log.hpp"

#include <cstdio>

namespace tmdflow::log {
namespace {
Level g_level = Level::info;
int g_rank = 0;
int g_size = 1;
}  // namespace

void set_level(Level l) { g_level = l; }
Level level() { return g_level; }
void set_rank(int r, int s) { g_rank = r; g_size = s; }
int rank() { return g_rank; }
int size() { return g_size; }

void write(Level l, const std::string& message, bool all_ranks) {
  if (l < g_level) return;
  if (!all_ranks && g_rank != 0) return;
  const char* tag = l == Level::warn ? "warning: " : l == Level::error ? "error: " : l == Level::debug ? "debug: " : "";
  std::string line = "tmdflow: ";
  if (all_ranks && g_size > 1) line += "[rank " + std::to_string(g_rank) + "] ";
  line += tag;
  line += message;
  line += '\n';
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace tmdflow::log
