// interpreter_registry.cpp — see interpreter_registry.hpp.
#include "interpreter_registry.hpp"

#include <algorithm>
#include <mutex>

namespace shoal_py {
namespace {

struct Entry {
  std::int64_t id;
  PyInterpreterState* interp;
  bool isolated;
  int running_calls;
  PyThreadState* initial;
  // Thread states kept for the OS threads that call in repeatedly
  // (`initial` among them, for the thread that created the interpreter).
  std::vector<std::pair<std::thread::id, PyThreadState*>> kept;
};

// Process-wide on purpose: the registry is how interpreters find each
// other. Leaked (never destroyed) so that no static destructor races a
// thread still finishing a call at exit.
std::mutex* g_mutex = new std::mutex;
std::vector<Entry>* g_entries = new std::vector<Entry>;

std::mutex& registry_mutex() { return *g_mutex; }
std::vector<Entry>& entries() { return *g_entries; }

Entry* find_locked(std::int64_t id) {
  auto& list = entries();
  auto it = std::find_if(list.begin(), list.end(), [id](const Entry& e) { return e.id == id; });
  return it == list.end() ? nullptr : &*it;
}

}  // namespace

void register_interpreter(std::int64_t id, PyInterpreterState* interp, bool isolated, PyThreadState* initial) {
  std::lock_guard lock(registry_mutex());
  entries().push_back(Entry{id, interp, isolated, 0, initial, {{std::this_thread::get_id(), initial}}});
}

PyInterpreterState* begin_call(std::int64_t id, PyThreadState** kept) {
  std::lock_guard lock(registry_mutex());
  *kept = nullptr;
  Entry* entry = find_locked(id);
  if (entry == nullptr) return nullptr;
  ++entry->running_calls;
  const std::thread::id me = std::this_thread::get_id();
  for (const auto& [thread, tstate] : entry->kept) {
    if (thread == me) *kept = tstate;
  }
  return entry->interp;
}

void keep_thread_state(std::int64_t id, PyThreadState* tstate) {
  std::lock_guard lock(registry_mutex());
  if (Entry* entry = find_locked(id)) entry->kept.emplace_back(std::this_thread::get_id(), tstate);
}

void end_call(std::int64_t id) {
  std::lock_guard lock(registry_mutex());
  if (Entry* entry = find_locked(id)) --entry->running_calls;
}

PyInterpreterState* unregister_for_close(std::int64_t id, bool* busy, PyThreadState** initial,
                                         std::vector<PyThreadState*>* others) {
  std::lock_guard lock(registry_mutex());
  *busy = false;
  auto& list = entries();
  auto it = std::find_if(list.begin(), list.end(), [id](const Entry& e) { return e.id == id; });
  if (it == list.end()) return nullptr;
  if (it->running_calls > 0) {
    *busy = true;
    return nullptr;
  }
  PyInterpreterState* interp = it->interp;
  *initial = it->initial;
  for (const auto& [thread, tstate] : it->kept) {
    if (tstate != it->initial) others->push_back(tstate);
  }
  list.erase(it);
  return interp;
}

bool is_running(std::int64_t id) {
  std::lock_guard lock(registry_mutex());
  Entry* entry = find_locked(id);
  return entry != nullptr && entry->running_calls > 0;
}

bool is_registered(std::int64_t id) {
  std::lock_guard lock(registry_mutex());
  return find_locked(id) != nullptr;
}

bool is_isolated(std::int64_t id) {
  std::lock_guard lock(registry_mutex());
  Entry* entry = find_locked(id);
  return entry != nullptr && entry->isolated;
}

std::vector<std::int64_t> registered_ids() {
  std::lock_guard lock(registry_mutex());
  std::vector<std::int64_t> ids;
  for (const Entry& e : entries()) ids.push_back(e.id);
  return ids;
}

void forget_all_after_fork() {
  g_mutex = new std::mutex;
  g_entries = new std::vector<Entry>;
}

}  // namespace shoal_py
