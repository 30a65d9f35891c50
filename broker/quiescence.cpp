// quiescence.cpp — see quiescence.hpp.
#include "quiescence.hpp"

#include <sched.h>

#include <string>
#include <thread>

#include "core_internals.hpp"
#include "process_identity.hpp"
#include "shoal/errors.hpp"
#include "spin.hpp"

namespace shoal {

using layout::HolderSlot;
using layout::Intent;

namespace {

constexpr auto kActive = static_cast<std::uint32_t>(layout::SlotState::active);

// The intent's op as its owner thread last committed it (seq_cst: the other
// half of the fast path's Dekker pair), and then its fields.
Intent load_intent(HolderSlot& slot) {
  Intent seen{};
  seen.op = std::atomic_ref(slot.intent.op).load(std::memory_order_seq_cst);
  seen.ledger_index = std::atomic_ref(slot.intent.ledger_index).load(std::memory_order_relaxed);
  seen.target_offset = std::atomic_ref(slot.intent.target_offset).load(std::memory_order_relaxed);
  seen.target_generation = std::atomic_ref(slot.intent.target_generation).load(std::memory_order_relaxed);
  seen.item_offset = std::atomic_ref(slot.intent.item_offset).load(std::memory_order_relaxed);
  seen.item_generation = std::atomic_ref(slot.intent.item_generation).load(std::memory_order_relaxed);
  return seen;
}

bool names(const Intent& intent, std::uint64_t target) {
  return intent.op != 0 && (target == 0 || intent.target_offset == target);
}

}  // namespace

std::vector<DeadIntent> wait_for_quiescence_locked(Arena& arena, std::uint64_t target) {
  layout::ArenaHeader* header = ArenaInternals::header(arena);
  const auto timeout = ArenaInternals::lock_timeout(arena);
  std::vector<DeadIntent> dead;
  for (std::uint32_t i = 0; i < layout::kMaxHolders; ++i) {
    HolderSlot& slot = header->holders[i];
    // The slot's state and identity are written under the lock we hold.
    if (slot.state != kActive || !names(load_intent(slot), target)) continue;
    const auto started = std::chrono::steady_clock::now();
    bool looked_up = false;
    for (std::uint32_t polls = 0;; ++polls) {
      const Intent now = load_intent(slot);
      if (!names(now, target)) break;
      const auto waited = std::chrono::steady_clock::now() - started;
      if (!looked_up && waited > kStaleIntent) {
        // Set for longer than any operation takes: is its process alive?
        looked_up = true;
        if (!is_alive({slot.pid, slot.start_time})) {
          dead.push_back({i, now});
          break;
        }
      }
      if (waited > timeout) {
        throw LockTimeout("arena '" + arena.name() + "': holder " + std::to_string(i) + " of live process " +
                          std::to_string(slot.pid) + " has been halfway through a lock-free operation for more "
                          "than " + std::to_string(timeout.count()) + " ms (stopped or stuck?)");
      }
      // Short, then yielding: a preempted owner thread needs the CPU.
      if (polls < 64) {
        spin::relax();
      } else if (polls < 1024) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        if (looked_up && polls % 1024 == 0 && !is_alive({slot.pid, slot.start_time})) {
          dead.push_back({i, load_intent(slot)});
          break;
        }
      }
    }
  }
  return dead;
}

LockFreeGate::LockFreeGate(Arena& arena) : arena_(arena) {
  layout::ArenaHeader* header = ArenaInternals::header(arena);
  std::atomic_ref(header->lf_gate).store(static_cast<std::uint32_t>(cached_pid()), std::memory_order_seq_cst);
  try {
    dead_ = wait_for_quiescence_locked(arena);
  } catch (...) {
    std::atomic_ref(header->lf_gate).store(0, std::memory_order_seq_cst);
    throw;
  }
}

LockFreeGate::~LockFreeGate() {
  std::atomic_ref(ArenaInternals::header(arena_)->lf_gate).store(0, std::memory_order_seq_cst);
}

}  // namespace shoal
