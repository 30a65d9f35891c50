// process_identity.cpp — see process_identity.hpp.
#include "process_identity.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>

namespace shoal {

namespace detail {
constinit std::atomic<std::uint64_t> fork_generation_counter{0};
}  // namespace detail

namespace {

constinit std::atomic<pid_t> g_pid{0};  // 0 = not yet read

void on_fork_in_child() {
  detail::fork_generation_counter.fetch_add(1, std::memory_order_relaxed);
  g_pid.store(0, std::memory_order_relaxed);
}

// Registered on first use (no global constructors).
void track_forks() {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, on_fork_in_child); });
}

// Parses /proc/PID/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted from the last ')'.
std::optional<std::uint64_t> start_time_from_stat(const std::string& stat) {
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::size_t pos = close + 1;
  int field = 2;
  std::string_view state;
  while (pos < stat.size()) {
    while (pos < stat.size() && stat[pos] == ' ') ++pos;
    std::size_t end = stat.find(' ', pos);
    if (end == std::string::npos) end = stat.size();
    ++field;
    const std::string_view token(stat.data() + pos, end - pos);
    if (field == 3) state = token;
    if (field == 22) {
      if (state == "Z" || state == "X") return std::nullopt;  // zombie or dead
      std::uint64_t value = 0;
      const auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
      if (ec != std::errc()) return std::nullopt;
      return value;
    }
    pos = end;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  if (!file) return std::nullopt;
  const std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return start_time_from_stat(stat);
}

ProcessIdentity current_process() {
  track_forks();
  const pid_t pid = getpid();
  return ProcessIdentity{pid, process_start_time(pid).value_or(0)};
}

bool is_alive(const ProcessIdentity& identity) {
  const auto start = process_start_time(identity.pid);
  return start.has_value() && *start == identity.start_time;
}

std::uint64_t fork_generation() {
  // Cheap enough for every release: after the first call, one load.
  static const bool tracking = (track_forks(), true);
  (void)tracking;
  return detail::fork_generation_counter.load(std::memory_order_relaxed);
}

}  // namespace shoal

namespace shoal {

pid_t cached_pid() {
  // getpid() is a real system call in glibc >= 2.25; the lock takes this on
  // every acquisition, so remember it (and forget it in a forked child).
  pid_t pid = g_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    (void)fork_generation();  // makes sure forks are tracked
    pid = getpid();
    g_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

}  // namespace shoal
