#include "tmdflow/par/interrupt.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tmdflow/core/log.hpp"

namespace tmdflow::par {
namespace {

static_assert(std::atomic<int>::is_always_lock_free, "the signal flag must be lock-free");

std::atomic<int> g_signal{0};
std::atomic<int> g_signal_count{0};
int g_wake_pipe[2] = {-1, -1};

// Files to unlink on a hard end: written by the main thread, read by the handler and the watchdog.
constexpr int kSlots = 64;
constexpr std::size_t kPathMax = 4096;
char g_paths[kSlots][kPathMax];
std::atomic<int> g_slot_state[kSlots];  // 0 free, 1 being written, 2 registered

// The message of a hard end, from constant strings (async-signal-safe: no formatting, no allocation).
void write_all(const char* text) noexcept {
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}
void write_hard_message(int sig) noexcept {
  if (log::rank() != 0) return;
  write_all("tmdflow: interrupted (");
  write_all(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "signal");
  write_all("): the job did not stop cleanly in time; temporary files removed, the next run of the same command resumes\n");
}

[[noreturn]] void end_hard(int sig) noexcept {
  emergency_unlink_all();
  write_hard_message(sig);
  ::_exit(128 + sig);
}

double grace_seconds() {
  if (const char* v = std::getenv("TMDFLOW_INTERRUPT_GRACE")) {
    char* end = nullptr;
    const double g = std::strtod(v, &end);
    if (end != v && g >= 0) return g;
  }
  return 3.0;
}

extern "C" void on_signal(int sig) {
  const int saved_errno = errno;
  if (g_signal_count.fetch_add(1) > 0) end_hard(g_signal.load() ? g_signal.load() : sig);  // a second signal
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  // An interrupted job keeps no partial file: remove the temporary files now (a file still open
  // stays usable until it is closed), in case the launcher's SIGKILL comes before the clean-up.
  emergency_unlink_all();
  if (g_wake_pipe[1] >= 0) {
    const char byte = char(sig);
    ssize_t ignored = ::write(g_wake_pipe[1], &byte, 1);
    (void)ignored;
  }
  errno = saved_errno;
}

// Waits for the first signal, then gives the ranks `grace` seconds to stop at an agreement.
void watchdog(double grace) {
  char byte = 0;
  while (::read(g_wake_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  while (std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  end_hard(g_signal.load());
}

}  // namespace

Interrupted::Interrupted(int sig)
    : Error("interrupted (" + signal_name(sig) + "): stopped before the end; the partial product was removed, and the next run "
            "of the same command resumes",
            static_cast<ExitCode>(128 + sig)),
      signal_(sig) {}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal " + std::to_string(sig);
  }
}

void install_interrupt_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  if (::pipe(g_wake_pipe) == 0) {
    ::fcntl(g_wake_pipe[0], F_SETFD, FD_CLOEXEC);
    ::fcntl(g_wake_pipe[1], F_SETFD, FD_CLOEXEC);
    std::thread(watchdog, grace_seconds()).detach();
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

int interrupted_by() { return g_signal.load(); }

void throw_if_interrupted() {
  if (const int sig = g_signal.load()) throw Interrupted(sig);
}

int add_emergency_unlink(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slot_state[i].compare_exchange_strong(expected, 1)) {
      std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
      g_slot_state[i].store(2);
      return i;
    }
  }
  return -1;
}

void remove_emergency_unlink(int id) {
  if (id >= 0 && id < kSlots) g_slot_state[id].store(0);
}

void emergency_unlink_all() noexcept {
  for (int i = 0; i < kSlots; ++i)
    if (g_slot_state[i].load() == 2) ::unlink(g_paths[i]);
}

void simulate_interrupt(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
}

void clear_interrupt_for_tests() { g_signal.store(0); }

}  // namespace tmdflow::par
