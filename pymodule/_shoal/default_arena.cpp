// default_arena.cpp — one arena mapping for the whole process.
//
// Process-wide state, on purpose and kept to this file: the mapping and (if
// this process created the arena) its broker. C++ objects only; the Python
// Arena objects that use it live in each interpreter's module state.
#include "default_arena.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string_view>

#include "shoal/broker.hpp"
#include "shoal/errors.hpp"
#include "shoal/size.hpp"

namespace shoal_py {
namespace {

constexpr std::uint64_t kDefaultSize = std::uint64_t{1} << 30;  // sparse: costs only what is used
constexpr int kNameAttempts = 100;

struct ProcessArena {
  std::shared_ptr<shoal::Arena> arena;
  std::unique_ptr<shoal::Broker> broker;  // only if this process created the arena
  pid_t opened_by = 0;

  // At process exit. Interpreters' sessions may still share the mapping
  // (it then goes with the last of them); the broker stops here. A fork()
  // child must neither unlink the parent's segment nor join a reaper thread
  // that exists only in the parent (see ArenaSession's destructor).
  //
  // The name goes now, not with the mapping: a thread parked at exit
  // (process_exit.hpp) or a session never torn down may still share the
  // mapping, and the last reference would then never go.
  ~ProcessArena() {
    if (opened_by != 0 && opened_by != getpid()) {
      if (arena) arena->set_unlink_on_close(false);
      (void)broker.release();
      return;
    }
    if (arena && arena->is_creator()) {
      arena->set_unlink_on_close(false);
      try {
        shoal::Arena::destroy(arena->name());
      } catch (const shoal::Error&) {  // gone already, or not ours to remove: nothing to do at exit
      }
    }
  }
};

std::mutex g_mutex;
ProcessArena g_default;  // guarded by g_mutex

std::uint64_t size_from_environment() {
  const char* text = std::getenv("SHOAL_ARENA_SIZE");
  if (text == nullptr || *text == '\0') return kDefaultSize;
  try {
    return shoal::parse_size(text);
  } catch (const shoal::Error& e) {
    throw shoal::InvalidArgument(std::string("SHOAL_ARENA_SIZE: ") + e.what());
  }
}

// The pid in a default arena's segment file name, "shoal.py-PID-dN"; 0 if
// `file` is not one.
pid_t default_arena_creator(std::string_view file, std::string* name) {
  constexpr std::string_view kPrefix = "shoal.py-";
  if (!file.starts_with(kPrefix)) return 0;
  const std::string_view rest = file.substr(kPrefix.size());
  long pid = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  if (error != std::errc() || pid <= 0 || !std::string_view(end, rest.data() + rest.size() - end).starts_with("-d")) {
    return 0;
  }
  *name = std::string(file.substr(std::string_view("shoal.").size()));
  return static_cast<pid_t>(pid);
}

// A default arena is unlinked by its creator's exit code, which a process
// ended by os._exit (multiprocessing's workers end so) or SIGKILL never
// runs: its segment stays in /dev/shm. So a process creating its default
// arena first unlinks those whose creator is gone and that no live process
// holds (dead holders reaped first). Only our own regular files are looked
// at, from lstat() alone: another user's file (which root could open) or a
// FIFO is skipped without being opened, so none can make us wait. Any
// error means "not ours to judge" (another layout version, ...): the file
// is left alone.
void sweep_orphaned_defaults() {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    std::string name;
    const pid_t creator = default_arena_creator(entry.path().filename().string(), &name);
    if (creator == 0 || creator == getpid()) continue;
    struct stat st {};
    if (lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) continue;
    if (kill(creator, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to signal
    try {
      const std::shared_ptr<shoal::Arena> orphan = shoal::Arena::attach(name);
      orphan->reap_dead_holders();
      if (orphan->stats().holders == 0) shoal::Arena::destroy(name);
    } catch (const shoal::Error&) {
    }
  }
}

// Creates "py-PID-dN"; a leftover of a dead process that had our pid may
// hold a name, so try the next number.
std::shared_ptr<shoal::Arena> create_default(std::uint64_t size) {
  for (int attempt = 1;; ++attempt) {
    const std::string name = "py-" + std::to_string(getpid()) + "-d" + std::to_string(attempt);
    try {
      return shoal::Arena::create(name, size);
    } catch (const shoal::ArenaExists&) {
      if (attempt == kNameAttempts) throw;
    }
  }
}

void open_default_locked() {
  if (g_default.arena && g_default.opened_by == getpid()) return;
  ProcessArena fresh;
  fresh.opened_by = getpid();
  if (g_default.arena) {
    // We are a fork() child: the parent's arena stays the default, but is
    // the parent's to unlink and serve; we attach it as any process would.
    const std::string inherited = g_default.arena->name();
    g_default.arena->set_unlink_on_close(false);
    (void)g_default.broker.release();  // its thread exists only in the parent
    g_default.arena.reset();
    fresh.arena = shoal::Arena::attach(inherited);
  } else if (const char* name = std::getenv("SHOAL_ARENA"); name != nullptr && *name != '\0') {
    fresh.arena = shoal::Arena::attach(name);
  } else {
    sweep_orphaned_defaults();
    fresh.arena = create_default(size_from_environment());
    fresh.broker = std::make_unique<shoal::Broker>(fresh.arena);
  }
  g_default.arena = std::move(fresh.arena);
  g_default.broker = std::move(fresh.broker);
  g_default.opened_by = fresh.opened_by;
}

}  // namespace

std::shared_ptr<shoal::Arena> process_default_arena() {
  std::lock_guard lock(g_mutex);
  open_default_locked();
  return g_default.arena;
}

void use_default_arena(const std::string& name) {
  std::lock_guard lock(g_mutex);
  if (g_default.arena && g_default.opened_by == getpid()) {
    if (g_default.arena->name() == name) return;
    throw shoal::InvalidArgument("this process already uses arena '" + g_default.arena->name() +
                                 "' as its default arena; it cannot switch to '" + name + "'");
  }
  if (g_default.arena) {  // a fork() child's inherited default: the parent's to serve
    g_default.arena->set_unlink_on_close(false);
    (void)g_default.broker.release();
    g_default.arena.reset();
  }
  g_default.arena = shoal::Arena::attach(name);
  g_default.opened_by = getpid();
}

std::shared_ptr<shoal::Arena> process_arena_named(const std::string& name) {
  std::lock_guard lock(g_mutex);
  if (!g_default.arena || g_default.arena->name() != name) return nullptr;
  open_default_locked();  // in a fork() child: attaches the parent's default arena
  return g_default.arena;
}

}  // namespace shoal_py
