// seqlock.cpp — see seqlock.hpp.
#include "seqlock.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>

#include "liveness.hpp"
#include "shoal/layout.hpp"

namespace shoal::cli {
namespace {

using layout::ArenaHeader;

constexpr int kMaxAttempts = 10;

// The header fields are read in place: the mapping is read-only, and an
// aligned 8-byte atomic load is a plain load instruction on x86-64 and
// arm64, so it never writes to the page. (The const_cast only satisfies
// atomic_ref's signature.)
std::uint64_t load_mutation_seq(const std::byte* base) {
  auto* field = reinterpret_cast<const std::uint64_t*>(base + offsetof(ArenaHeader, mutation_seq));
  return std::atomic_ref<std::uint64_t>(*const_cast<std::uint64_t*>(field)).load(std::memory_order_acquire);
}

// Stored by each locker without ordering (layout.hpp): a relaxed load.
std::int32_t load_lock_owner(const std::byte* base) {
  auto* field = reinterpret_cast<const std::int32_t*>(base + offsetof(ArenaHeader, lock_owner_pid));
  return std::atomic_ref<std::int32_t>(*const_cast<std::int32_t*>(field)).load(std::memory_order_relaxed);
}

// Gives a writer time to finish: 1 ms, 2 ms, ... (45 ms over all attempts).
void pause_before(int attempt) { std::this_thread::sleep_for(std::chrono::milliseconds(attempt)); }

}  // namespace

ReadOutcome read_consistently(const std::byte* base, const std::function<void()>& read) {
  ReadOutcome outcome;
  // True while every attempt so far found the same odd value before and
  // after: the lock stayed held by one owner and nothing moved.
  bool frozen_odd = true;
  std::uint64_t first_seq = 0;
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    outcome.attempts = attempt;
    const std::uint64_t before = load_mutation_seq(base);
    if (attempt == 1) first_seq = before;
    // The copy below races with writers by design (a seqlock); whatever it
    // saw is discarded unless mutation_seq proves nothing changed.
    read();
    std::atomic_thread_fence(std::memory_order_acquire);
    const std::uint64_t after = load_mutation_seq(base);
    if (before == after && before % 2 == 0) return outcome;  // stable
    frozen_odd = frozen_odd && before == after && before == first_seq && before % 2 == 1;
    if (attempt < kMaxAttempts) pause_before(attempt);
  }
  if (!frozen_odd) {
    outcome.stability = Stability::changing;
    return outcome;
  }
  // The owner writes its pid just after taking the lock: 0 means not yet
  // known, which is no evidence of death.
  outcome.lock_owner_pid = load_lock_owner(base);
  const bool owner_dead = outcome.lock_owner_pid > 0 && !process_running(outcome.lock_owner_pid);
  outcome.stability = owner_dead ? Stability::abandoned : Stability::held;
  return outcome;
}

std::string ReadOutcome::note(const std::string& arena) const {
  const std::string tries = std::to_string(attempts);
  const std::string owner = std::to_string(lock_owner_pid);
  switch (stability) {
    case Stability::stable:
      return "";
    case Stability::changing:
      return "arena '" + arena + "' changed during each of " + tries + " reads; figures are approximate";
    case Stability::held:
      return "arena '" + arena + "' stayed locked by " + (lock_owner_pid > 0 ? "live process " + owner : "a process") +
             " during each of " + tries + " reads (stopped or stuck?); a change may be half-made in this view";
    case Stability::abandoned:
      return "arena '" + arena + "' is locked by process " + owner +
             ", which has died; a change may be half-made in this view (the next process to lock the arena "
             "repairs it, e.g. `shoal reap " + arena + "`)";
  }
  return "";
}

const char* ReadOutcome::name(Stability stability) {
  switch (stability) {
    case Stability::stable: return "stable";
    case Stability::changing: return "changing";
    case Stability::held: return "held";
    case Stability::abandoned: return "abandoned";
  }
  return "unknown";
}

}  // namespace shoal::cli
